package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// FuzzAsRevert feeds JSON-RPC errors as a node (or anything posing as one)
// might answer eth_call and eth_estimateGas. Properties: no panic; a revert
// is recognised exactly when the data holds revert bytes or the message
// says "execution reverted"; an Error(string) payload is decoded to its
// reason; the class is always the reason's; wrapping the error keeps what
// its data says.
func FuzzAsRevert(f *testing.F) {
	for _, seed := range []struct{ msg, data string }{
		{"execution reverted", revertData("ERROR:DMH-001:SIGNATURE_USED")},
		{"execution reverted: ERROR:DP-010:PRODUCT_NOT_ACTIVE", revertData("ERROR:DP-010:PRODUCT_NOT_ACTIVE")},
		{"execution reverted", revertData("")},
		{"execution reverted", revertData("\xff\xfe not utf-8")},
		{"execution reverted", "0x"},
		{"execution reverted", ""},
		{"execution reverted", "0xdeadbeef"},                            // a custom error
		{"execution reverted", "0x08c379a0"},                            // Error(string) without its argument
		{"execution reverted", "0x08c379a0" + strings.Repeat("f", 128)}, // a length past the data
		{"execution reverted:", "not hex"},
		{"execution reverted: ", "0xzz"},
		{"gas required exceeds allowance (30000000)", ""},
		{"VM Exception while processing transaction: revert", ""},
		{"reverted", revertData("ECDSA: invalid signature")},
		{"", ""},
		{"429 Too Many Requests", ""},
	} {
		f.Add(seed.msg, seed.data, true)
		f.Add(seed.msg, seed.data, false)
	}
	f.Fuzz(func(t *testing.T, msg, data string, withData bool) {
		var err error = errors.New(msg)
		if withData {
			err = rpcDataError{msg: msg, data: data}
		}
		rev := AsRevert(err)

		raw, decErr := hexutil.Decode(data)
		fromData := withData && decErr == nil && len(raw) > 0
		fromMsg := strings.HasPrefix(msg, "execution reverted")
		if (rev != nil) != (fromData || fromMsg) {
			t.Fatalf("AsRevert(%q, data %q, %t) = %v; revert bytes in data %t, message says reverted %t",
				msg, data, withData, rev, fromData, fromMsg)
		}
		if rev == nil {
			return
		}
		if rev.Class != ClassifyRevert(rev.Reason) {
			t.Fatalf("reason %q classified %v, but ClassifyRevert says %v", rev.Reason, rev.Class, ClassifyRevert(rev.Reason))
		}
		if rev.Error() != "execution reverted: "+rev.Reason {
			t.Fatalf("Error() = %q for reason %q", rev.Error(), rev.Reason)
		}
		if rev.Reason == "" {
			t.Fatalf("empty reason for %q, data %q", msg, data)
		}
		if fromData {
			if reason, uerr := abi.UnpackRevert(raw); uerr == nil && rev.Reason != reason && (reason != "" || rev.Reason != noReason) {
				t.Fatalf("Error(string) %q decoded as %q", reason, rev.Reason)
			}
			wrapped := AsRevert(fmt.Errorf("estimate gas: %w", err))
			if wrapped == nil || *wrapped != *rev {
				t.Fatalf("wrapping changed the revert: %v, then %v", rev, wrapped)
			}
		}
	})
}

// asciiUpper upper-cases ASCII letters only, so that lower-casing undoes it
// exactly.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// FuzzClassifySendError feeds eth_sendRawTransaction answers: nodes and
// providers only give text here. Properties: no panic; the action is one of
// the five; the case of the text and a wrapping prefix do not change it;
// deadline and cancellation are always "unknown" (the node may have the
// transaction).
func FuzzClassifySendError(f *testing.F) {
	for _, s := range []string{
		"already known", "known transaction: 0xabc", "ALREADY IMPORTED", "nonce too low: next nonce 5, tx nonce 3",
		"nonce has already been used", "replacement transaction underpriced", "transaction underpriced",
		"txpool is full", "account limit exceeded: 16", "too many pending transactions", "in-flight transaction limit reached",
		"insufficient funds for gas * price + value", "max fee per gas less than block base fee", "fee cap less than block base fee",
		"nonce too high", "dial tcp 127.0.0.1:8545: connect: connection refused", "unexpected EOF", "i/o timeout",
		"429 Too Many Requests", "502 Bad Gateway", "503 Service Unavailable", "", "\xff\xfe", "invalid sender",
		"already known nonce too low", "Nonce Too Low", "exceeds block gas limit",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		err := errors.New(msg)
		got := ClassifySendError(err)
		if got < SendOK || got > SendPoolFull {
			t.Fatalf("%q: action %d out of range", msg, got)
		}
		if up := ClassifySendError(errors.New(asciiUpper(msg))); up != got {
			t.Fatalf("%q: %v, but %v in upper case", msg, got, up)
		}
		if w := ClassifySendError(fmt.Errorf("eth_sendRawTransaction: %w", err)); w != got {
			t.Fatalf("%q: %v, but %v wrapped", msg, got, w)
		}
		for _, cause := range []error{context.DeadlineExceeded, context.Canceled} {
			if a := ClassifySendError(fmt.Errorf("%s: %w", msg, cause)); a != SendUnknown {
				t.Fatalf("%q with %v: %v, want SendUnknown", msg, cause, a)
			}
		}
	})
}
