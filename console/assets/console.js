// The console works without this script; it only keeps the live part of
// the page fresh. Every data-refresh seconds it fetches the page again and
// swaps in its <main id="live">, unless the tab is hidden or the operator is
// typing (a search, or the admin token, which must not be wiped).
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-refresh") || "0", 10);
  var url = body.getAttribute("data-refresh-url");
  if (!every || !url || !window.fetch || !window.DOMParser) {
    return;
  }
  function busy() {
    var a = document.activeElement;
    if (a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)) {
      return true;
    }
    var token = document.getElementById("token");
    return !!(token && token.value);
  }
  function refresh() {
    if (document.hidden || busy()) {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || busy()) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        var live = document.getElementById("live");
        if (fresh && live) {
          live.replaceWith(fresh);
          if (doc.title) {
            document.title = doc.title;
          }
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, every * 1000);
})();
