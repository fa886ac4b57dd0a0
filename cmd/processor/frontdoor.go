package main

import (
	"context"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/monitor"
)

// frontDoor is the HTTP server bound before anything else starts, so that
// /api/monitor answers from the first second (docs/design.md, "Start"):
// while the process waits for Redis and the node it serves the startup
// monitor (monitor.Startup), which says what is missing and since when;
// once the service is built, newService switches it to the full router.
// The registry is made here so /metrics is served from the start too.
type frontDoor struct {
	reg     *prometheus.Registry
	boot    *monitor.Startup
	handler switchHandler
	server  *api.Server
}

func newFrontDoor(cfg config.Config, log zerolog.Logger) *frontDoor {
	f := &frontDoor{reg: prometheus.NewRegistry(), boot: monitor.NewStartup(cfg.ListenerLoopMaxTimeout, nil)}
	f.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f.handler.set(starting(api.NewRouter(api.Config{Health: f.boot, Gatherer: f.reg, Log: log})))
	f.server = api.NewHTTPServers(&f.handler, api.Listen{Addr: ":" + strconv.Itoa(cfg.Port), MetricsAddr: cfg.MetricsAddr(),
		MetricsToken: cfg.MetricsToken.Reveal(), Proxies: cfg.IntakeTrustedProxies, Limits: api.DefaultLimits()})
	return f
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

// boundServer is the front door's server as a part of Run's group: it was
// bound before the service was built, so Start has nothing to do, and Close
// stops it in the group's order (after the relays).
type boundServer struct{ *api.Server }

func (boundServer) Start(context.Context) error { return nil }

// waitReady tries Redis and the node every backoff until both answered
// once (a PING, the chain id), telling boot each outcome, and returns the
// chain id; false when ctx ended first. A processor started before its
// Redis or its node waits here, answering the monitor, instead of
// crash-looping.
func waitReady(ctx context.Context, cfg config.Config, log zerolog.Logger, boot *monitor.Startup,
	rdb redis.UniversalClient, client *chain.Client) (*big.Int, bool) {
	var chainID *big.Int
	redisOK := false
	for {
		if !redisOK {
			c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
			err := rdb.Ping(c).Err()
			cancel()
			if ctx.Err() != nil {
				return nil, false
			}
			boot.Set(monitor.PartRedis, err)
			if redisOK = err == nil; !redisOK {
				log.Warn().Err(err).Dur("retry_in", cfg.ErrorTimeout).Msg("redis does not answer, retrying")
			}
		}
		if chainID == nil {
			c, cancel := context.WithTimeout(ctx, cfg.RPCTimeout)
			id, err := client.ChainID(c)
			cancel()
			if ctx.Err() != nil {
				return nil, false
			}
			boot.Set(monitor.PartChain, err)
			if err != nil {
				log.Warn().Err(err).Dur("retry_in", cfg.ErrorTimeout).Msg("read chain id failed, retrying")
			} else {
				chainID = id
			}
		}
		if redisOK && chainID != nil {
			return chainID, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(cfg.ErrorTimeout):
		}
	}
}
