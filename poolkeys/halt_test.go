package poolkeys

import (
	"context"
	"errors"
	"testing"
)

// TestHalt: a halt stops the key's relay context with its cause, before
// or after the context exists, keeps the first cause, and touches neither
// the parent nor another key; done releases without a cause.
func TestHalt(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	first, second := errors.New("kms key a: sign: DisabledException (key unusable)"), errors.New("later")

	var h, other Halt
	ctx, done := h.Context(parent)
	defer done()
	octx, odone := other.Context(parent)
	defer odone()
	if h.Err() != nil || ctx.Err() != nil || h.relayContext() != ctx {
		t.Fatal("a fresh key is halted")
	}
	h.Halt(first)
	h.Halt(second)
	if !errors.Is(h.Err(), first) || !errors.Is(context.Cause(ctx), first) {
		t.Fatalf("Err %v, cause %v; want the first halt", h.Err(), context.Cause(ctx))
	}
	if parent.Err() != nil || octx.Err() != nil || other.Err() != nil {
		t.Fatal("halting one key stopped the parent or another key")
	}

	var early Halt
	early.Halt(first)
	ectx, edone := early.Context(parent)
	defer edone()
	if !errors.Is(context.Cause(ectx), first) {
		t.Fatal("a key halted before its relay started runs anyway")
	}

	var plain Halt
	pctx, pdone := plain.Context(parent)
	pdone()
	if pctx.Err() == nil || plain.Err() != nil {
		t.Fatal("done must end the context without halting the key")
	}
}
