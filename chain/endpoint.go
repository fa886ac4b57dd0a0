package chain

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/rpc"
)

// endpoint is a parsed CHAIN_RPC_URL. Providers put the API key in the path
// (https://mainnet.infura.io/v3/<key>), in the query (?apikey=<key>) or in
// the userinfo (https://user:pass@host), and net/http and go-ethereum put
// the URL they were given into their errors. Only origin, scheme://host[:port],
// may be shown anywhere.
//
// Over http(s) the secret parts never reach an error in the first place: the
// rpc client is dialled to origin+"/" and only endpointTransport, below
// net/http's Client, puts the real path, query and credentials back. So
// net/http's url.Error and go-ethereum's errors can only name the origin, and
// the transport under it names only host:port. What the provider itself
// sends back is the one remaining way for a secret into an error: a 401 or
// 429 body that echoes the key (rpc.HTTPError carries the body), or a
// JSON-RPC error message that does. endpointTransport scrubs both with
// redact, and never follows redirects.
//
// Over ws(s) gorilla/websocket uses the URL only for the handshake request,
// and its errors (and go-ethereum's wsHandshakeError) name host:port and the
// HTTP status only, so there is nothing to strip; Dial still scrubs its error
// with redact as a second line. The node's messages are scrubbed under
// go-ethereum, as over http(s): scrubbingConn (wsdial.go) redacts the
// JSON-RPC error objects of every message before the rpc client reads it.
type endpoint struct {
	raw    string
	url    *url.URL
	origin string
	// redactor replaces every secret form (see newRedactor); nil when the
	// URL has no secret parts.
	redactor *strings.Replacer
	// guards are secret forms none of which contains another: a text holds
	// a secret form only if it holds a guard, so a response body is scanned
	// for these alone before it is scrubbed.
	guards [][]byte
	// hc is the http.Client dial gave the rpc client (nil over ws(s)):
	// lookupHTTP posts through it, so its requests get the same URL
	// restoring and scrubbing.
	hc *http.Client
}

// minSecretPiece is the shortest path segment, query value, user name or
// password that redact looks for on its own. Shorter pieces ("v3", "rpc")
// cannot be told from ordinary words, and replacing them would mangle the
// node's messages that ClassifySendError reads; they still never reach an
// error through our own stack, and they are hidden wherever the whole URL,
// path or query appears. API keys are far longer.
const minSecretPiece = 6

// maxErrorBody bounds how much of a non-2xx response body is kept for the
// rpc.HTTPError built from it: enough for a provider's explanation, not a
// whole HTML page.
const maxErrorBody = 64 << 10

// parseEndpoint parses CHAIN_RPC_URL. Its errors never quote the URL.
func parseEndpoint(raw string) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("CHAIN_RPC_URL is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss":
		return nil, errors.New("CHAIN_RPC_URL scheme is not one of http, https, ws, wss")
	case u.Host == "":
		return nil, errors.New("CHAIN_RPC_URL has no host")
	}
	e := &endpoint{raw: raw, url: u, origin: u.Scheme + "://" + u.Host}
	e.redactor, e.guards = newRedactor(raw, u, e.origin)
	return e, nil
}

// newRedactor lists the forms in which the secret parts of u may be written:
// the whole URL (replaced by origin), and the path, query, userinfo and their
// pieces (replaced by "***"), raw and decoded. Longer forms come first, so a
// whole URL is replaced as one before its pieces are looked at.
func newRedactor(raw string, u *url.URL, origin string) (*strings.Replacer, [][]byte) {
	if u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		return nil, nil // nothing to hide, nothing to scan bodies for
	}
	noUser := *u
	noUser.User = nil
	whole := []string{raw, u.String(), noUser.String()}
	var parts []string
	if p := u.EscapedPath(); p != "" && p != "/" {
		parts = append(parts, p, u.Path, u.RequestURI())
	}
	if u.RawQuery != "" {
		parts = append(parts, u.RawQuery, "?"+u.RawQuery)
	}
	var pieces []string
	for seg := range strings.SplitSeq(u.EscapedPath(), "/") {
		dec, _ := url.PathUnescape(seg)
		pieces = append(pieces, seg, dec)
	}
	for kv := range strings.SplitSeq(u.RawQuery, "&") {
		_, v, _ := strings.Cut(kv, "=")
		dec, _ := url.QueryUnescape(v)
		pieces = append(pieces, v, dec)
	}
	if u.User != nil {
		name := u.User.Username()
		pass, _ := u.User.Password()
		parts = append(parts, u.User.String(), name+":"+pass,
			base64.StdEncoding.EncodeToString([]byte(name+":"+pass)))
		pieces = append(pieces, name, pass, url.PathEscape(name), url.PathEscape(pass),
			url.QueryEscape(name), url.QueryEscape(pass))
	}
	for _, p := range pieces {
		if len(p) >= minSecretPiece {
			parts = append(parts, p)
		}
	}

	replace := map[string]string{}
	for _, w := range whole {
		replace[w] = origin
	}
	for _, p := range parts {
		if _, ok := replace[p]; !ok {
			replace[p] = "***"
		}
	}
	var olds []string
	for old := range replace {
		// What the origin shows anyway is no secret, and replacing it
		// would hide the host.
		if old != "" && !strings.Contains(origin, old) {
			olds = append(olds, old)
		}
	}
	if len(olds) == 0 {
		return nil, nil
	}
	slices.SortFunc(olds, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(olds))
	var guards [][]byte
	for i, old := range olds {
		pairs = append(pairs, old, replace[old])
		if !slices.ContainsFunc(olds[i+1:], func(shorter string) bool { return strings.Contains(old, shorter) }) {
			guards = append(guards, []byte(old))
		}
	}
	return strings.NewReplacer(pairs...), guards
}

// redact is the one function that hides the URL's secrets in a text: the
// whole URL becomes origin, its path, query, userinfo and their pieces "***".
func (e *endpoint) redact(s string) string {
	if e.redactor == nil {
		return s
	}
	return e.redactor.Replace(s)
}

// mentions reports whether b holds any secret form.
func (e *endpoint) mentions(b []byte) bool {
	return slices.ContainsFunc(e.guards, func(g []byte) bool { return bytes.Contains(b, g) })
}

// scrubError returns err itself when its text holds no secret, so that
// errors.As (url.Error, net.Error, rpc.Error) keeps working, and otherwise an
// error with the redacted text. That error keeps nothing of the original
// (so %#v cannot show it) except whether it was a context cancellation or
// deadline, which errors.Is still answers.
func (e *endpoint) scrubError(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	r := e.redact(s)
	if r == s {
		return err
	}
	re := &redactedError{msg: r}
	for _, c := range []error{context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, c) {
			re.cause = c
		}
	}
	return re
}

type redactedError struct {
	msg   string
	cause error // context.DeadlineExceeded, context.Canceled or nil
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error { return e.cause }

// dial builds the rpc client. It does not reach the node, over any scheme:
// the first call does (dialWS for ws(s)). See endpoint for why http(s) is
// dialled to the bare origin.
func (e *endpoint) dial(ctx context.Context) (*rpc.Client, error) {
	if e.url.Scheme == "ws" || e.url.Scheme == "wss" {
		return dialWS(ctx, e)
	}
	hc := &http.Client{
		Transport: &endpointTransport{ep: e, next: http.DefaultTransport},
		// A JSON-RPC endpoint has no business redirecting: following a
		// Location would put whatever URL it names (perhaps with the key)
		// into net/http's errors and send the credentials on. The 3xx is
		// handed to rpc, which reports it as an HTTPError.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	e.hc = hc
	return rpc.DialOptions(ctx, e.origin+"/", rpc.WithHTTPClient(hc))
}

// endpointTransport sends the requests that the rpc client addresses to the
// bare origin to the real URL: it clones each request and restores the path,
// query and basic auth (as net/http's Client would have set it from the
// userinfo). net/http's Client never sees the real URL, so its errors cannot
// name it. The response's Request is set back to the request as the Client
// made it, since the Client builds url.Errors from resp.Request.URL once it
// has a response (today only on redirects, which are refused).
type endpointTransport struct {
	ep   *endpoint
	next http.RoundTripper
}

func (t *endpointTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != t.ep.url.Scheme || req.URL.Host != t.ep.url.Host {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("chain rpc transport: refusing a request to %s://%s, not %s", req.URL.Scheme, req.URL.Host, t.ep.origin)
	}
	out := req.Clone(req.Context())
	target := *t.ep.url
	target.User = nil
	out.URL = &target
	if u := t.ep.url.User; u != nil && out.Header.Get("Authorization") == "" {
		pass, _ := u.Password()
		out.SetBasicAuth(u.Username(), pass)
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		return nil, t.ep.scrubError(err)
	}
	resp.Request = req
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// rpc puts status and body into its HTTPError.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Status = t.ep.redact(resp.Status)
		setBody(resp, []byte(t.ep.redact(string(body))))
		return resp, nil
	}
	if t.ep.guards == nil {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, t.ep.scrubError(err)
	}
	if t.ep.mentions(body) {
		body = t.ep.scrubRPCErrors(body)
	}
	setBody(resp, body)
	return resp, nil
}

func setBody(resp *http.Response, body []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
}

// scrubRPCErrors redacts the error objects of a JSON-RPC response (one
// message or a batch), which rpc turns into the errors of calls and batch
// elements. Results are left as they are: a secret in a result is no error,
// and a result must not be altered. A body that is not JSON-RPC is returned
// unchanged; rpc's decoding error for it does not quote the body.
func (e *endpoint) scrubRPCErrors(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if !bytes.HasPrefix(trimmed, []byte("[")) {
		return e.scrubRPCMessage(body)
	}
	var msgs []json.RawMessage
	if json.Unmarshal(trimmed, &msgs) != nil {
		return body
	}
	for i := range msgs {
		msgs[i] = e.scrubRPCMessage(msgs[i])
	}
	out, err := json.Marshal(msgs)
	if err != nil {
		return body
	}
	return out
}

func (e *endpoint) scrubRPCMessage(msg []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil || m["error"] == nil || !e.mentions(m["error"]) {
		return msg
	}
	var rpcErr struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data,omitempty"`
	}
	if json.Unmarshal(m["error"], &rpcErr) != nil {
		return msg
	}
	rpcErr.Message = e.redact(rpcErr.Message)
	var data string
	if json.Unmarshal(rpcErr.Data, &data) == nil {
		rpcErr.Data, _ = json.Marshal(e.redact(data))
	} else if e.mentions(rpcErr.Data) {
		rpcErr.Data = nil // structured data: no safe way to edit it
	}
	var err error
	if m["error"], err = json.Marshal(rpcErr); err != nil {
		return msg
	}
	out, err := json.Marshal(m)
	if err != nil {
		return msg
	}
	return out
}
