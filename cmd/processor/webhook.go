package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/lifecycle"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/webhook"
)

// newWebhooks builds the webhook outbox the status store and the relays'
// queues tell their changes to, and its deliverer; both nil without
// WEBHOOK_URL. Every process delivers, under "<consumer>/webhook".
func newWebhooks(cfg config.Config, log zerolog.Logger, rdb redis.Cmdable, reg prometheus.Registerer) (*webhook.Outbox, *webhook.Deliverer, error) {
	if cfg.WebhookURL.Reveal() == "" {
		return nil, nil, nil
	}
	m := webhook.NewMetrics(reg)
	outbox := webhook.NewOutbox(rdb, cfg.StreamKey, cfg.WebhookMaxPending, m)
	d, err := webhook.NewDeliverer(webhook.Config{
		URL: cfg.WebhookURL.Reveal(), Secret: []byte(cfg.WebhookSecret.Reveal()), Consumer: cfg.ConsumerName + "/webhook",
	}, log, outbox, m)
	if err != nil {
		return nil, nil, err
	}
	return outbox, d, nil
}

// webhookPart is the deliverer as a lifecycle part, or one that does
// nothing without WEBHOOK_URL.
func webhookPart(d *webhook.Deliverer) lifecycle.Part {
	if d == nil {
		return noPart{}
	}
	return d
}

// noPart is a part with nothing to run. It is not a Doner: a part that
// ended at once would end the group.
type noPart struct{}

func (noPart) Start(context.Context) error { return nil }
func (noPart) Close() error                { return nil }

// webhookFigure is the deliverer's figure for the monitor's report; nil
// without WEBHOOK_URL.
func webhookFigure(d *webhook.Deliverer) func() *monitor.WebhookReport {
	if d == nil {
		return nil
	}
	return func() *monitor.WebhookReport {
		s := d.Stats()
		r := &monitor.WebhookReport{Delivered: s.Delivered}
		if s.Known {
			r.Pending, r.Dropped = &s.Pending, &s.Dropped
		}
		if !s.LastDelivered.IsZero() {
			r.LastDelivery = s.LastDelivered.UTC().Format(time.RFC3339)
		}
		if !s.FailingSince.IsZero() {
			r.Failing = s.LastFailure + " since " + s.FailingSince.UTC().Format(time.RFC3339)
		}
		return r
	}
}
