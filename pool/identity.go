// Package pool makes the keys of every process on one stream one relayer
// (invariant 9; docs/design.md, "The pool is one system"): it says which
// wallets are ours (every key registered on the stream, and the old
// processor's wallets the operator names), whether a key is held by a live
// process, and it finishes the journals of keys that no live process holds,
// so that no entry waits for a relay that will never come back.
//
// It signs nothing: a journal it finishes is settled from receipts, or its
// entries are handed back to the pool, where a live key signs for them.
package pool

import (
	"context"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/lease"
)

// Registry is what the pool reads of the stream's bookkeeping;
// *stream.Queue has it.
type Registry interface {
	Wallets(ctx context.Context) ([]string, error)
}

// Identity answers "is this wallet ours?" and "is this key held?" for the
// relays of this process.
type Identity struct {
	rdb    redis.Cmdable
	reg    Registry
	legacy []common.Address
}

// NewIdentity builds the pool's identity from the registered wallets (reg)
// and the legacy wallets the operator names (LEGACY_PROCESSOR_ADDRESSES:
// the old processor's wallet, whose transactions created applications that
// may still wait for their acknowledgement). It touches nothing in Redis.
func NewIdentity(rdb redis.Cmdable, reg Registry, legacy []common.Address) *Identity {
	return &Identity{rdb: rdb, reg: reg, legacy: legacy}
}

// Members returns every wallet of the pool: one Redis round trip. A
// transaction sent from any of them is ours.
func (p *Identity) Members(ctx context.Context) (map[common.Address]bool, error) {
	ws, err := p.reg.Wallets(ctx)
	if err != nil {
		return nil, fmt.Errorf("pool members: %w", err)
	}
	out := make(map[common.Address]bool, len(ws)+len(p.legacy))
	for _, w := range ws {
		out[common.HexToAddress(w)] = true
	}
	for _, a := range p.legacy {
		out[a] = true
	}
	return out, nil
}

// Live reports whether some process holds wallet's lease (lower-case hex),
// as lease.HolderOf reads the key's value (a token, not lease.Released).
func (p *Identity) Live(ctx context.Context, wallet string) (bool, error) {
	v, err := p.rdb.Get(ctx, lease.Key(strings.ToLower(wallet))).Result()
	if err == redis.Nil {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read lease of %s: %w", wallet, err)
	}
	_, held := lease.HolderOf(v)
	return held, nil
}
