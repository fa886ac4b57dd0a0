package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the outbox and the deliverer do, under
// depeg_relay_webhook_*. Labels are bounded: result is one of the Result*
// classes. A nil *Metrics records nothing.
type Metrics struct {
	queuedN    prometheus.Counter
	droppedN   prometheus.Counter
	deliveredN prometheus.Counter
	attempts   *prometheus.CounterVec
	duration   prometheus.Histogram
	delay      prometheus.Histogram
	pending    prometheus.Gauge
}

// NewMetrics registers the webhook metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "depeg_relay", "webhook"
	m := &Metrics{
		queuedN: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_queued_total",
			Help: "Status-change events this process appended to the webhook outbox."}),
		droppedN: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_dropped_total",
			Help: "Undelivered events trimmed from the full webhook outbox by this process's appends (WEBHOOK_MAX_PENDING)."}),
		deliveredN: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_delivered_total",
			Help: "Events this process delivered (the receiver answered 2xx)."}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "attempts_total",
			Help: "Delivery attempts by result: ok, redirect, throttled, client_error, server_error, timeout, refused, unreachable."},
			[]string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "attempt_duration_seconds",
			Help: "Time of one delivery attempt, answer included.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "delivery_delay_seconds",
			Help: "Time from an event's append to its delivery.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 12)}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "outbox_events",
			Help: "Events in the webhook outbox not yet delivered, as last read by this process."}),
	}
	reg.MustRegister(m.queuedN, m.droppedN, m.deliveredN, m.attempts, m.duration, m.delay, m.pending)
	for _, r := range []string{ResultOK, ResultRedirect, ResultThrottled, ResultClientError, ResultServerError,
		ResultTimeout, ResultRefused, ResultUnreachable} {
		m.attempts.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) queued(n int, trimmed int64) {
	if m == nil {
		return
	}
	m.queuedN.Add(float64(n))
	m.droppedN.Add(float64(trimmed))
}

func (m *Metrics) setPending(n int64) {
	if m != nil {
		m.pending.Set(float64(n))
	}
}

func (m *Metrics) attempt(result string, took time.Duration) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(result).Inc()
	m.duration.Observe(took.Seconds())
}

func (m *Metrics) deliveredOne(delay time.Duration) {
	if m == nil {
		return
	}
	m.deliveredN.Inc()
	m.delay.Observe(max(delay, 0).Seconds())
}
