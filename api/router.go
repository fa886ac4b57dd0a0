// Package api serves the monitor contract (docs/design.md, "The fixed contracts"), the
// Prometheus metrics, the intake gateway's application routes, the
// operator's dead-letter routes and the OpenAPI description of them all
// over HTTP.
package api

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/monitor"
)

// HealthChecker computes the monitor reports. *monitor.Checker satisfies it.
// Implementations must honour ctx: the request timeout reaches them through
// it.
type HealthChecker interface {
	Check(ctx context.Context) monitor.Report
	Liveness(ctx context.Context) monitor.Report
	Readiness(ctx context.Context) monitor.Report
}

// DefaultRequestTimeout bounds every request. It is well above the monitor's
// own check timeout, so it only matters if a handler misbehaves.
const DefaultRequestTimeout = 10 * time.Second

// Config holds what the router serves.
type Config struct {
	// Health answers the /api/monitor routes. Required.
	Health HealthChecker
	// Gatherer is served at /metrics; nil leaves /metrics out. Pass the
	// registry the monitor.Metrics were registered on.
	Gatherer prometheus.Gatherer
	// Log receives the access log (debug level) and handler panics.
	Log zerolog.Logger
	// RequestTimeout defaults to DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Intake serves /api/application and /api/admin; nil leaves them out.
	Intake *IntakeConfig
	// Console is the operator's page (console.Console.Handler), served
	// under /console; nil leaves it out.
	Console http.Handler
}

// NewRouter returns the HTTP handler of the processor:
//
//	GET /api/monitor            all checks; 200 when healthy, else 500
//	GET /api/monitor/liveness   processor and nonAckPendingTx
//	GET /api/monitor/readiness  balance
//	GET /metrics                Prometheus exposition
//	GET /api/openapi.json       the OpenAPI 3 description of every route
//
// and, with Config.Intake (see mountIntake and openapi.json):
//
//	POST /api/application                      take an application
//	GET  /api/application?address=0x...        a policy holder's pending applications
//	GET  /api/application/{entityId}           one application's status
//	GET  /api/admin/deadletters                dead letters, newest first (admin token)
//	GET  /api/admin/deadletters/{id}           one dead letter (admin token)
//	POST /api/admin/deadletters/{id}/replay    re-queue one, once (admin token)
//
// and, with Config.Console, the operator's page under /console (see
// mountConsole).
//
// HEAD is answered like GET, for uptime checkers that only look at the
// status.
func NewRouter(cfg Config) http.Handler {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	r := chi.NewRouter()
	// The recoverer is outermost: inside the access log's response wrapper,
	// which marks the header written before it passes it on, a handler that
	// panicked in WriteHeader got a 200 with no body instead of the 500.
	r.Use(recoverer(cfg.Log), accessLog(cfg.Log), requestTimeout(cfg.RequestTimeout), middleware.GetHead)
	r.Get("/api/monitor", reportHandler(cfg.Health.Check))
	r.Get("/api/monitor/liveness", reportHandler(cfg.Health.Liveness))
	r.Get("/api/monitor/readiness", reportHandler(cfg.Health.Readiness))
	if cfg.Gatherer != nil {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
			// Keep serving what can be gathered when one collector fails.
			ErrorHandling: promhttp.ContinueOnError,
			// Scrapes read Redis; more than a few at once is a misbehaving
			// client. Who may take these slots is the server's to decide
			// (Listen.MetricsAddr, Listen.MetricsToken).
			MaxRequestsInFlight: 4,
			Timeout:             cfg.RequestTimeout,
		}))
	}
	r.Get("/api/openapi.json", serveOpenAPI)
	if cfg.Intake != nil {
		mountIntake(r, *cfg.Intake, cfg.Log)
	}
	if cfg.Console != nil {
		mountConsole(r, cfg.Console, cfg.Intake)
	}
	return r
}

// reportHandler answers with the report as JSON: 200 when healthy, 500
// otherwise, as the uptime checker expects.
func reportHandler(check func(context.Context) monitor.Report) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep := check(r.Context())
		body, err := json.Marshal(rep)
		if err != nil {
			http.Error(w, `{"error":"encode report"}`, http.StatusInternalServerError)
			return
		}
		status := http.StatusOK
		if !rep.Healthy() {
			status = http.StatusInternalServerError
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		// A cached "ok" would hide an outage.
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(append(body, '\n'))
	}
}

// requestTimeout puts a deadline on the request context. Unlike chi's
// middleware.Timeout it writes nothing itself: the handlers here turn an
// expired context into an error report, which is the answer the uptime
// checker should see.
func requestTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// recoverer turns a handler panic into a 500 and an error log, so one bad
// request does not take the monitor down. http.ErrAbortHandler is re-raised:
// net/http uses it to abort a response on purpose.
func recoverer(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler { // a sentinel panic value, compared as net/http does
					panic(rec)
				}
				log.Error().Interface("panic", rec).Str("path", r.URL.Path).
					Bytes("stack", debug.Stack()).Msg("http handler panicked")
				w.WriteHeader(http.StatusInternalServerError)
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// accessLog logs each request at debug level: production runs at info, so
// the uptime checker's polling does not flood the logs there.
func accessLog(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if log.GetLevel() > zerolog.DebugLevel || zerolog.GlobalLevel() > zerolog.DebugLevel {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK
				}
				log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
					Int("bytes", ww.BytesWritten()).Dur("duration", time.Since(start)).Msg("http request")
			}()
			next.ServeHTTP(ww, r)
		})
	}
}
