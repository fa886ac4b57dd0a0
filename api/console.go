package api

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// ConsolePath is where the operator's page is served (console.Path).
const ConsolePath = "/console"

// mountConsole serves the console under ConsolePath. Its search and its
// replay form cost more than a page view (several Redis round trips and
// node calls; a guess at the admin token), so they go through the same
// per-client limiter as the application and admin routes, with a limiter of
// their own. Page views and assets do not: the page's script reloads them.
func mountConsole(r chi.Router, h http.Handler, intake *IntakeConfig) {
	limited := h
	if intake != nil {
		clientIP := middleware.ClientIPFromRemoteAddr
		if len(intake.TrustedProxies) > 0 {
			clientIP = middleware.ClientIPFromXFF(intake.TrustedProxies...)
		}
		limited = clientIP(rateLimit(*intake)(h))
	}
	r.Mount(ConsolePath, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost || strings.HasPrefix(req.URL.Path, ConsolePath+"/search") {
			limited.ServeHTTP(w, req)
			return
		}
		h.ServeHTTP(w, req)
	}))
}
