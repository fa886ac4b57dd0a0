package intake

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/stream"
)

// Chain is what the intake asks of a node; *chain.Client has it.
type Chain interface {
	ChainID(ctx context.Context) (*big.Int, error)
	CallContract(ctx context.Context, msg ethereum.CallMsg, block *big.Int) ([]byte, error)
	EstimateGas(ctx context.Context, msg ethereum.CallMsg) (uint64, error)
}

// Publisher stores an application once per claim; *stream.Publisher has it.
type Publisher interface {
	Lookup(ctx context.Context, claimID string) (stream.Published, bool, error)
	Publish(ctx context.Context, pub stream.Publication) (stream.Published, error)
}

// Observer receives what the intake decides; *Metrics has it.
type Observer interface {
	Submitted(outcome string, took time.Duration)
}

// Config holds the intake's settings.
type Config struct {
	// Product is the DepegProduct the applications are for.
	Product *chain.Product
	// From is the relay's wallet: the simulation runs as the transaction
	// the relay would send.
	From common.Address
	// ChainID, when known (the service read it at start), saves the intake
	// its own look-up; nil asks the node once.
	ChainID *big.Int
	// RPCTimeout bounds each call to the node.
	RPCTimeout time.Duration
	// BatchContract is BATCH_CONTRACT_ADDRESS: with it, the status of a
	// submitted application says its place in a batch transaction (one
	// more node call); zero leaves it out.
	BatchContract common.Address
}

// Service takes applications. Its methods may be called concurrently.
type Service struct {
	cfg     Config
	log     zerolog.Logger
	chain   Chain
	pub     Publisher
	status  *stream.StatusStore
	queue   QueueReader
	metrics Observer

	// The EIP-712 domain never changes for a deployed product: the chain
	// id and the helper address are read once, on first use, and kept.
	domMu sync.Mutex
	dom   *chain.PolicyDomain
}

// QueueReader reads application hashes; *stream.Queue has it.
type QueueReader interface {
	LoadApplications(ctx context.Context, entityIDs []string) ([]map[string]string, []error, error)
}

// New wires a Service; it calls nothing yet. metrics may be nil.
func New(cfg Config, log zerolog.Logger, c Chain, pub Publisher, status *stream.StatusStore, queue QueueReader, metrics Observer) *Service {
	if cfg.RPCTimeout <= 0 {
		cfg.RPCTimeout = 10 * time.Second
	}
	if metrics == nil {
		metrics = nopMetrics{}
	}
	return &Service{cfg: cfg, log: log, chain: c, pub: pub, status: status, queue: queue, metrics: metrics}
}

type nopMetrics struct{}

func (nopMetrics) Submitted(string, time.Duration) {}

// Accepted is the answer to an accepted application.
type Accepted struct {
	EntityID string
	// EntryID is the stream entry id, the old API's answer.
	EntryID string
	// Existing is set when the same signature had been accepted before:
	// the answer is the first one's.
	Existing bool
	// Deferred names a transient revert (product paused) the application
	// was queued in spite of; the relay retries it.
	Deferred string
}

// Submit checks an application posted as the frontend's JSON body and
// queues it. The checks run cheapest first: the body and its fields (the
// one validator, stream.DecodeApplication), the EIP-712 signature (no
// network once the domain is cached), whether the signature was accepted
// before (one Redis read: then the first answer is repeated without asking
// the chain, which would now say SIGNATURE_USED), and the simulation (one
// eth_estimateGas). A final revert is refused; a transient one (product
// paused) is queued, as the relay would keep it.
//
// It returns a *Rejection for what the poster must fix and an error
// wrapping ErrUnavailable for what a retry may fix.
func (s *Service) Submit(ctx context.Context, body []byte) (acc Accepted, err error) {
	start := time.Now()
	defer func() { s.metrics.Submitted(outcome(acc, err), time.Since(start)) }()

	raw, problems := Fields(body)
	if problems != nil {
		return Accepted{}, malformed(problems)
	}
	entityID := ulid.MustNew(ulid.Now(), rand.Reader).String()
	app, err := stream.DecodeApplication(entityID, raw)
	if err != nil {
		return Accepted{}, malformed(stream.Problems(err))
	}
	args := chain.ApplicationArgs{
		PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
		ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID,
		SignatureID: app.SignatureID32, Signature: app.Signature,
	}
	dom, err := s.domain(ctx)
	if err != nil {
		return Accepted{}, err
	}
	if err := chain.VerifyPolicySignature(dom, args); err != nil {
		var rev *chain.RevertError
		if errors.As(err, &rev) {
			return Accepted{}, fromRevert(rev)
		}
		return Accepted{}, fmt.Errorf("verify signature: %w", err)
	}

	claim := stream.SignatureClaimID(crypto.Keccak256Hash(app.Signature))
	prior, claimed, err := s.pub.Lookup(ctx, claim)
	if err != nil {
		return Accepted{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if claimed && prior.EntryID != "" {
		return Accepted{EntityID: prior.EntityID, EntryID: prior.EntryID, Existing: true}, nil
	}
	var deferred string
	if !claimed {
		// An unfinished claim is not simulated again: its first caller
		// did, and the relay may already have applied the entry it wrote
		// before crashing (the chain would now say SIGNATURE_USED); Publish
		// finds that entry and completes the claim.
		if deferred, err = s.simulate(ctx, args); err != nil {
			return Accepted{}, err
		}
	}

	res, err := s.pub.Publish(ctx, stream.Publication{
		ClaimID: claim, EntityID: entityID, Fields: canonicalFields(app),
		StampTimestamp: true, Holder: app.PolicyHolder,
	})
	if err != nil {
		return Accepted{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	acc = Accepted{EntityID: res.EntityID, EntryID: res.EntryID, Existing: res.Existing, Deferred: deferred}
	if !res.Existing {
		s.log.Info().Str("entry", res.EntryID).Str("entityId", res.EntityID).Str("signatureId", app.SignatureID).
			Str("deferred", deferred).Msg("application accepted")
	}
	return acc, nil
}

// simulate runs the call the relay would send. A final revert is a
// *Rejection; a transient one (product paused) is returned as deferred, the
// application still to be queued; no answer is ErrUnavailable.
func (s *Service) simulate(ctx context.Context, args chain.ApplicationArgs) (deferred string, err error) {
	call, err := s.cfg.Product.Apply(args)
	if err != nil {
		return "", malformed([]stream.Problem{{Reason: err.Error()}})
	}
	c, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	defer cancel()
	if _, err := s.chain.EstimateGas(c, call.Msg(s.cfg.From)); err != nil {
		rev := chain.AsRevert(err)
		switch {
		case rev == nil:
			return "", fmt.Errorf("%w: simulate application: %w", ErrUnavailable, err)
		case rev.Class.Final():
			return "", fromRevert(rev)
		default:
			return rev.Reason, nil
		}
	}
	return "", nil
}

// outcome is the bounded metric label of a Submit result.
func outcome(acc Accepted, err error) string {
	var rej *Rejection
	switch {
	case err == nil && acc.Existing:
		return "duplicate"
	case err == nil:
		return "accepted"
	case errors.As(err, &rej):
		return rej.Class
	default:
		return "unavailable"
	}
}

// domain returns the EIP-712 domain, reading it from the node on first use.
// Concurrent first requests wait for one look-up instead of each making
// their own; a failed look-up is not cached.
func (s *Service) domain(ctx context.Context) (chain.PolicyDomain, error) {
	s.domMu.Lock()
	defer s.domMu.Unlock()
	if s.dom != nil {
		return *s.dom, nil
	}
	c, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	defer cancel()
	id := s.cfg.ChainID
	if id == nil {
		var err error
		if id, err = s.chain.ChainID(c); err != nil {
			return chain.PolicyDomain{}, fmt.Errorf("%w: read chain id: %w", ErrUnavailable, err)
		}
	}
	out, err := s.chain.CallContract(c, s.cfg.Product.MessageHelperCall().Msg(common.Address{}), nil)
	if err != nil {
		return chain.PolicyDomain{}, fmt.Errorf("%w: read message helper address: %w", ErrUnavailable, err)
	}
	helper, err := s.cfg.Product.DecodeMessageHelper(out)
	if err != nil {
		return chain.PolicyDomain{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.dom = &chain.PolicyDomain{ChainID: new(big.Int).Set(id), VerifyingContract: helper}
	return *s.dom, nil
}

// canonicalFields is a validated application in the frontend's hash layout
// (as frontend.Fields writes it): checksummed addresses, decimal numbers,
// lower-case 0x signature. The timestamp is stamped by the publisher.
func canonicalFields(app stream.Application) map[string]string {
	return map[string]string{
		stream.FieldPolicyHolder:     app.PolicyHolder.Hex(),
		stream.FieldProtectedWallet:  app.ProtectedWallet.Hex(),
		stream.FieldProtectedBalance: app.ProtectedBalance.String(),
		stream.FieldDuration:         app.Duration.String(),
		stream.FieldBundleID:         app.BundleID.String(),
		stream.FieldSignatureID:      app.SignatureID,
		stream.FieldSignature:        hexutil.Encode(app.Signature),
	}
}
