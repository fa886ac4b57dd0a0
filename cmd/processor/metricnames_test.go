package main

import (
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/frontdoor"
	"github.com/etherisc/depeg-relay/monitor"
)

// deployedFiles are the files that name metrics: the alert rules, their
// unit tests and the Grafana dashboard.
var deployedFiles = []string{
	"../../deploy/prometheus/depeg-relay.rules.yml",
	"../../deploy/grafana/depeg-relay.json",
}

// TestDeployedMetricNamesExist builds the processor as main does (newService,
// on redis-server and the EVM), scrapes its /metrics and wants every
// depeg_relay_* name the alert rules and the dashboard use among the
// families served: a renamed metric must fail here, not in an alert that
// silently never fires. Labelled series appear once observed, so the test
// first makes the relay and the intake observe one of each.
func TestDeployedMetricNamesExist(t *testing.T) {
	w := newOpsWorld(t, "INTAKE_ENABLED=true", "PORT=1")
	s, err := newService(t.Context(), w.Cfg, zerolog.Nop(), frontdoor.New(w.Cfg, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.checker.RefreshBalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	// An entry waiting in the group, so the queue figures have values.
	if err := w.RDB.XAdd(t.Context(), &redis.XAddArgs{Stream: w.Cfg.StreamKey, Values: map[string]any{"entityId": "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Queue.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.metrics.RPCError("receipt")
	s.metrics.RedisError("xack")
	s.metrics.Confirmed(now.Add(-time.Minute), now, big.NewInt(1e15)) // a spend rate, so the runway is served
	s.metrics.SetBalance(big.NewInt(1e18))
	srv := httptest.NewServer(s.front.Server.Handler())
	t.Cleanup(srv.Close)
	res, err := http.Post(srv.URL+"/api/application", "application/json", strings.NewReader(`{"policyHolder":"0x"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()

	res, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}

	used := map[string][]string{}
	re := regexp.MustCompile(`\b` + monitor.Namespace + `_[a-z0-9_]+`)
	for _, f := range deployedFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range re.FindAllString(string(raw), -1) {
			if !slices.Contains(used[name], f) {
				used[name] = append(used[name], f)
			}
		}
	}
	if len(used) < 20 {
		t.Fatalf("only %d metric names found in the deployed files", len(used))
	}
	for name, files := range used {
		if !served(families, name) {
			t.Errorf("%s (used in %v) is not served at /metrics", name, files)
		}
	}
}

// served reports whether name is a family of the scrape, or a histogram's
// _bucket, _sum or _count series.
func served(families map[string]*dto.MetricFamily, name string) bool {
	if f, ok := families[name]; ok && len(f.GetMetric()) > 0 {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := families[base]; ok && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) {
				return true
			}
		}
	}
	return false
}
