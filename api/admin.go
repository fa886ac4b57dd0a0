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
// logged or echoed.
func bearer(token string) func(http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="depeg-relay admin"`)
				writeJSON(w, http.StatusUnauthorized, errorBody{Error: "admin token required"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
