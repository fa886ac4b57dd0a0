package api_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/lifecycle"
)

// The server is a lifecycle part that can end on its own.
var (
	_ lifecycle.Part  = (*api.Server)(nil)
	_ lifecycle.Doner = (*api.Server)(nil)
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
}

func get(t *testing.T, addr string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func TestServerStartOnTakenPort(t *testing.T) {
	taken, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := api.NewHTTPServer(taken.Addr().String(), okHandler(), api.DefaultLimits())
	err = s.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "listen on "+taken.Addr().String()) {
		t.Fatalf("Start on a taken port = %v, want a listen error", err)
	}
	if s.Addr() != nil {
		t.Errorf("Addr after a failed Start = %v, want nil", s.Addr())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after a failed Start = %v", err)
	}
}

func TestServerStartServeClose(t *testing.T) {
	s := api.NewHTTPServer("127.0.0.1:0", okHandler(), api.DefaultLimits())
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.Handler() == nil {
		t.Error("Handler is nil")
	}
	addr := s.Addr().String()
	// Bound when Start returned: the first request needs no retry.
	if body, err := get(t, addr); err != nil || body != "ok" {
		t.Fatalf("GET between Start and Close = %q, %v", body, err)
	}
	select {
	case <-s.Done():
		t.Fatal("Done closed while serving")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after Close returned")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	// The port is free once Close returned.
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("port still taken after Close: %v", err)
	}
	_ = ln.Close()
	if err := s.Start(t.Context()); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestServerCloseNeverStarted(t *testing.T) {
	s := api.NewHTTPServer("127.0.0.1:0", okHandler(), api.DefaultLimits())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err == nil {
		t.Error("Start after Close succeeded")
	}
}

// TestServerInGroup: a server that cannot bind rolls back the parts started
// before it, and Start's error names it.
func TestServerInGroup(t *testing.T) {
	taken, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	first := api.NewHTTPServer("127.0.0.1:0", okHandler(), api.DefaultLimits())
	g := lifecycle.NewGroup(
		lifecycle.Named{Name: "first server", Part: first},
		lifecycle.Named{Name: "http server", Part: api.NewHTTPServer(taken.Addr().String(), okHandler(), api.DefaultLimits())},
	)
	err = g.Start(t.Context())
	if err == nil || !strings.HasPrefix(err.Error(), "start http server: listen on ") {
		t.Fatalf("Start = %v, want the second server's bind error", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("Start error %v does not hold the *net.OpError", err)
	}
	select {
	case <-first.Done():
	default:
		t.Error("the first server was not closed by the rollback")
	}
	if _, err := get(t, first.Addr().String()); err == nil {
		t.Errorf("the first server still answers after the rollback (%v)", err)
	}
}

// TestServerMetricsListener: with Listen.MetricsAddr, Start binds both
// addresses, /metrics is served on its own and not on the public one, and
// Close frees both. A metrics address that cannot be bound fails Start and
// leaves the public port free.
func TestServerMetricsListener(t *testing.T) {
	h := api.NewRouter(api.Config{Health: stubHealth{}, Gatherer: prometheus.NewRegistry(), Log: zerolog.Nop()})
	s := api.NewHTTPServers(h, api.Listen{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Limits: api.DefaultLimits()})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	public, metrics := s.Addr().String(), s.MetricsAddr().String()
	for url, want := range map[string]int{
		"http://" + metrics + "/metrics":     http.StatusOK,
		"http://" + public + "/metrics":      http.StatusNotFound,
		"http://" + public + "/%6Detrics":    http.StatusNotFound,
		"http://" + public + "/api/monitor":  http.StatusOK,
		"http://" + metrics + "/api/monitor": http.StatusNotFound,
	} {
		if got := status(t, http.MethodGet, url, ""); got != want {
			t.Errorf("GET %s: %d, want %d", url, got, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{public, metrics} {
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", addr)
		if err != nil {
			t.Fatalf("%s still taken after Close: %v", addr, err)
		}
		_ = ln.Close()
	}

	taken, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s = api.NewHTTPServers(h, api.Listen{Addr: public, MetricsAddr: taken.Addr().String(), Limits: api.DefaultLimits()})
	if err := s.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "listen on "+taken.Addr().String()) {
		t.Fatalf("Start with the metrics port taken = %v, want a listen error", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", public)
	if err != nil {
		t.Fatalf("public port held after a failed Start: %v", err)
	}
	_ = ln.Close()
}

// status is the status code of a request without a body; header is "Name:
// value" or "".
func status(t *testing.T, method, url, header string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if name, value, ok := strings.Cut(header, ":"); ok {
		req.Header.Set(name, strings.TrimSpace(value))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestServerMetricsToken: with Listen.MetricsToken on the public port,
// /metrics needs the token, however it is asked for, and nothing else does.
func TestServerMetricsToken(t *testing.T) {
	const token = "metrics-0123456789abcdefghijklmnopqrstuv"
	h := api.NewRouter(api.Config{Health: stubHealth{}, Gatherer: prometheus.NewRegistry(), Log: zerolog.Nop()})
	s := api.NewHTTPServers(h, api.Listen{Addr: "127.0.0.1:0", MetricsToken: token, Limits: api.DefaultLimits()})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	base := "http://" + s.Addr().String()
	for _, tc := range []struct {
		method, path, header string
		want                 int
	}{
		{http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{http.MethodHead, "/metrics", "", http.StatusUnauthorized},
		{http.MethodGet, "/%6Detrics", "", http.StatusUnauthorized},
		{http.MethodGet, "/metrics", "Authorization: Bearer wrong", http.StatusUnauthorized},
		{http.MethodGet, "/metrics", "Authorization: " + token, http.StatusUnauthorized},
		{http.MethodGet, "/metrics", "Authorization: Bearer " + token, http.StatusOK},
		{http.MethodHead, "/metrics", "Authorization: Bearer " + token, http.StatusOK},
		{http.MethodGet, "/api/monitor", "", http.StatusOK},
	} {
		if got := status(t, tc.method, base+tc.path, tc.header); got != tc.want {
			t.Errorf("%s %s (%q): %d, want %d", tc.method, tc.path, tc.header, got, tc.want)
		}
	}
}
