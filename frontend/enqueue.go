package frontend

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/stream"
)

// Enqueue stores an application and hands it to the relay the way the
// frontend does: HSET PendingApplication:<entityID> with fields, then
// XADD streamKey * entityId <entityID>, and returns the stream entry id.
//
// The two commands are separate on purpose: the keys carry no hash tag, so
// on Redis Cluster no MULTI may span them, and the relay must cope with a
// frontend that dies between them (entry never written) or with an entry
// whose hash is not there.
func Enqueue(ctx context.Context, rdb redis.Cmdable, streamKey, entityID string, fields map[string]string) (string, error) {
	if err := rdb.HSet(ctx, stream.ApplicationKey(entityID), fields).Err(); err != nil {
		return "", fmt.Errorf("enqueue %s: hset: %w", entityID, err)
	}
	id, err := xadd(ctx, rdb, streamKey, map[string]any{StreamFieldEntityID: entityID})
	if err != nil {
		return "", fmt.Errorf("enqueue %s: %w", entityID, err)
	}
	return id, nil
}

func xadd(ctx context.Context, rdb redis.Cmdable, streamKey string, values map[string]any) (string, error) {
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: streamKey, Values: values}).Result()
	if err != nil {
		return "", fmt.Errorf("xadd %s: %w", streamKey, err)
	}
	return id, nil
}

// BadCase is malformed input the relay must turn into a dead letter without
// stopping (invariant 4; docs/design.md, "Invariants").
type BadCase struct {
	// Name identifies the case in test names.
	Name string
	// EntityID is the entityId of the stream entry (unused with RawEntry).
	EntityID string
	// Fields is the hash written under PendingApplication:<EntityID>.
	Fields map[string]string
	// WantReasonContains is a word the dead letter's reason should contain.
	WantReasonContains string
	// NoHash means only the stream entry is written, as when the frontend
	// died between its two commands or the hash was removed.
	NoHash bool
	// RawEntry, when set, is written as the stream entry's fields instead of
	// entityId, and no hash is written.
	RawEntry map[string]any
}

// BadCases returns one fresh instance of each kind of malformed input, signed
// (where a signature matters) for chainID and verifyingContract so that only
// the intended defect is wrong. Entity and signature ids are new on each call.
func BadCases(chainID *big.Int, verifyingContract common.Address) ([]BadCase, error) {
	mutations := []struct {
		name, want string
		mutate     func(app *Application, fields map[string]string) error
	}{
		{"bad-policy-holder", "policyHolder", func(_ *Application, f map[string]string) error {
			f[FieldPolicyHolder] = "0xnot-an-address"
			return nil
		}},
		{"bad-protected-balance", "protectedBalance", func(_ *Application, f map[string]string) error {
			f[FieldProtectedBalance] = "abc"
			return nil
		}},
		{"long-signature-id", "signatureId", func(_ *Application, f map[string]string) error {
			id, err := randomID(40)
			f[FieldSignatureID] = id
			return err
		}},
		{"escape-signature-id", "signatureId: has a non-printable character U+001B", func(_ *Application, f map[string]string) error {
			// A terminal title sequence: refused, never relayed or printed raw.
			f[FieldSignatureID] = "\x1b]0;pwned\x07V1StGXR8"
			return nil
		}},
		{"missing-signature", "signature", func(_ *Application, f map[string]string) error {
			delete(f, FieldSignature)
			return nil
		}},
		{"wrong-signer", "SIGNATURE_INVALID", func(app *Application, f map[string]string) error {
			// Well-formed signature over the same message by another key,
			// while the hash still names the original policy holder.
			holder := app.PolicyHolder
			other, err := crypto.GenerateKey()
			if err != nil {
				return fmt.Errorf("generate key: %w", err)
			}
			if err := Sign(other, chainID, verifyingContract, app); err != nil {
				return err
			}
			app.PolicyHolder = holder
			for k, v := range Fields(app) {
				f[k] = v
			}
			return nil
		}},
		{"bundle-id-zero", "BUNDLE_ID_ZERO", func(app *Application, f map[string]string) error {
			// Signed with bundle 0, so the signature is valid and only the
			// bundle is wrong.
			key, err := crypto.GenerateKey()
			if err != nil {
				return fmt.Errorf("generate key: %w", err)
			}
			app.BundleID = big.NewInt(0)
			if err := Sign(key, chainID, verifyingContract, app); err != nil {
				return err
			}
			for k, v := range Fields(app) {
				f[k] = v
			}
			return nil
		}},
	}
	var cases []BadCase
	for _, m := range mutations {
		app, err := NewSigned(chainID, verifyingContract, 1)
		if err != nil {
			return nil, fmt.Errorf("bad case %s: %w", m.name, err)
		}
		fields := Fields(app)
		if err := m.mutate(app, fields); err != nil {
			return nil, fmt.Errorf("bad case %s: %w", m.name, err)
		}
		cases = append(cases, BadCase{Name: m.name, EntityID: NewEntityID(), Fields: fields, WantReasonContains: m.want})
	}

	missing, err := NewSigned(chainID, verifyingContract, 1)
	if err != nil {
		return nil, fmt.Errorf("bad case missing-hash: %w", err)
	}
	cases = append(cases,
		BadCase{Name: "missing-hash", EntityID: NewEntityID(), Fields: Fields(missing), WantReasonContains: "missing", NoHash: true},
		BadCase{Name: "no-entity-id", RawEntry: map[string]any{"foo": "bar"}, WantReasonContains: "entityId"},
	)
	return cases, nil
}

// EnqueueBadCase writes bc to Redis as a broken or careless frontend would and
// returns the stream entry id.
func EnqueueBadCase(ctx context.Context, rdb redis.Cmdable, streamKey string, bc BadCase) (string, error) {
	switch {
	case bc.RawEntry != nil:
		id, err := xadd(ctx, rdb, streamKey, bc.RawEntry)
		if err != nil {
			return "", fmt.Errorf("enqueue bad case %s: %w", bc.Name, err)
		}
		return id, nil
	case bc.NoHash:
		id, err := xadd(ctx, rdb, streamKey, map[string]any{StreamFieldEntityID: bc.EntityID})
		if err != nil {
			return "", fmt.Errorf("enqueue bad case %s: %w", bc.Name, err)
		}
		return id, nil
	default:
		id, err := Enqueue(ctx, rdb, streamKey, bc.EntityID, bc.Fields)
		if err != nil {
			return "", fmt.Errorf("enqueue bad case %s: %w", bc.Name, err)
		}
		return id, nil
	}
}
