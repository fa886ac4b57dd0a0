package stream_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/etherisc/depeg-relay/stream"
)

// fuzzFieldNames orders the PendingApplication fields the fuzz targets vary.
var fuzzFieldNames = []string{
	stream.FieldPolicyHolder, stream.FieldProtectedWallet, stream.FieldProtectedBalance,
	stream.FieldDuration, stream.FieldBundleID, stream.FieldSignatureID, stream.FieldSignature,
	stream.FieldTransactionHash, stream.FieldTimestamp,
}

// maxUint256 bounds the decoded amounts.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// FuzzDecodeApplication feeds hashes as the frontend (or anyone with write
// access to Redis) might store them. Properties: no panic; an error is
// ErrInvalidApplication, readable (valid UTF-8, bounded however large the
// input) and names a field; an accepted application is in range and, written
// back in canonical form, decodes to the same application.
func FuzzDecodeApplication(f *testing.F) {
	sig := "0x" + strings.Repeat("ab", 64) + "1b"
	valid := []string{"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
		"5000000000", "2592000", "7", "V1StGXR8_Z5jdHi6B-myT", sig, "", "1732380000.123"}
	seeds := [][]string{
		valid,
		// All upper-case hex, maximal uint256, a transaction hash, integer time.
		{"0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266", "0x70997970C51812DC3A010C7D01B50E0D17DC79C8",
			maxUint256.String(), "0", "1", strings.Repeat("é", 15), sig, "0x" + strings.Repeat("0f", 32), "1732380000"},
		// Invalid: bad checksum, overflow, 32-byte signatureId, short signature, bad hash, odd times.
		{"0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x1234", "1" + strings.Repeat("0", 80), "-1", "abc",
			strings.Repeat("x", 32), "0xabcd", "0x12", "1e300"},
		{"", "", "", "", "", "", "", "", ""},
		{"0x" + strings.Repeat("zz", 20), "\xff\xfe", "+5", " 7", "0x10", "\xff", "0x" + strings.Repeat("zz", 65), strings.Repeat("0x", 40), "Inf"},
		{valid[0], valid[1], valid[2], valid[3], valid[4], valid[5], valid[6], "", "NaN"},
		{valid[0], valid[1], valid[2], valid[3], valid[4], valid[5], valid[6], "", "Inf"},
		{valid[0], valid[1], valid[2], valid[3], valid[4], valid[5], valid[6], "", "1e300"},
		{valid[0], valid[1], valid[2], valid[3], valid[4], valid[5], valid[6], "", "-1732380000"},
		// Terminal escapes and reordering in the signatureId (issue 19).
		{valid[0], valid[1], valid[2], valid[3], valid[4], "\x1b]0;pwned\x07", valid[6], "", ""},
		{valid[0], valid[1], valid[2], valid[3], valid[4], "ok\r\x1b[2K\x1b[1A", valid[6], "", ""},
		{valid[0], valid[1], valid[2], valid[3], valid[4], "id\u202e\u009b", valid[6], "", ""},
	}
	for _, s := range seeds {
		f.Add("01ENTITY", s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])
	}
	f.Add("01ENTITY\x1b[2J", valid[0], valid[1], valid[2], valid[3], valid[4], valid[5], valid[6], valid[7], valid[8])
	f.Fuzz(func(t *testing.T, entityID, holder, wallet, balance, duration, bundle, sigID, signature, txHash, ts string) {
		fields := map[string]string{}
		for i, v := range []string{holder, wallet, balance, duration, bundle, sigID, signature, txHash, ts} {
			if v != "" { // "" stands for an absent field too; both are "missing"
				fields[fuzzFieldNames[i]] = v
			}
		}
		app, err := stream.DecodeApplication(entityID, fields)
		if err != nil {
			checkReadableError(t, err, fields)
			return
		}
		checkInRange(t, app)
		again, err := stream.DecodeApplication(entityID, canonicalFields(app))
		if err != nil {
			t.Fatalf("accepted application does not re-validate: %v\nfields %q", err, fields)
		}
		if !sameApplication(app, again) {
			t.Fatalf("re-decoded application differs:\n%+v\n%+v", app, again)
		}
	})
}

func checkReadableError(t *testing.T, err error, fields map[string]string) {
	t.Helper()
	if !errors.Is(err, stream.ErrInvalidApplication) {
		t.Fatalf("error %v is not ErrInvalidApplication", err)
	}
	msg := err.Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("error is not valid UTF-8: %q", msg)
	}
	// Each problem quotes at most 80 bytes of input (escaped), so the
	// message stays small whatever the hash holds.
	if len(msg) > 4096 {
		t.Fatalf("error is %d bytes long", len(msg))
	}
	for _, r := range msg {
		if !unicode.IsPrint(r) {
			t.Fatalf("error carries a non-printable character %U: %q", r, msg)
		}
	}
	named := strings.Contains(msg, stream.FieldEntityID+":")
	for _, name := range fuzzFieldNames {
		named = named || strings.Contains(msg, name+":")
	}
	if !named {
		t.Fatalf("error names no field: %q (fields %q)", msg, fields)
	}
}

func checkInRange(t *testing.T, app stream.Application) {
	t.Helper()
	for name, v := range map[string]*big.Int{"protectedBalance": app.ProtectedBalance, "duration": app.Duration, "bundleId": app.BundleID} {
		if v == nil || v.Sign() < 0 || v.Cmp(maxUint256) > 0 {
			t.Fatalf("%s = %v is not a uint256", name, v)
		}
	}
	if len(app.Signature) != 65 {
		t.Fatalf("signature is %d bytes", len(app.Signature))
	}
	if n := len(app.SignatureID); n == 0 || n >= 32 || !utf8.ValidString(app.SignatureID) ||
		string(app.SignatureID32[:n]) != app.SignatureID || strings.Trim(string(app.SignatureID32[n:]), "\x00") != "" {
		t.Fatalf("signatureId %q encodes as %x", app.SignatureID, app.SignatureID32)
	}
	for _, s := range []string{app.SignatureID, app.EntityID} {
		for _, r := range s {
			if !unicode.IsPrint(r) {
				t.Fatalf("accepted %q holds the non-printable %U", s, r)
			}
		}
	}
	if !app.CreatedAt.IsZero() && app.CreatedAt.Before(time.Unix(0, 0)) {
		t.Fatalf("CreatedAt %v is before the epoch", app.CreatedAt)
	}
}

// sameApplication compares what the contract call uses. CreatedAt is left
// out: float seconds may round by a millisecond, and it only feeds metrics.
// Amounts are compared by value (big.Int's internals may differ).
func sameApplication(a, b stream.Application) bool {
	return a.EntityID == b.EntityID && a.PolicyHolder == b.PolicyHolder && a.ProtectedWallet == b.ProtectedWallet &&
		a.ProtectedBalance.Cmp(b.ProtectedBalance) == 0 && a.Duration.Cmp(b.Duration) == 0 && a.BundleID.Cmp(b.BundleID) == 0 &&
		a.SignatureID == b.SignatureID && a.SignatureID32 == b.SignatureID32 && bytes.Equal(a.Signature, b.Signature) &&
		(a.TransactionHash == nil) == (b.TransactionHash == nil) && (a.TransactionHash == nil || *a.TransactionHash == *b.TransactionHash)
}

// canonicalFields writes an application back the way the frontend would.
func canonicalFields(app stream.Application) map[string]string {
	m := map[string]string{
		stream.FieldPolicyHolder:     app.PolicyHolder.Hex(),
		stream.FieldProtectedWallet:  app.ProtectedWallet.Hex(),
		stream.FieldProtectedBalance: app.ProtectedBalance.String(),
		stream.FieldDuration:         app.Duration.String(),
		stream.FieldBundleID:         app.BundleID.String(),
		stream.FieldSignatureID:      app.SignatureID,
		stream.FieldSignature:        "0x" + hex.EncodeToString(app.Signature),
	}
	if app.TransactionHash != nil {
		m[stream.FieldTransactionHash] = app.TransactionHash.Hex()
	}
	if !app.CreatedAt.IsZero() {
		m[stream.FieldTimestamp] = fmt.Sprintf("%.3f", float64(app.CreatedAt.UnixMilli())/1000)
	}
	return m
}

// FuzzEntryTime feeds stream ids. Properties: no panic; a non-zero time comes
// only from an id of the form <digits>-<digits>, and is exactly the
// milliseconds it names; an id Redis would write round-trips.
func FuzzEntryTime(f *testing.F) {
	for _, id := range []string{"1732380000123-0", "0-1", "9223372036854775807-18446744073709551615",
		"9223372036854775808-0", "", "-", "123", "123-", "-5-0", "+5-0", "12a-0", "1732380000123-0-0", "0x10-0", "١٢٣-0"} {
		f.Add(id, uint64(1732380000123), uint64(0))
	}
	f.Fuzz(func(t *testing.T, id string, ms, seq uint64) {
		got := stream.EntryTime(id)
		if !got.IsZero() {
			head, tail, ok := strings.Cut(id, "-")
			if !ok || !allDigits(head) || !allDigits(tail) {
				t.Fatalf("EntryTime(%q) = %v, want zero for an id not of the form <ms>-<seq>", id, got)
			}
			if n, err := strconv.ParseInt(head, 10, 64); err != nil || got.UnixMilli() != n {
				t.Fatalf("EntryTime(%q) = %d ms, want %s", id, got.UnixMilli(), head)
			}
		}
		redisID := fmt.Sprintf("%d-%d", ms, seq)
		want := time.Time{}
		if ms <= math.MaxInt64 {
			want = time.UnixMilli(int64(ms))
		}
		if got := stream.EntryTime(redisID); !got.Equal(want) {
			t.Fatalf("EntryTime(%q) = %v, want %v", redisID, got, want)
		}
	})
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
