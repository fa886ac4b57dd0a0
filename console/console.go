// Package console serves the operator's page at /console: every health check
// and why it fails, the wallet's balance, runway and a chart of its last
// hours, the queue, what is in flight, the last confirmations, the dead
// letters with a replay button, and a search for an application.
//
// The page is rendered on the server with html/template from templates and
// assets embedded in the binary: no CDN, no external font, so it works on an
// air-gapped ops network and with JavaScript switched off. The script only
// refreshes the live part of the page; the chart is SVG drawn on the server.
// Reading the health, the wallet, the queue and the search needs no
// credential (the page shows nothing /api/monitor and the status route do
// not already tell, and never a secret). The dead letters name policy
// holders and why their applications were refused, as the admin routes do,
// so they need ADMIN_TOKEN too: typed once into the page's unlock form, it
// becomes a signed cookie that expires (see unlock). Replaying a dead letter
// needs the token typed into the replay form, and goes through the same
// intake.Operator as POST /api/admin/deadletters/{id}/replay.
//
// Every text the page shows from Redis, the chain or the monitor goes
// through inspect.Printable: html/template escapes markup, not the control
// and bidirectional characters that would make a reason read otherwise.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/stream"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Health computes the monitor report; *monitor.Checker has it.
type Health interface {
	Check(ctx context.Context) monitor.Report
}

// Finder answers the search box; *inspect.Finder has it.
type Finder interface {
	Find(ctx context.Context, query string) (inspect.Result, error)
}

// DeadLetters lists and replays dead letters; *intake.Operator has it, the
// same operator the admin routes and the deadletters subcommand use.
type DeadLetters interface {
	List(ctx context.Context, before string, limit int) (intake.Page, error)
	Show(ctx context.Context, id string) (intake.DeadLetter, error)
	Replay(ctx context.Context, id string) (intake.Replayed, error)
}

// Wallet is one key of the pool. The page shows one row per key: its
// wallet, balance, runway, lease, in flight and node window, from the
// monitor report's line of the key.
type Wallet struct {
	Address common.Address
	// History feeds the pool's balance chart (the first wallet's that has
	// one); nil draws none.
	History *monitor.BalanceHistory
}

// Flight is a journal record with the wallet whose journal holds it.
type Flight struct {
	Wallet common.Address
	inspect.Flight
}

// Header is what the page's header line tells besides the Redis names:
// which chain, which product, how far the node is, which build, since when.
type Header struct {
	ChainID string
	Product common.Address
	Version string
	Started time.Time
	// Head reads the node's head block number; nil or a failure shows
	// "unknown".
	Head func(ctx context.Context) (uint64, error)
}

// RunbookBase is where the checks' runbooks are: README's sections, by
// anchor.
const RunbookBase = "https://github.com/etherisc/depeg-relay/blob/main/README.md"

// Config is what the console shows and may do.
type Config struct {
	// Health is required.
	Health Health
	// Wallets are the pool's keys this process serves, in
	// PROCESSOR_ACCOUNT_INDEX order, as the report's Keys are.
	Wallets []Wallet
	// Header is the header line's chain, product, version and start.
	Header Header
	// MinBalance is PROCESSOR_MIN_BALANCE: below it a key submits nothing
	// new. Nil leaves it out.
	MinBalance *big.Int
	// Recent lists the last confirmations; nil leaves the section out.
	Recent func() []monitor.Confirmation
	// InFlight lists every key's journal; nil leaves the section out.
	InFlight func(ctx context.Context) ([]Flight, error)
	// DeadLetters lists (and, with AdminToken, replays) dead letters; nil
	// leaves the section out. They are listed only to a browser that
	// unlocked them with AdminToken; without AdminToken, never.
	DeadLetters DeadLetters
	// Finder answers the search box; nil leaves it out.
	Finder Finder
	// AdminToken guards the dead letters and the replay button; empty
	// switches both off.
	AdminToken string
	// ExplorerURL is the block explorer (EXPLORER_URL, e.g.
	// https://etherscan.io): transactions, blocks and addresses link to
	// <ExplorerURL>/tx/<hash>, /block/<n> and /address/<address>. Empty
	// shows them without links.
	ExplorerURL string
	// Names says which stream, group and consumer this relay serves, shown
	// in the page header (names only: never a URL).
	Names Names
	// Refresh is how often the script reloads the live part; default 10 s.
	Refresh time.Duration
	// SectionTimeout bounds each Redis-backed section of a page, so a Redis
	// that hangs costs the page seconds, not the request's whole timeout;
	// a section without an answer says so. Default 3 s.
	SectionTimeout time.Duration
	// Log receives failed look-ups; their text never reaches the page.
	Log zerolog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Names are the Redis names of the relay the console belongs to.
type Names struct {
	Stream, Group, Consumer, DeadLetter string
}

// Console is the page's handler. Build it with New; call Close when the
// server has stopped.
type Console struct {
	cfg   Config
	tmpl  *template.Template
	token [sha256.Size]byte

	// wg owns the section goroutines: a page that stopped waiting for one
	// (SectionTimeout) leaves it to finish on its own, and Close waits.
	wg sync.WaitGroup
}

// New parses the templates and fills the defaults.
func New(cfg Config) (*Console, error) {
	if cfg.Health == nil {
		return nil, errors.New("console: Health is required")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 10 * time.Second
	}
	if cfg.SectionTimeout <= 0 {
		cfg.SectionTimeout = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.ExplorerURL = strings.TrimRight(cfg.ExplorerURL, "/")
	tmpl, err := template.New("console").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse templates: %w", err)
	}
	return &Console{cfg: cfg, tmpl: tmpl, token: sha256.Sum256([]byte(cfg.AdminToken))}, nil
}

// Close waits for section look-ups a page gave up on; they end within the
// Redis client's own timeouts.
func (c *Console) Close() { c.wg.Wait() }

// Path is where the api package mounts the console; the page's links and
// forms point below it.
const Path = "/console"

// Handler serves the console's routes relative to Path, where it is
// mounted (the api package rate-limits search and replay per client, so a
// replay token cannot be guessed at speed):
//
//	GET  /                              the page
//	GET  /search?q=...                  the page with the search's answer
//	POST /unlock                        show the dead letters (form field token)
//	POST /lock                          hide them again
//	POST /deadletters/{id}/replay       re-queue a dead letter (form field token)
//	GET  /assets/...                    the embedded stylesheet and script
func (c *Console) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	r.Get("/", c.page(false))
	r.Get("/search", c.page(true))
	r.Post("/unlock", c.unlock)
	r.Post("/lock", c.lock)
	r.Post("/deadletters/{id}/replay", c.replay)
	r.Get("/assets/*", serveAsset)
	return r
}

// securityHeaders keeps the page to its own origin: no inline script or
// style can run (the templates have none), no other site may frame it, and
// explorer links do not tell the explorer where the console lives.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// serveAsset serves an embedded asset. Browsers may keep it a while: it
// changes only with the binary.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	assets, err := fs.Sub(assetFS, "assets")
	name := chi.URLParam(r, "*")
	if err != nil || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	if _, err := fs.Stat(assets, name); err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	http.ServeFileFS(w, r, assets, name)
}

// page renders the console; with search it also answers the query, and
// after a replay (?replayed=<id>) it says what the replay queued.
func (c *Console) page(search bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var n *notice
		if id := q.Get("replayed"); id != "" && c.cfg.DeadLetters != nil && !stream.EntryTime(id).IsZero() && c.unlocked(r) {
			n = c.replayedNotice(r.Context(), id)
		}
		query := ""
		if search {
			query = strings.TrimSpace(q.Get("q"))
		}
		c.render(w, r, http.StatusOK, n, query)
	}
}

// replayedNotice tells what a replay queued, read back from the operator,
// so the notice shows the state, not whatever a URL says.
func (c *Console) replayedNotice(ctx context.Context, id string) *notice {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SectionTimeout)
	defer cancel()
	d, err := c.cfg.DeadLetters.Show(ctx, id)
	if err != nil || d.Replayed == "" {
		return nil
	}
	return &notice{OK: true, Text: fmt.Sprintf("Dead letter %s re-queued: entity %s is stream entry %s again.",
		id, inspect.Printable(d.EntityID), inspect.Printable(d.Replayed))}
}

// maxForm bounds a replay form: one token field.
const maxForm = 4 << 10

// replay re-queues a dead letter when the form carries the admin token.
// Refusals render the page with the reason and a 4xx status; success
// redirects to the page (303), so reloading it does not post again.
func (c *Console) replay(w http.ResponseWriter, r *http.Request) {
	if c.cfg.AdminToken == "" || c.cfg.DeadLetters == nil {
		c.render(w, r, http.StatusForbidden, &notice{Text: "Replay is switched off: ADMIN_TOKEN is not set."}, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	got := sha256.Sum256([]byte(r.PostFormValue("token")))
	if subtle.ConstantTimeCompare(got[:], c.token[:]) != 1 {
		c.render(w, r, http.StatusUnauthorized, &notice{Text: "Replay refused: the admin token is missing or wrong. Nothing was re-queued."}, "")
		return
	}
	id := chi.URLParam(r, "id")
	if stream.EntryTime(id).IsZero() {
		c.render(w, r, http.StatusBadRequest, &notice{Text: "Replay refused: not a dead-letter id."}, "")
		return
	}
	res, err := c.cfg.DeadLetters.Replay(r.Context(), id)
	switch {
	case errors.Is(err, intake.ErrDeadLetterNotFound):
		c.render(w, r, http.StatusNotFound, &notice{Text: "Replay refused: no dead letter " + id + "."}, "")
		return
	case errors.Is(err, intake.ErrNotReplayable):
		// The reason is the validator's, about the application's fields.
		c.render(w, r, http.StatusConflict, &notice{Text: "Replay refused: " + inspect.Printable(err.Error())}, "")
		return
	case err != nil:
		c.cfg.Log.Warn().Err(err).Str("dead_letter", id).Msg("console replay failed")
		c.render(w, r, http.StatusServiceUnavailable, &notice{Text: "Replay failed: Redis did not answer. Try again."}, "")
		return
	}
	c.cfg.Log.Info().Str("dead_letter", id).Str("entityId", res.EntityID).Str("entry", res.EntryID).
		Bool("existing", res.Existing).Msg("dead letter replayed from the console")
	http.Redirect(w, r, Path+"?replayed="+url.QueryEscape(id)+"#deadletters", http.StatusSeeOther)
}

// render builds the page and writes it. The template runs into a buffer, so
// a failure is a clean 500 and never half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, n *notice, search string) {
	p := c.build(r.Context(), search, c.unlocked(r))
	p.Notice = n
	if r.Method == http.MethodGet {
		p.RefreshURL = r.URL.RequestURI()
	}
	var buf bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&buf, "page.html", p); err != nil {
		c.cfg.Log.Error().Err(err).Msg("render console")
		http.Error(w, "console could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
