// Package frontdoor is the processor's HTTP server bound before anything
// else starts, so that /api/monitor answers from the first second
// (docs/design.md, "Start"): while the process waits for Redis and the node
// it serves the startup monitor (monitor.Startup), which says what is
// missing and since when, and /metrics; every other route answers 503 with
// Retry-After. Once the service is built, Serve switches it to the full
// router.
package frontdoor

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/monitor"
)

// Door is the server and what it serves while the process starts. The
// registry is made here so /metrics is served from the start too; the
// service registers its metrics in it.
type Door struct {
	Reg     *prometheus.Registry
	Boot    *monitor.Startup
	Server  *api.Server
	handler switchHandler
}

// New builds the door on PORT (and METRICS_PORT), serving the startup
// monitor; Server.Start binds it.
func New(cfg config.Config, log zerolog.Logger) *Door {
	d := &Door{Reg: prometheus.NewRegistry(), Boot: monitor.NewStartup(cfg.ListenerLoopMaxTimeout, nil)}
	d.Reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.handler.set(starting(api.NewRouter(api.Config{Health: d.Boot, Gatherer: d.Reg, Log: log})))
	d.Server = api.NewHTTPServers(&d.handler, api.Listen{Addr: ":" + strconv.Itoa(cfg.Port), MetricsAddr: cfg.MetricsAddr(),
		MetricsToken: cfg.MetricsToken.Reveal(), Proxies: cfg.IntakeTrustedProxies, Limits: api.DefaultLimits()})
	return d
}

// Serve switches the door to h; requests under way finish on the handler
// they started with.
func (d *Door) Serve(h http.Handler) { d.handler.set(h) }

// Part is the door's server as a part of the service's lifecycle group: it
// was bound before the service was built, so Start has nothing to do, and
// Close stops it in the group's order.
func (d *Door) Part() lifecycle.Part {
	return boundServer{d.Server}
}

// starting serves the monitor routes, /metrics and the OpenAPI description
// through h while the process starts, and answers every other route 503
// with Retry-After: a client of the intake or the console learns to come
// back, not that the route does not exist.
func starting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/api/monitor", strings.HasPrefix(p, "/api/monitor/"), p == "/metrics", p == "/api/openapi.json":
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "5")
			http.Error(w, "starting: waiting for redis and the chain", http.StatusServiceUnavailable)
		}
	})
}

// switchHandler serves whichever handler was set last; requests under way
// finish on the one they started with.
type switchHandler struct{ h atomic.Pointer[http.Handler] }

func (s *switchHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// boundServer is a bound server as a lifecycle part: Start has nothing to
// do, Close stops it.
type boundServer struct{ *api.Server }

func (boundServer) Start(context.Context) error { return nil }
