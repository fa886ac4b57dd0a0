package monitor

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HealthReporter computes the full monitor report; *Checker has it.
type HealthReporter interface {
	Check(ctx context.Context) Report
}

// CheckCollector exports the monitor's checks and queue figures at scrape
// time: what /api/monitor tells the uptime checker, as series an alert rule
// can use. The relay's own metrics cannot carry them, since the queue's depth
// and age are Redis's to tell, not the loop's; the collector asks the Checker
// once per scrape, which shares its Redis round trip with concurrent probes
// and gives up after MONITOR_CHECK_TIMEOUT.
//
// A figure the report does not know (Redis down, a Redis before 7.0 without
// the group's lag) is left out of the scrape rather than exported as zero,
// so an alert on it does not fire on a guess and "absent" stays visible.
type CheckCollector struct {
	health  HealthReporter
	timeout time.Duration

	checkOK, pending, unsent, lag, oldest, deadLetters *prometheus.Desc
}

// NewCheckCollector returns the collector; register it on the processor's
// registry. timeout bounds one scrape's check (the Checker applies its own
// CheckTimeout within it, so the processor passes MONITOR_CHECK_TIMEOUT
// plus a margin); it must be positive: the collector keeps no default of
// its own beside config's.
func NewCheckCollector(h HealthReporter, timeout time.Duration) (*CheckCollector, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("monitor check collector: timeout must be positive, got %s", timeout)
	}
	d := func(sub, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, sub, name), help, labels, nil)
	}
	return &CheckCollector{
		health:  h,
		timeout: timeout,
		checkOK: d("monitor", "check_ok", "1 while the /api/monitor check passes, 0 while it fails, by check.", "check"),
		pending: d("stream", "pending_entries", "Entries delivered to the consumer group and not yet acknowledged (XPENDING)."),
		unsent: d("stream", "unsent_entries",
			"Entries read by this process's keys that have no transaction yet: what MAX_NON_ACK_PENDING_MESSAGES limits."),
		lag: d("stream", "lag_entries", "Entries in the stream not yet delivered to the consumer group (Redis >= 7.0)."),
		oldest: d("stream", "oldest_waiting_age_seconds",
			"Age of the oldest entry waiting in the queue, pending or not yet delivered; absent when none waits."),
		deadLetters: d("stream", "dead_letter_entries", "Entries in the dead-letter stream (XLEN)."),
	}, nil
}

// Describe implements prometheus.Collector.
func (c *CheckCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.checkOK, c.pending, c.unsent, c.lag, c.oldest, c.deadLetters} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. The prometheus API gives Collect
// no context; the check's own deadline bounds it instead.
func (c *CheckCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	r := c.health.Check(ctx)
	for _, chk := range []struct{ name, status string }{
		{"balance", r.Balance}, {"processor", r.Processor}, {"nonAckPendingTx", r.NonAckPendingTx},
		{"redis", r.Redis}, {"chain", r.Chain}, {"fees", r.Fees},
	} {
		if chk.status == "" && chk.name != "balance" && chk.name != "processor" && chk.name != "nonAckPendingTx" {
			continue // a check this report does not carry
		}
		v := 0.0
		if chk.status == StatusOK {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.checkOK, prometheus.GaugeValue, v, chk.name)
	}
	if r.PendingCount != nil {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(*r.PendingCount))
	}
	if r.UnsentCount != nil {
		ch <- prometheus.MustNewConstMetric(c.unsent, prometheus.GaugeValue, float64(*r.UnsentCount))
	}
	if r.Lag != nil {
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(*r.Lag))
	}
	if age, ok := OldestWaiting(r); ok {
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	}
	if r.DeadLetterCount != nil {
		ch <- prometheus.MustNewConstMetric(c.deadLetters, prometheus.GaugeValue, float64(*r.DeadLetterCount))
	}
}

// OldestWaiting is the age in seconds of the oldest entry waiting in the
// queue, pending or not yet delivered, and false when none waits: the one
// figure "the queue is not draining" is judged by.
func OldestWaiting(r Report) (float64, bool) {
	var age float64
	ok := false
	for _, a := range []*float64{r.OldestPendingAgeSeconds, r.OldestUndeliveredAgeSeconds} {
		if a != nil && (!ok || *a > age) {
			age, ok = *a, true
		}
	}
	return age, ok
}

// Limits are the configured thresholds, exported so that the alert rules
// compare with what this deployment set (PROCESSOR_ALERT_BALANCE,
// MONITOR_MAX_WAIT_AGE, ...) instead of copying numbers that drift apart from
// the configuration the first time someone changes it.
type Limits struct {
	AlertBalance *big.Int      // PROCESSOR_ALERT_BALANCE, wei
	MinBalance   *big.Int      // PROCESSOR_MIN_BALANCE, wei
	LoopMaxAge   time.Duration // PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT
	MaxWaitAge   time.Duration // MONITOR_MAX_WAIT_AGE as the Checker applies it
	MaxPending   int64         // MAX_NON_ACK_PENDING_MESSAGES
	MaxInFlight  int           // MAX_IN_FLIGHT
}

// LimitsCollector exports Limits as constant gauges.
type LimitsCollector struct {
	metrics []prometheus.Metric
	descs   []*prometheus.Desc
}

// NewLimitsCollector builds the constant gauges of l; register it on the
// processor's registry.
func NewLimitsCollector(l Limits) *LimitsCollector {
	c := &LimitsCollector{}
	add := func(sub, name, help string, v float64) {
		d := prometheus.NewDesc(prometheus.BuildFQName(Namespace, sub, name), help, nil, nil)
		c.descs = append(c.descs, d)
		c.metrics = append(c.metrics, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v))
	}
	eth := func(wei *big.Int) float64 {
		if wei == nil {
			return 0
		}
		return weiToEth(wei)
	}
	add("wallet", "alert_balance_eth", "PROCESSOR_ALERT_BALANCE in ETH: below it the balance check fails.", eth(l.AlertBalance))
	add("wallet", "min_balance_eth", "PROCESSOR_MIN_BALANCE in ETH: below it the relay stops submitting.", eth(l.MinBalance))
	add("loop", "max_age_seconds", "PROCESSOR_QUEUE_LISTENER_LOOP_MAX_TIMEOUT: the loop must complete an iteration within it.", l.LoopMaxAge.Seconds())
	add("stream", "max_wait_age_seconds", "MONITOR_MAX_WAIT_AGE as applied: the oldest waiting entry may be this old.", l.MaxWaitAge.Seconds())
	add("stream", "max_pending_entries", "MAX_NON_ACK_PENDING_MESSAGES: entries read and not yet sent (unsent_entries) the queue check allows.", float64(l.MaxPending))
	add("tx", "max_in_flight", "MAX_IN_FLIGHT: applications with a pending transaction at once.", float64(l.MaxInFlight))
	return c
}

// Describe implements prometheus.Collector.
func (c *LimitsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *LimitsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- m
	}
}

// MaxWaitAge is the queue check's MaxWaitAge after defaults (10 x
// LoopMaxAge when MONITOR_MAX_WAIT_AGE is 0), for Limits.
func (c *Checker) MaxWaitAge() time.Duration { return c.cfg.MaxWaitAge }
