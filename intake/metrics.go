package intake

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the intake's decisions. Labels are bounded: the outcome is
// accepted, duplicate, unavailable or a rejection class.
type Metrics struct {
	submitted *prometheus.CounterVec
	latency   prometheus.Histogram
}

// NewMetrics registers the intake's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		submitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "depeg_relay", Subsystem: "intake", Name: "applications_total",
			Help: "Applications posted to the intake, by outcome (accepted, duplicate, unavailable, or the rejection class).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "depeg_relay", Subsystem: "intake", Name: "submit_duration_seconds",
			Help:    "Time to decide on a posted application, simulation included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.submitted, m.latency)
	return m
}

// Submitted records one decision.
func (m *Metrics) Submitted(outcome string, took time.Duration) {
	m.submitted.WithLabelValues(outcome).Inc()
	m.latency.Observe(took.Seconds())
}
