package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
)

// TestConsoleMountedAndLimited: the console's page is served under
// /console as is, while its search and replay share the per-client limit
// of the application routes, so an admin token cannot be guessed at speed.
func TestConsoleMountedAndLimited(t *testing.T) {
	var seen []string
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusOK)
	})
	intake := &api.IntakeConfig{RateLimit: 2, RateWindow: time.Hour}
	h := api.NewRouter(api.Config{Health: stubHealth{}, Log: zerolog.Nop(), Intake: intake, Console: page})
	do := func(method, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader("token=x")))
		return rec.Code
	}
	for range 5 {
		if code := do(http.MethodGet, "/console"); code != http.StatusOK {
			t.Fatalf("GET /console: %d", code)
		}
	}
	for i, want := range []int{200, 200, 429} {
		if code := do(http.MethodPost, "/console/deadletters/1-1/replay"); code != want {
			t.Fatalf("replay %d: %d, want %d", i+1, code, want)
		}
	}
	if code := do(http.MethodGet, "/console/search?q=x"); code != http.StatusTooManyRequests {
		t.Fatalf("search after the limit: %d", code)
	}
	if code := do(http.MethodGet, "/console/assets/console.css"); code != http.StatusOK {
		t.Fatalf("asset: %d", code)
	}
	if seen[0] != "GET /console" {
		t.Fatalf("console saw %v", seen)
	}
	// Without the console, nothing answers there.
	bare := api.NewRouter(api.Config{Health: stubHealth{}, Log: zerolog.Nop()})
	rec := httptest.NewRecorder()
	bare.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /console without a console: %d", rec.Code)
	}
}
