package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// bearer lets a request through only with "Authorization: Bearer <token>".
// Both sides are hashed before the constant-time comparison, so neither
// the token's bytes nor its length leak through timing. The token is never
// logged or echoed. what names the token in the refusal ("admin token
// required") and its realm.
func bearer(token, what string) func(http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	realm := `Bearer realm="depeg-relay ` + what + `"`
	refusal := errorBody{Error: what + " token required"}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", realm)
				writeJSON(w, http.StatusUnauthorized, refusal)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
