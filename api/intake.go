package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/go-chi/httprate"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/stream"
)

// Intake is what the application routes ask of the intake; *intake.Service
// has it.
type Intake interface {
	Submit(ctx context.Context, body []byte) (intake.Accepted, error)
	Status(ctx context.Context, entityID string) (intake.Status, error)
	Pending(ctx context.Context, holder common.Address) ([]intake.PendingApplication, error)
}

// DeadLetters is what the admin routes ask of the operator side;
// *intake.Operator has it.
type DeadLetters interface {
	List(ctx context.Context, before string, limit int) (intake.Page, error)
	Show(ctx context.Context, id string) (intake.DeadLetter, error)
	Replay(ctx context.Context, id string) (intake.Replayed, error)
}

// IntakeConfig configures the frontend-facing routes under /api/application
// and the operator routes under /api/admin.
type IntakeConfig struct {
	// Service answers /api/application. Required.
	Service Intake
	// Enabled opens POST /api/application; when false it answers 503 while
	// the status and listing routes (and the relay) keep working.
	Enabled bool
	// AllowedOrigins are the frontend origins allowed to call the routes
	// from a browser (CORS); empty allows none.
	AllowedOrigins []string
	// MaxBodyBytes bounds a POST body; larger bodies get 413. Default 16 KiB.
	MaxBodyBytes int64
	// RateLimit is how many requests one client may make per RateWindow to
	// the application and admin routes; 0 disables the limit.
	RateLimit  int
	RateWindow time.Duration
	// TrustedProxies are CIDRs of the reverse proxies in front of the
	// processor (Dokku's nginx): their X-Forwarded-For names the client.
	// Empty: the TCP peer is the client.
	TrustedProxies []string

	// DeadLetters answers /api/admin/deadletters; nil leaves them out.
	DeadLetters DeadLetters
	// AdminToken guards the admin routes (Authorization: Bearer <token>).
	// Empty leaves the admin routes out altogether.
	AdminToken string
}

// defaultMaxBody fits the frontend's body (about 600 bytes) many times over.
const defaultMaxBody = 16 << 10

// mountIntake adds the application and admin routes to r.
func mountIntake(r chi.Router, cfg IntakeConfig, log zerolog.Logger) {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	clientIP := middleware.ClientIPFromRemoteAddr
	if len(cfg.TrustedProxies) > 0 {
		clientIP = middleware.ClientIPFromXFF(cfg.TrustedProxies...)
	}
	h := &intakeHandlers{cfg: cfg, log: log}

	r.Group(func(r chi.Router) {
		r.Use(cors.Handler(corsOptions(cfg.AllowedOrigins)))
		r.Use(clientIP, rateLimit(cfg))
		r.Post("/api/application", h.submit)
		r.Get("/api/application", h.pending)
		r.Get("/api/application/{entityId}", h.status)
		// Registered so that a browser's preflight reaches the CORS
		// middleware (chi answers an unrouted method with 405 first).
		r.Options("/api/application", noContent)
		r.Options("/api/application/{entityId}", noContent)
	})
	if cfg.AdminToken != "" && cfg.DeadLetters != nil {
		// A separate limiter, so a flood of public posts cannot lock the
		// operator out, and guessing the token is throttled too.
		r.Group(func(r chi.Router) {
			r.Use(clientIP, rateLimit(cfg), bearer(cfg.AdminToken, "admin"))
			r.Get("/api/admin/deadletters", h.listDeadLetters)
			r.Get("/api/admin/deadletters/{id}", h.showDeadLetter)
			r.Post("/api/admin/deadletters/{id}/replay", h.replayDeadLetter)
		})
	}
}

// corsOptions allows browsers on exactly the listed origins, compared
// without regard to case. go-chi/cors reads an empty AllowedOrigins, and a
// "*" in it, as "every origin"; an allow function that knows only the list
// keeps empty meaning none, as INTAKE_CORS_ORIGINS promises, and "*" a
// string no browser sends.
func corsOptions(origins []string) cors.Options {
	allowed := slices.Clone(origins)
	return cors.Options{
		AllowOriginFunc: func(_ *http.Request, origin string) bool {
			return slices.ContainsFunc(allowed, func(o string) bool { return strings.EqualFold(o, origin) })
		},
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Accept"},
		MaxAge:         600,
	}
}

// rateLimit is a per-client limiter of its own (each call makes one, with
// its own counters); clients are keyed by the IP the ClientIPFrom*
// middleware resolved, IPv6 by /64. A client left unresolved (fail-closed
// X-Forwarded-For) shares one bucket with the others so: strict, not open.
func rateLimit(cfg IntakeConfig) func(http.Handler) http.Handler {
	if cfg.RateLimit <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return httprate.LimitBy(cfg.RateLimit, cfg.RateWindow, func(r *http.Request) (string, error) {
		return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())), nil
	}, httprate.WithLimitHandler(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "too many requests"})
	}))
}

type intakeHandlers struct {
	cfg IntakeConfig
	log zerolog.Logger
}

// errorBody is every error answer: a message, and for a refused
// application the field at fault, the reason and the class.
type errorBody struct {
	Error    string           `json:"error"`
	Field    string           `json:"field,omitempty"`
	Reason   string           `json:"reason,omitempty"`
	Class    string           `json:"class,omitempty"`
	Problems []stream.Problem `json:"problems,omitempty"`
	Limit    int64            `json:"limit,omitempty"`
}

// acceptedBody is the answer to an accepted application: JSON by default.
// The old API's bare entry id is given to a client that asks for
// text/plain only.
type acceptedBody struct {
	EntryID  string `json:"entryId"`
	EntityID string `json:"entityId"`
	Existing bool   `json:"existing"`
	Deferred string `json:"deferred,omitempty"`
}

func (h *intakeHandlers) submit(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Enabled {
		w.Header().Set("Retry-After", "300")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "intake is switched off"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: "content type must be application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: "body too large", Limit: tooBig.Limit})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "body could not be read"})
		return
	}
	acc, err := h.cfg.Service.Submit(r.Context(), body)
	if err != nil {
		h.writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if wantsPlainText(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, acc.EntryID)
		return
	}
	writeJSON(w, http.StatusOK, acceptedBody{EntryID: acc.EntryID, EntityID: acc.EntityID, Existing: acc.Existing, Deferred: acc.Deferred})
}

// wantsPlainText reports an Accept header that names text/plain and not
// application/json: the frontend's old API client, which read the bare
// entry id. Anything else (no Accept, */*, JSON) gets JSON, whose entityId
// is what the status route takes.
func wantsPlainText(r *http.Request) bool {
	plain := false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		switch {
		case err != nil:
		case mt == "application/json":
			return false
		case mt == "text/plain":
			plain = true
		}
	}
	return plain
}

// writeError maps the intake's errors to answers. Internal error text is
// logged, never sent: it may name hosts of Redis or the node.
func (h *intakeHandlers) writeError(w http.ResponseWriter, err error) {
	var rej *intake.Rejection
	switch {
	case errors.As(err, &rej):
		status := http.StatusBadRequest
		if rej.Class == "signature_used" {
			status = http.StatusConflict
		}
		h.log.Debug().Str("field", rej.Field).Str("class", rej.Class).Str("reason", rej.Reason).Msg("application refused")
		writeJSON(w, status, errorBody{Error: "application rejected", Field: rej.Field, Reason: rej.Reason,
			Class: rej.Class, Problems: rej.Problems})
	case errors.Is(err, intake.ErrBadEntityID):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Field: "entityId"})
	case errors.Is(err, intake.ErrNotFound), errors.Is(err, intake.ErrDeadLetterNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error()})
	case errors.Is(err, intake.ErrNotReplayable):
		writeJSON(w, http.StatusConflict, errorBody{Error: intake.ErrNotReplayable.Error(), Reason: err.Error()})
	default:
		h.log.Warn().Err(err).Msg("intake request failed")
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "temporarily unavailable, retry"})
	}
}

func (h *intakeHandlers) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.cfg.Service.Status(r.Context(), chi.URLParam(r, "entityId"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
}

func (h *intakeHandlers) pending(w http.ResponseWriter, r *http.Request) {
	addr := r.URL.Query().Get("address")
	if !common.IsHexAddress(addr) || !strings.HasPrefix(addr, "0x") {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "address must be a 0x address", Field: "address"})
		return
	}
	apps, err := h.cfg.Service.Pending(r.Context(), common.HexToAddress(addr))
	if err != nil {
		h.writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, apps)
}

func (h *intakeHandlers) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > intake.MaxPage {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "limit must be 1.." + strconv.Itoa(intake.MaxPage), Field: "limit"})
			return
		}
		limit = n
	}
	before := r.URL.Query().Get("before")
	if before != "" && stream.EntryTime(before).IsZero() {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "before must be a stream entry id", Field: "before"})
		return
	}
	page, err := h.cfg.DeadLetters.List(r.Context(), before, limit)
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (h *intakeHandlers) showDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if stream.EntryTime(id).IsZero() {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "id must be a stream entry id", Field: "id"})
		return
	}
	d, err := h.cfg.DeadLetters.Show(r.Context(), id)
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *intakeHandlers) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if stream.EntryTime(id).IsZero() {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "id must be a stream entry id", Field: "id"})
		return
	}
	res, err := h.cfg.DeadLetters.Replay(r.Context(), id)
	if err != nil {
		h.writeError(w, err)
		return
	}
	h.log.Info().Str("dead_letter", id).Str("entityId", res.EntityID).Str("entry", res.EntryID).
		Bool("existing", res.Existing).Msg("dead letter replayed")
	writeJSON(w, http.StatusOK, res)
}

// noContent answers an OPTIONS request that is not a CORS preflight.
func noContent(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"encode answer"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
