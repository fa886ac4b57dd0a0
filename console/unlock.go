package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Unlocking the dead letters. They name policy holders and the reasons
// their applications were refused, which the admin routes show only with
// ADMIN_TOKEN, so the page does too. The token is typed once into a form
// (POST, rate-limited per client by the api package like the replay form)
// and the browser keeps a cookie instead of the token: the issue time and
// an HMAC of it keyed by the token. The cookie is not the token, is only
// good for this page, expires after unlockTTL, and stops working when
// ADMIN_TOKEN changes; the server keeps no state for it.

// unlockCookie is the cookie's name; unlockTTL its lifetime.
const (
	unlockCookie = "depeg_console_unlock"
	unlockTTL    = 12 * time.Hour
)

// unlockValue is the cookie value for an unlock at issued.
func (c *Console) unlockValue(issued time.Time) string {
	ts := strconv.FormatInt(issued.Unix(), 10)
	return ts + "." + c.unlockMAC(ts)
}

func (c *Console) unlockMAC(ts string) string {
	m := hmac.New(sha256.New, []byte(c.cfg.AdminToken))
	m.Write([]byte("depeg-relay console unlock " + ts))
	return hex.EncodeToString(m.Sum(nil))
}

// unlocked tells whether the request carries a valid, unexpired unlock
// cookie. Without ADMIN_TOKEN nothing unlocks.
func (c *Console) unlocked(r *http.Request) bool {
	if c.cfg.AdminToken == "" || c.cfg.DeadLetters == nil {
		return false
	}
	ck, err := r.Cookie(unlockCookie)
	if err != nil {
		return false
	}
	ts, mac, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(mac), []byte(c.unlockMAC(ts))) != 1 {
		return false
	}
	age := c.cfg.Now().Sub(time.Unix(sec, 0))
	return age >= -time.Minute && age <= unlockTTL
}

// setUnlock writes the cookie; maxAge < 0 deletes it. It is Secure when the
// request came over TLS (directly or, as on Dokku, through a proxy that
// says so), HttpOnly (no script reads it) and SameSite=Lax (no other site
// can post a form with it).
func setUnlock(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: unlockCookie, Value: value, Path: Path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	})
}

// unlock checks the form's token and, when it is ADMIN_TOKEN, sets the
// cookie and redirects to the dead letters (303, so a reload posts
// nothing). Refusals render the page with the reason and a 4xx status.
func (c *Console) unlock(w http.ResponseWriter, r *http.Request) {
	if c.cfg.AdminToken == "" || c.cfg.DeadLetters == nil {
		c.render(w, r, http.StatusForbidden, &notice{Text: "Dead letters are switched off here: ADMIN_TOKEN is not set."}, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	got := sha256.Sum256([]byte(r.PostFormValue("token")))
	if subtle.ConstantTimeCompare(got[:], c.token[:]) != 1 {
		c.render(w, r, http.StatusUnauthorized, &notice{Text: "The admin token is missing or wrong: the dead letters stay hidden."}, "")
		return
	}
	setUnlock(w, r, c.unlockValue(c.cfg.Now()), int(unlockTTL/time.Second))
	http.Redirect(w, r, Path+"#deadletters", http.StatusSeeOther)
}

// lock deletes the cookie.
func (c *Console) lock(w http.ResponseWriter, r *http.Request) {
	setUnlock(w, r, "", -1)
	http.Redirect(w, r, Path, http.StatusSeeOther)
}
