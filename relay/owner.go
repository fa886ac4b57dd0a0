package relay

import (
	"context"
	"errors"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/stream"
)

// The pool-wide claim on an application (invariant 9; stream/owner.go).
// Before a key signs for an application it claims the application's
// signature for its wallet, and it gives the claim up once the outcome is
// settled. A candidate whose claim another key holds is not signed: it
// waits (entryWaits) and is simulated again later, when the owner's outcome
// shows on chain (SIGNATURE_USED, resolved as the pool's own success) or the
// owner gave the application up.

// errOwnedElsewhere is why a candidate waits: another key of the pool owns
// its application.
var errOwnedElsewhere = errors.New("another key of the pool owns this application: following its outcome")

// walletHex is this relay's wallet as the pool's keys name it.
func (r *core) walletHex() string { return strings.ToLower(r.signer.Address().Hex()) }

// live reports whether a key is held by a live process; without a pool
// every other key is taken to be live, so nothing is taken over from it.
func (r *core) live(ctx context.Context, wallet string) (bool, error) {
	if r.cfg.Pool == nil {
		return true, nil
	}
	return r.cfg.Pool.Live(ctx, wallet)
}

// claimOwners takes the pool-wide claims of the ready candidates in one
// round trip and returns those this key may sign for. A claim held by
// another key is taken over only when it is stale (its entry acknowledged,
// or its key held by nobody and the claim not journaled); otherwise the
// candidate waits.
func (r *submitter) claimOwners(ctx context.Context, ready []*candidate) ([]*candidate, error) {
	if len(ready) == 0 {
		return nil, nil
	}
	claims := make([]stream.OwnerClaim, len(ready))
	for i, cd := range ready {
		claims[i] = stream.OwnerClaim{SigHash: cd.app.sigHash, EntryID: cd.entry.ID}
	}
	me := r.walletHex()
	c, cancel := r.rpcCtx(ctx)
	owners, err := r.queue.ClaimOwners(c, me, claims...)
	cancel()
	if err != nil {
		r.metrics.RedisError("claim_owner")
		return nil, err
	}
	out := ready[:0:0]
	for i, cd := range ready {
		o := owners[i]
		if o.Wallet == me {
			out = append(out, cd)
			continue
		}
		ok, err := r.takeStaleOwner(ctx, cd, o)
		if err != nil {
			r.entryWaits(cd.entry, err, cd.log)
			continue
		}
		if !ok {
			cd.log.Info().Str("owner", o.Wallet).Str("owner_entry", o.EntryID).Msg("application owned by another key of the pool, following its outcome")
			r.entryWaits(cd.entry, errOwnedElsewhere, cd.log)
			continue
		}
		out = append(out, cd)
	}
	return out, nil
}

// takeStaleOwner moves another key's claim to this one if it is stale.
func (r *submitter) takeStaleOwner(ctx context.Context, cd *candidate, o stream.Owner) (bool, error) {
	c, cancel := context.WithTimeout(ctx, 2*r.cfg.RPCTimeout)
	defer cancel()
	stale, err := r.queue.OwnerStale(c, o, r.live)
	if err != nil || !stale {
		return false, err
	}
	taken, err := r.queue.TakeOwner(c, cd.app.sigHash, o, r.walletHex(), cd.entry.ID)
	if err == nil && taken {
		cd.log.Warn().Str("previous_owner", o.Wallet).Str("previous_entry", o.EntryID).
			Msg("took over a stale claim on the application")
	}
	return taken, err
}

// releaseOwners gives up this key's claims on settled applications. A
// failure is only logged: the claim is then stale (its entry acknowledged)
// and the next key to need it takes it over.
func (r *core) releaseOwners(ctx context.Context, apps ...*carried) {
	var hs []common.Hash
	for _, a := range apps {
		if a != nil {
			hs = append(hs, a.sigHash)
		}
	}
	if len(hs) == 0 {
		return
	}
	if err := r.queue.ReleaseOwners(ctx, r.walletHex(), hs...); err != nil && ctx.Err() == nil {
		r.metrics.RedisError("release_owner")
		r.log.Warn().Err(err).Int("applications", len(hs)).Msg("release of settled applications' claims failed; they are stale now")
	}
}

// ours reports whether from is a wallet of the pool; members is read once
// per call site and passed in (nil: not read yet).
func (r *core) ours(ctx context.Context, from common.Address, members *map[common.Address]bool) (bool, error) {
	if from == r.signer.Address() {
		return true, nil
	}
	if r.cfg.Pool == nil {
		return false, nil
	}
	if *members == nil {
		m, err := r.cfg.Pool.Members(ctx)
		if err != nil {
			return false, err
		}
		*members = m
	}
	return (*members)[from], nil
}
