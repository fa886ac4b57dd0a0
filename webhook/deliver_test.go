package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/internal/fakeclock"
	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/logbuf"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

const (
	testStream = "application:signatures"
	testSecret = "whsec-test-0123456789abcdef0123456789"
	within     = 20 * time.Second
)

// receiver is a webhook receiver as README tells one to write: it verifies
// the signature against the test's clock and keeps every copy of every
// event by id. While down it answers 503.
type receiver struct {
	now func() time.Time

	mu     sync.Mutex
	down   bool
	events map[string][]Event
	bad    []string // why requests were refused
	auth   []string // Basic auth user:password seen
}

func newReceiver(now func() time.Time) *receiver {
	return &receiver{now: now, events: map[string][]Event{}}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, p, ok := req.BasicAuth(); ok {
		r.auth = append(r.auth, u+":"+p)
	}
	if r.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if err := Verify([]byte(testSecret), req.Header.Get(SignatureHeader), body, r.now(), 0); err != nil {
		r.bad = append(r.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || req.Header.Get(EventIDHeader) != e.ID ||
		req.Header.Get("Content-Type") != "application/json" {
		r.bad = append(r.bad, fmt.Sprintf("bad body or headers: %s", body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.events[e.ID] = append(r.events[e.ID], e)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// ids are the distinct event ids received, sorted.
func (r *receiver) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.events))
	for id := range r.events {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (r *receiver) refused() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bad)
}

type world struct {
	rdb     *redis.Client
	outbox  *Outbox
	metrics *Metrics
	reg     *prometheus.Registry
	clock   *fakeclock.Clock
	logs    *logbuf.Buffer
}

func newWorld(t *testing.T, maxPending int64) *world {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	rdb := redistest.Start(t).Client()
	return &world{rdb: rdb, outbox: NewOutbox(rdb, testStream, maxPending, m), metrics: m, reg: reg,
		clock: fakeclock.New(time.Unix(1_800_000_000, 0)), logs: &logbuf.Buffer{}}
}

// fast is a deliverer configuration with short waits, so tests wait for
// backoff in milliseconds.
func (w *world) fast(url, consumer string) Config {
	return Config{URL: url, Secret: []byte(testSecret), Consumer: consumer, Timeout: time.Second,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Block: 50 * time.Millisecond,
		ErrorWait: 20 * time.Millisecond, Now: w.clock.Now}
}

// start starts a deliverer and closes it when the test ends.
func (w *world) start(t *testing.T, cfg Config) *Deliverer {
	t.Helper()
	d, err := NewDeliverer(cfg, zerolog.New(w.logs), w.outbox, w.metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// notify appends n events of distinct applications, named from first on,
// and returns their ids.
func (w *world) notify(t *testing.T, first, n int) []string {
	t.Helper()
	var ids []string
	for i := first; i < first+n; i++ {
		c := stream.StatusChange{State: stream.StateConfirmed, EntityID: fmt.Sprintf("app-%03d", i),
			EntryID: fmt.Sprintf("%d-0", i), TxHash: fmt.Sprintf("0x%064x", i), Block: uint64(i), At: w.clock.Now()}
		if err := w.outbox.Notify(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, EventID(c))
	}
	return ids
}

func (w *world) outboxLen(t *testing.T) int64 {
	t.Helper()
	n, err := w.rdb.XLen(t.Context(), w.outbox.Keys().Outbox()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *world) pendingCount(t *testing.T) int64 {
	t.Helper()
	p, err := w.rdb.XPending(t.Context(), w.outbox.Keys().Outbox(), group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func (w *world) attempts(result string) float64 {
	return testutil.ToFloat64(w.metrics.attempts.WithLabelValues(result))
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// TestEveryChangeIsDeliveredSigned drives the hooks where the relay records
// its changes (the status store's confirmations and rejections, the
// ObservedQueue's first journal record and counted transient reverts) and
// wants each change at the receiver with a valid signature, and nothing
// for what is no change.
func TestEveryChangeIsDeliveredSigned(t *testing.T) {
	w := newWorld(t, 0)
	ctx := t.Context()
	status := stream.NewStatusStore(w.rdb, testStream, 0)
	status.Notifier = w.outbox
	q := stream.NewQueue(w.rdb, stream.Keys{Stream: testStream, Group: "g", Consumer: "c/0xabc",
		DeadLetter: testStream + ":dead", Wallet: "0xabc"})
	if err := q.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	obs := &intake.ObservedQueue{Queue: q, Status: status, Notify: w.outbox, MaxTransientReverts: 3}
	for _, id := range []string{"A", "B", "C", "D"} {
		if err := w.rdb.HSet(ctx, stream.ApplicationKey(id), "policyHolder", "0x"+strings.Repeat("1", 40)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	h1, h2 := common.HexToHash("0x01").Hex(), common.HexToHash("0x02").Hex()
	signedAt := time.Unix(1_800_000_100, 0).UTC()
	expect := map[string]stream.StatusChange{}
	want := func(c stream.StatusChange) { expect[EventID(c)] = c }

	// A: submitted, a replacement (no change), requeued once, confirmed (twice: a repeated step).
	if err := obs.Record(ctx, stream.TxRecord{Nonce: 0, EntryID: "1-0", EntityID: "A", Hashes: []string{h1}, RawTx: "0x01",
		SignedAt: signedAt}); err != nil {
		t.Fatal(err)
	}
	want(stream.StatusChange{State: stream.StateSubmitted, EntityID: "A", EntryID: "1-0", TxHash: h1, At: signedAt})
	if err := obs.Record(ctx, stream.TxRecord{Nonce: 0, EntryID: "1-0", EntityID: "A", Hashes: []string{h1, h2}, RawTx: "0x01",
		NextRawTx: "0x02", Current: h2, SignedAt: signedAt}); err != nil {
		t.Fatal(err)
	}
	if err := obs.Record(ctx, stream.TxRecord{Nonce: 1, Kind: stream.KindGapFill, Hashes: []string{h2}, RawTx: "0x02"}); err != nil {
		t.Fatal(err)
	}
	if n, err := obs.CountRevert(ctx, "A"); err != nil || n != 1 {
		t.Fatalf("CountRevert = %d, %v", n, err)
	}
	want(stream.StatusChange{State: stream.ChangeRequeued, EntityID: "A", Reverts: 1})
	conf := stream.Confirmation{EntityID: "A", EntryID: "1-0", TxHash: common.HexToHash(h2), Block: 12,
		ProcessID: common.HexToHash("0x99")}
	for range 2 {
		if err := status.Confirmed(ctx, conf); err != nil {
			t.Fatal(err)
		}
	}
	want(stream.StatusChange{State: stream.StateConfirmed, EntityID: "A", EntryID: "1-0", TxHash: h2})

	// B: rejected.
	if err := obs.DeadLetter(ctx, stream.DeadLetter{EntryID: "2-0", EntityID: "B", Class: "funds",
		Reason: "ERROR:DP-014:BALANCE_TOO_LOW"}); err != nil {
		t.Fatal(err)
	}
	want(stream.StatusChange{State: stream.StateRejected, EntityID: "B", EntryID: "2-0", Class: "funds"})

	// C: confirmed, then a duplicate entry dead-lettered: it stays confirmed, no rejection is told.
	if err := status.Confirmed(ctx, stream.Confirmation{EntityID: "C", EntryID: "3-0", TxHash: common.HexToHash(h1), Block: 5}); err != nil {
		t.Fatal(err)
	}
	want(stream.StatusChange{State: stream.StateConfirmed, EntityID: "C", EntryID: "3-0", TxHash: h1})
	if err := obs.DeadLetter(ctx, stream.DeadLetter{EntryID: "4-0", EntityID: "C", Class: "malformed", Reason: "gone"}); err != nil {
		t.Fatal(err)
	}

	// D: three requeues; the fourth revert is beyond MAX_TRANSIENT_REVERTS (the relay dead-letters it).
	for i := int64(1); i <= 4; i++ {
		if n, err := obs.CountRevert(ctx, "D"); err != nil || n != i {
			t.Fatalf("CountRevert = %d, %v", n, err)
		}
		if i <= 3 {
			want(stream.StatusChange{State: stream.ChangeRequeued, EntityID: "D", Reverts: i})
		}
	}

	rcv := newReceiver(w.clock.Now)
	srv := serve(t, rcv)
	d := w.start(t, w.fast(srv.URL+"/hook", "p1"))
	var wantIDs []string
	for id := range expect {
		wantIDs = append(wantIDs, id)
	}
	wantIDs = sorted(wantIDs)
	poll.Until(t, within, "every change delivered", func() bool { return len(rcv.ids()) >= len(wantIDs) })
	poll.Until(t, within, "the outbox emptied", func() bool { return w.outboxLen(t) == 0 })
	if got := rcv.ids(); !slices.Equal(got, wantIDs) {
		t.Fatalf("received ids %v\nwant %v", got, wantIDs)
	}
	if bad := rcv.refused(); len(bad) > 0 {
		t.Fatalf("receiver refused requests: %v", bad)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for id, copies := range rcv.events {
		c := expect[id]
		e := copies[0]
		if e.State != c.State || e.EntityID != c.EntityID || e.EntryID != c.EntryID || e.TransactionHash != c.TxHash ||
			e.Class != c.Class || e.Reverts != c.Reverts || e.OccurredAt.IsZero() {
			t.Errorf("event %s = %+v, want the change %+v", id, e, c)
		}
	}
	// The repeated confirmation is a second copy under the same id.
	aConfirmed := rcv.events[EventID(stream.StatusChange{State: stream.StateConfirmed, EntityID: "A", EntryID: "1-0", TxHash: h2})]
	if len(aConfirmed) != 2 {
		t.Errorf("A's confirmation arrived %d times, want 2 (told twice, same id)", len(aConfirmed))
	} else if a := aConfirmed[0]; a.Block != 12 || a.ProcessID != common.HexToHash("0x99").Hex() {
		t.Errorf("A's confirmation = %+v, want block 12 and its processId", a)
	}
	b := rcv.events[EventID(stream.StatusChange{State: stream.StateRejected, EntityID: "B", EntryID: "2-0", Class: "funds"})]
	if len(b) != 1 || b[0].Reason != "ERROR:DP-014:BALANCE_TOO_LOW" {
		t.Errorf("B's rejection = %+v, want once with its reason", b)
	}
	// The figures are refreshed after a delivery, not with it: wait until
	// they show the empty outbox the test saw (a read right after it once
	// said one pending).
	rcv.mu.Unlock()
	poll.Until(t, within, "the figures caught up with the empty outbox", func() bool {
		s := d.Stats()
		return s.Known && s.Pending == 0 && s.Delivered >= 9
	})
	rcv.mu.Lock()
	if s := d.Stats(); s.Delivered != 9 || !s.Known || s.Pending != 0 || s.Dropped != 0 || !s.FailingSince.IsZero() {
		t.Errorf("Stats = %+v, want 9 delivered (8 changes, one told twice), none pending or dropped", s)
	}
}

// TestReceiverDownThenBackAcrossRestart: the receiver refuses connections
// while events are written, the deliverer is closed and a new one (same
// consumer name, as a restarted process) started while it is still down;
// once it listens, it gets every event, and the outbox is empty after.
func TestReceiverDownThenBackAcrossRestart(t *testing.T) {
	w := newWorld(t, 0)
	port := freeport.Get(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/hook"
	ids := w.notify(t, 0, 5)
	d1 := w.start(t, w.fast(url, "p1"))
	poll.Until(t, within, "attempts refused", func() bool { return w.attempts(ResultRefused) >= 3 })
	ids = append(ids, w.notify(t, 5, 5)...)
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	if s := d1.Stats(); s.FailingSince.IsZero() || s.LastFailure != ResultRefused || s.Delivered != 0 {
		t.Errorf("Stats while down = %+v, want failing since a time, refused", s)
	}
	if n := w.pendingCount(t); n == 0 {
		t.Fatalf("the closed deliverer holds no event: the restart would prove nothing")
	}

	refused := w.attempts(ResultRefused)
	d2 := w.start(t, w.fast(url, "p1"))
	poll.Until(t, within, "the new deliverer's attempts refused", func() bool { return w.attempts(ResultRefused) >= refused+3 })
	ids = append(ids, w.notify(t, 10, 5)...)

	rcv := newReceiver(w.clock.Now)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(rcv)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	want := sorted(ids)
	poll.Until(t, within, "every event delivered", func() bool { return len(rcv.ids()) >= len(want) })
	if got := rcv.ids(); !slices.Equal(got, want) {
		t.Fatalf("received %v\nwant %v", got, want)
	}
	poll.Until(t, within, "the outbox emptied", func() bool { return w.outboxLen(t) == 0 && w.pendingCount(t) == 0 })
	if bad := rcv.refused(); len(bad) > 0 {
		t.Fatalf("receiver refused requests: %v", bad)
	}
	if s := d2.Stats(); s.Delivered != 15 || !s.FailingSince.IsZero() {
		t.Errorf("Stats after = %+v, want 15 delivered, not failing", s)
	}
	if got := testutil.ToFloat64(w.metrics.deliveredN); got != 15 {
		t.Errorf("events_delivered_total = %v, want 15", got)
	}
}

// TestDeadProcessEventsAreTakenOver: a process stops for good while holding
// events the receiver did not take; another process, under its own name,
// claims them once idle and delivers them.
func TestDeadProcessEventsAreTakenOver(t *testing.T) {
	w := newWorld(t, 0)
	rcv := newReceiver(w.clock.Now)
	rcv.setDown(true)
	srv := serve(t, rcv)
	ids := w.notify(t, 0, 4)
	cfg := w.fast(srv.URL, "dead")
	cfg.Timeout, cfg.Batch = 200*time.Millisecond, 4
	d1 := w.start(t, cfg)
	poll.Until(t, within, "attempts answered 503", func() bool { return w.attempts(ResultServerError) >= 2 })
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	if n := w.pendingCount(t); n != 4 {
		t.Fatalf("the dead process holds %d events, want 4", n)
	}
	rcv.setDown(false)
	cfg.Consumer, cfg.ClaimIdle = "alive", 500*time.Millisecond
	w.start(t, cfg)
	want := sorted(ids)
	poll.Until(t, within, "the dead process's events delivered", func() bool { return len(rcv.ids()) >= len(want) })
	if got := rcv.ids(); !slices.Equal(got, want) {
		t.Fatalf("received %v\nwant %v", got, want)
	}
	poll.Until(t, within, "the outbox emptied", func() bool { return w.outboxLen(t) == 0 && w.pendingCount(t) == 0 })
}

// TestDeadReceiverStaysBounded: a receiver that never answers 2xx cannot
// make the outbox outgrow WEBHOOK_MAX_PENDING; what is trimmed is counted
// (Redis, metrics, stats), and the newest events are delivered once it is
// back.
func TestDeadReceiverStaysBounded(t *testing.T) {
	const maxPending, total = 10, 50
	w := newWorld(t, maxPending)
	rcv := newReceiver(w.clock.Now)
	rcv.setDown(true)
	srv := serve(t, rcv)
	d := w.start(t, w.fast(srv.URL, "p1"))
	var ids []string
	for i := range total {
		ids = append(ids, w.notify(t, i, 1)...)
		if n := w.outboxLen(t); n > maxPending {
			t.Fatalf("outbox holds %d events after %d appends, cap %d", n, i+1, maxPending)
		}
		if i == 0 {
			poll.Until(t, within, "the first event attempted", func() bool { return w.attempts(ResultServerError) >= 1 })
		}
	}
	dropped, err := w.rdb.Get(t.Context(), w.outbox.Keys().Dropped()).Int64()
	if err != nil || dropped != total-maxPending {
		t.Fatalf("dropped counter = %d, %v; want %d", dropped, err, total-maxPending)
	}
	if got := testutil.ToFloat64(w.metrics.droppedN); got != total-maxPending {
		t.Errorf("events_dropped_total = %v, want %d", got, total-maxPending)
	}
	if n := w.pendingCount(t); n > maxPending+16 {
		t.Errorf("the group's pending list holds %d entries, want at most the cap plus one batch", n)
	}
	// An attempt under way when the last append trimmed its event (its
	// post began before) would reach a receiver that is back and be taken.
	// Attempts come one after another, and a retry first touches the
	// events in hand, finding the trimmed ones gone: after two more failed
	// attempts, none of a trimmed event is under way or to come.
	failed := w.attempts(ResultServerError)
	poll.Until(t, within, "two more failed attempts", func() bool { return w.attempts(ResultServerError) >= failed+2 })

	rcv.setDown(false)
	want := sorted(ids[total-maxPending:])
	poll.Until(t, within, "the newest events delivered", func() bool { return len(rcv.ids()) >= len(want) })
	poll.Until(t, within, "the outbox emptied", func() bool { return w.outboxLen(t) == 0 && w.pendingCount(t) == 0 })
	if got := rcv.ids(); !slices.Equal(got, want) {
		t.Fatalf("received %v\nwant the newest %d: %v", got, maxPending, want)
	}
	if err := d.outbox.refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Dropped != total-maxPending || s.Pending != 0 || s.Delivered != maxPending {
		t.Errorf("Stats = %+v, want %d dropped, 0 pending, %d delivered", s, total-maxPending, maxPending)
	}
}

// TestSecretsStayOut: credentials in the URL reach the receiver as Basic
// auth, and neither they, the path's token, the query's key nor the secret
// reach the log, the metrics or a configuration error.
func TestSecretsStayOut(t *testing.T) {
	w := newWorld(t, 0)
	const pass, pathToken, queryKey = "pw-s3cret-pass", "T0KEN-in-path", "QK3Y-in-query"
	port := freeport.Get(t)
	url := "http://hookuser:" + pass + "@127.0.0.1:" + strconv.Itoa(port) + "/hooks/" + pathToken + "?key=" + queryKey
	w.notify(t, 0, 1)
	w.start(t, w.fast(url, "p1"))
	poll.Until(t, within, "attempts refused", func() bool { return w.attempts(ResultRefused) >= 3 })

	rcv := newReceiver(w.clock.Now)
	var paths []string
	var pmu sync.Mutex
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		pmu.Lock()
		paths = append(paths, req.URL.RequestURI())
		pmu.Unlock()
		rcv.ServeHTTP(rw, req)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	poll.Until(t, within, "the event delivered", func() bool { return len(rcv.ids()) == 1 })
	rcv.mu.Lock()
	auth := slices.Clone(rcv.auth)
	rcv.mu.Unlock()
	if len(auth) == 0 || auth[len(auth)-1] != "hookuser:"+pass {
		t.Errorf("Basic auth seen %v, want hookuser and the URL's password", auth)
	}
	pmu.Lock()
	if paths[len(paths)-1] != "/hooks/"+pathToken+"?key="+queryKey {
		t.Errorf("request URI %q, want the configured path and query", paths[len(paths)-1])
	}
	pmu.Unlock()

	_, cfgErr := NewDeliverer(Config{URL: "ftp://u:" + pass + "@x/" + pathToken, Secret: []byte(testSecret), Consumer: "c"},
		zerolog.Nop(), w.outbox, nil)
	if cfgErr == nil {
		t.Fatal("an ftp URL was accepted")
	}
	families, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	dump := w.logs.String() + cfgErr.Error() + fmt.Sprint(families)
	if !strings.Contains(w.logs.String(), "webhook delivery failed") {
		t.Fatalf("no failed attempt was logged, the check below proves nothing:\n%s", w.logs.String())
	}
	for _, s := range []string{pass, pathToken, queryKey, testSecret, "hookuser"} {
		if strings.Contains(dump, s) {
			t.Errorf("%q leaked into logs, metrics or errors:\n%s", s, dump)
		}
	}
}

// TestRedirectIsNotFollowed: a redirect is an answer that failed, never
// followed: the signed event (and the URL's credentials) would travel to
// another host.
func TestRedirectIsNotFollowed(t *testing.T) {
	w := newWorld(t, 0)
	elsewhere := newReceiver(w.clock.Now)
	other := serve(t, elsewhere)
	redirect := serve(t, http.RedirectHandler(other.URL, http.StatusTemporaryRedirect))
	w.notify(t, 0, 1)
	w.start(t, w.fast(redirect.URL, "p1"))
	poll.Until(t, within, "redirects answered", func() bool { return w.attempts(ResultRedirect) >= 2 })
	if n := len(elsewhere.ids()) + len(elsewhere.refused()); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
	if n := w.outboxLen(t); n != 1 {
		t.Errorf("outbox holds %d events, want the undelivered one", n)
	}
}
