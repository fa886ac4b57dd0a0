package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
)

// TestCORSOrigins goes through the real router: an empty list of origins
// allows no cross-origin access (go-chi/cors alone reads it as "*"), a
// listed origin is allowed on the preflight and on the answer itself,
// whatever its case, and "*" in the list is not a wildcard.
func TestCORSOrigins(t *testing.T) {
	const app, evil = "https://app.example", "https://evil.example"
	for _, tc := range []struct {
		name    string
		origins []string
		origin  string
		want    string // Access-Control-Allow-Origin
	}{
		{"nil list", nil, evil, ""},
		{"empty list", []string{}, app, ""},
		{"listed", []string{app}, app, app},
		{"listed, other case", []string{app}, "https://APP.example", "https://APP.example"},
		{"not listed", []string{app}, evil, ""},
		{"star is no wildcard", []string{"*"}, evil, ""},
		{"null origin", []string{app}, "null", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The requests below are answered before the intake service
			// is asked (a preflight; a listing with a bad address), so
			// none is needed.
			h := api.NewRouter(api.Config{Health: stubHealth{}, Log: zerolog.Nop(),
				Intake: &api.IntakeConfig{AllowedOrigins: tc.origins}})
			for _, req := range []*http.Request{
				preflight(tc.origin, "/api/application", http.MethodPost),
				preflight(tc.origin, "/api/application/01J0000000000000000000000", http.MethodGet),
				withOrigin(httptest.NewRequest(http.MethodGet, "/api/application?address=0x12", nil), tc.origin),
			} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.want {
					t.Errorf("%s %s from %s: Access-Control-Allow-Origin %q, want %q", req.Method, req.URL, tc.origin, got, tc.want)
				}
				if tc.want == "" && (rec.Header().Get("Access-Control-Allow-Methods") != "" || rec.Header().Get("Access-Control-Allow-Headers") != "") {
					t.Errorf("%s %s from %s: CORS headers %v on a refused origin", req.Method, req.URL, tc.origin, rec.Header())
				}
			}
		})
	}
}

func preflight(origin, path, method string) *http.Request {
	r := withOrigin(httptest.NewRequest(http.MethodOptions, path, nil), origin)
	r.Header.Set("Access-Control-Request-Method", method)
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	return r
}

func withOrigin(r *http.Request, origin string) *http.Request {
	r.Header.Set("Origin", origin)
	return r
}
