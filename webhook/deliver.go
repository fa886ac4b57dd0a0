package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/lifecycle"
)

// Config tunes a Deliverer. Zero durations get the defaults noted.
type Config struct {
	// URL is WEBHOOK_URL (http or https). It is never printed: credentials
	// in it are sent as Basic auth. Required.
	URL string
	// Secret is WEBHOOK_SECRET, the HMAC key of SignatureHeader. Required.
	Secret []byte
	// Consumer is this process's name in the outbox's consumer group. A
	// deliverer started again under the same name delivers what its
	// predecessor held first. Required.
	Consumer string
	// Timeout bounds one attempt, answer included; default 10s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait between attempts
	// at one event (factor 2, 20% jitter); defaults 1s and 1 min. A
	// Retry-After answer is honoured up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// ClaimIdle is how long another consumer may hold an event without
	// touching it before this one takes it over; default 5 min, at least
	// twice MaxBackoff + Timeout, so a live deliverer, which touches its
	// events at every attempt, never loses them to another.
	ClaimIdle time.Duration
	// Block is how long one read waits for a new event; default 2s. Close
	// waits for a read in progress (go-redis does not abandon it), so it
	// stays short.
	Block time.Duration
	// ErrorWait is the pause after a Redis error; default 5s.
	ErrorWait time.Duration
	// Batch is how many events one read takes; default 1, so a process
	// that stops while the receiver is down leaves one event pending under
	// its name (delivered by its successor under the same name at once, by
	// another process after ClaimIdle), not a batch.
	Batch int64
	// Now stamps the signatures; default time.Now. Tests inject a clock.
	Now func() time.Time
	// Client sends the requests; default a client that follows no
	// redirect. Its own Timeout, if any, applies beside Timeout.
	Client *http.Client
}

func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.URL)
	if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Never the URL itself: it may carry credentials.
		return c, errors.New("webhook URL must be an http(s) URL with a host")
	}
	if len(c.Secret) == 0 {
		return c, errors.New("webhook secret required")
	}
	if c.Consumer == "" {
		return c, errors.New("webhook consumer name required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Timeout, 10*time.Second)
	def(&c.MinBackoff, time.Second)
	def(&c.MaxBackoff, time.Minute)
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	def(&c.ClaimIdle, 5*time.Minute)
	c.ClaimIdle = max(c.ClaimIdle, 2*(c.MaxBackoff+c.Timeout))
	def(&c.Block, 2*time.Second)
	def(&c.ErrorWait, 5*time.Second)
	if c.Batch <= 0 {
		c.Batch = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return c, nil
}

// Deliverer posts the outbox's events to the receiver, each until it
// answers 2xx. It is a lifecycle part: Start launches its one goroutine,
// Close stops it and waits; what it had not delivered stays pending in
// Redis under its consumer name. Its methods may be called concurrently.
type Deliverer struct {
	cfg     Config
	log     zerolog.Logger
	outbox  *Outbox
	metrics *Metrics
	loop    *lifecycle.Func

	mu    sync.Mutex
	stats Stats
}

// Stats is what the deliverer knows of its work, for the monitor: cheap,
// no I/O.
type Stats struct {
	// Known is false until the outbox was read or written once; Pending
	// and Dropped are then its last known length and total drops (all
	// processes).
	Known            bool
	Pending, Dropped int64
	// Delivered counts this process's deliveries since start;
	// LastDelivered is the last one's time.
	Delivered     uint64
	LastDelivered time.Time
	// FailingSince is set while the receiver fails: since when, and the
	// last attempt's result class.
	FailingSince time.Time
	LastFailure  string
}

// NewDeliverer checks cfg and returns a deliverer of outbox's events. It
// starts nothing. m may be nil.
func NewDeliverer(cfg Config, log zerolog.Logger, outbox *Outbox, m *Metrics) (*Deliverer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Deliverer{cfg: cfg, log: log.With().Str("component", "webhook").Logger(), outbox: outbox, metrics: m}
	d.loop = lifecycle.NewFunc(d.run)
	return d, nil
}

// Start launches the delivery loop and returns at once.
func (d *Deliverer) Start(ctx context.Context) error { return d.loop.Start(ctx) }

// Close stops the loop, at the latest after the read or attempt in
// progress (Block, Timeout), and waits for it.
func (d *Deliverer) Close() error { return d.loop.Close() }

// Done is closed when the loop has returned.
func (d *Deliverer) Done() <-chan struct{} { return d.loop.Done() }

// Stats returns the deliverer's figures with the outbox's last known ones.
func (d *Deliverer) Stats() Stats {
	d.mu.Lock()
	s := d.stats
	d.mu.Unlock()
	f := d.outbox.lastFigures()
	s.Known, s.Pending, s.Dropped = f.known, f.pending, f.dropped
	return s
}

// run is the loop: its own pending events first (a predecessor under the
// same name left them), then, in turn, events other consumers left idle
// and new ones. It returns only when ctx ends.
func (d *Deliverer) run(ctx context.Context) error {
	for {
		err := d.outbox.ensureGroup(ctx)
		if err == nil {
			break
		}
		if !d.redisFailed(ctx, err) {
			return nil
		}
	}
	own := true
	var lastClaim time.Time
	for ctx.Err() == nil {
		var msgs []redis.XMessage
		var err error
		switch {
		case own:
			msgs, err = d.outbox.readOwn(ctx, d.cfg.Consumer, d.cfg.Batch)
			if err == nil && len(msgs) == 0 {
				own = false
				continue
			}
		case time.Since(lastClaim) >= d.cfg.ClaimIdle/4:
			msgs, err = d.outbox.claimIdle(ctx, d.cfg.Consumer, d.cfg.ClaimIdle, d.cfg.Batch)
			if err == nil && len(msgs) == 0 {
				lastClaim = time.Now()
				continue
			}
		default:
			msgs, err = d.outbox.readNew(ctx, d.cfg.Consumer, d.cfg.Batch, d.cfg.Block)
		}
		if err != nil {
			if redis.HasErrorPrefix(err, "NOGROUP") {
				// Redis lost the outbox (a restart without persistence):
				// the group is made again on the next round.
				_ = d.outbox.ensureGroup(ctx)
			}
			if !d.redisFailed(ctx, err) {
				return nil
			}
			continue
		}
		if !d.deliverAll(ctx, msgs) {
			// An acknowledgement failed: the event is still ours and
			// pending, so it is read (and delivered) again.
			own = true
		}
		if err := d.outbox.refresh(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn().Err(err).Msg("webhook outbox length unknown")
		}
	}
	return nil
}

// redisFailed logs err and waits ErrorWait; false when ctx ended.
func (d *Deliverer) redisFailed(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	d.log.Warn().Err(err).Dur("retry_in", d.cfg.ErrorWait).Msg("webhook outbox unreachable")
	return sleep(ctx, d.cfg.ErrorWait)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// errGone is an event trimmed from the outbox while it was being retried:
// it was counted as dropped, so it is not delivered after all.
var errGone = errors.New("event trimmed from the outbox")

// deliverAll delivers msgs in order, each until the receiver takes it or ctx
// ends, and acknowledges each once delivered. It returns false when an
// acknowledgement failed.
func (d *Deliverer) deliverAll(ctx context.Context, msgs []redis.XMessage) bool {
	gone := map[string]bool{}
	for i, m := range msgs {
		if ctx.Err() != nil {
			return true
		}
		id, _ := m.Values["id"].(string)
		body, _ := m.Values["body"].(string)
		if gone[m.ID] || body == "" {
			// Trimmed (a pending entry without fields) or found gone while
			// an earlier event was retried: nothing to deliver.
			if err := d.outbox.done(ctx, m.ID); err != nil {
				return false
			}
			continue
		}
		rest := make([]string, 0, len(msgs)-i)
		for _, r := range msgs[i:] {
			if !gone[r.ID] {
				rest = append(rest, r.ID)
			}
		}
		err := d.deliver(ctx, id, []byte(body), rest, gone)
		switch {
		case errors.Is(err, errGone):
			continue
		case err != nil:
			return true // ctx ended; the events stay pending
		}
		d.delivered(m.ID)
		if err := d.outbox.done(ctx, m.ID); err != nil {
			d.log.Warn().Err(err).Str("event", id).Msg("acknowledge delivered webhook event failed; it will be delivered again")
			return false
		}
	}
	return true
}

// deliver posts one event until the receiver answers 2xx, waiting with
// exponential backoff between attempts. Before each retry it touches the
// events in hand (held, the event first): an event found trimmed is marked
// in gone, and errGone ends this one's retries.
func (d *Deliverer) deliver(ctx context.Context, eventID string, body []byte, held []string, gone map[string]bool) error {
	b := &backoff.ExponentialBackOff{InitialInterval: d.cfg.MinBackoff, RandomizationFactor: 0.2, Multiplier: 2,
		MaxInterval: d.cfg.MaxBackoff}
	attempt := 0
	op := func() (struct{}, error) {
		attempt++
		if attempt > 1 {
			kept, err := d.outbox.touch(ctx, d.cfg.Consumer, held...)
			if err != nil {
				return struct{}{}, err
			}
			for _, id := range held {
				if !kept[id] {
					gone[id] = true
				}
			}
			if gone[held[0]] {
				return struct{}{}, backoff.Permanent(errGone)
			}
		}
		res := d.post(ctx, eventID, body)
		if res.class == ResultOK {
			return struct{}{}, nil
		}
		if ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		d.failed(res.class)
		d.log.Warn().Str("event", eventID).Int("attempt", attempt).Str("result", res.class).Err(res.err).
			Msg("webhook delivery failed, will retry")
		if res.wait > 0 {
			return struct{}{}, &backoff.RetryAfterError{Duration: res.wait}
		}
		return struct{}{}, res.err
	}
	_, err := backoff.Retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	return err
}

// attemptResult is one attempt's outcome: its class, an error safe to log
// (never the URL), and the receiver's Retry-After.
type attemptResult struct {
	class string
	err   error
	wait  time.Duration
}

// post makes one attempt, signed at its own time.
func (d *Deliverer) post(ctx context.Context, eventID string, body []byte) attemptResult {
	c, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(c, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return attemptResult{class: ResultUnreachable, err: errors.New("cannot build a request for the webhook URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "depeg-relay-webhook/1")
	req.Header.Set(EventIDHeader, eventID)
	req.Header.Set(SignatureHeader, Sign(d.cfg.Secret, d.cfg.Now(), body))
	start := time.Now()
	res, err := d.cfg.Client.Do(req)
	status := 0
	var wait time.Duration
	if err == nil {
		status = res.StatusCode
		wait = retryAfter(res.Header.Get("Retry-After"), time.Now(), d.cfg.MaxBackoff)
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
	}
	class := classify(status, err)
	d.metrics.attempt(class, time.Since(start))
	r := attemptResult{class: class, wait: wait}
	switch {
	case err != nil:
		r.err = d.safeError(class, err)
	case class != ResultOK:
		r.err = fmt.Errorf("webhook receiver answered %d", status)
	}
	return r
}

// safeError describes a transport failure without the URL: *url.Error
// quotes it whole (credentials, path and query), so only its cause is kept,
// and any part of the URL that could be secret is cut out of that too.
func (d *Deliverer) safeError(class string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if u, perr := url.Parse(d.cfg.URL); perr == nil {
		secrets := []string{d.cfg.URL, u.RawQuery, u.User.String()}
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
		if len(u.EscapedPath()) > 1 {
			secrets = append(secrets, u.EscapedPath(), u.Path)
		}
		for _, s := range secrets {
			if s != "" {
				msg = strings.ReplaceAll(msg, s, "[redacted]")
			}
		}
	} else {
		msg = "transport error"
	}
	return fmt.Errorf("webhook %s: %s", class, msg)
}

func (d *Deliverer) failed(class string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stats.FailingSince.IsZero() {
		d.stats.FailingSince = d.cfg.Now()
	}
	d.stats.LastFailure = class
}

// delivered records a delivery; the delay is measured from the outbox
// entry's id, which is its append time in Redis milliseconds.
func (d *Deliverer) delivered(streamID string) {
	now := d.cfg.Now()
	d.mu.Lock()
	d.stats.Delivered++
	d.stats.LastDelivered = now
	d.stats.FailingSince, d.stats.LastFailure = time.Time{}, ""
	d.mu.Unlock()
	if ms, _, ok := strings.Cut(streamID, "-"); ok {
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
			d.metrics.deliveredOne(time.Since(time.UnixMilli(n)))
		}
	}
}
