package stream

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func validFields() map[string]string {
	return map[string]string{
		FieldPolicyHolder:     "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
		FieldProtectedWallet:  "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
		FieldProtectedBalance: "5000000000",
		FieldDuration:         "2592000",
		FieldBundleID:         "7",
		FieldSignatureID:      "V1StGXR8_Z5jdHi6B-myT",
		FieldSignature:        "0x" + strings.Repeat("ab", 64) + "1b",
		FieldTimestamp:        "1732380000.123",
	}
}

func TestDecodeApplicationValid(t *testing.T) {
	app, err := DecodeApplication("01ENTITY", validFields())
	if err != nil {
		t.Fatal(err)
	}
	if app.BundleID.Int64() != 7 || app.Duration.Int64() != 2592000 || len(app.Signature) != 65 {
		t.Fatalf("decoded %+v", app)
	}
	if string(app.SignatureID32[:21]) != "V1StGXR8_Z5jdHi6B-myT" || app.SignatureID32[21] != 0 {
		t.Fatalf("signatureId bytes32 %x", app.SignatureID32)
	}
	if app.CreatedAt.UnixMilli() != 1732380000123 {
		t.Fatalf("timestamp %v", app.CreatedAt)
	}
	if app.TransactionHash != nil {
		t.Fatalf("unexpected transaction hash")
	}
}

func TestDecodeApplicationInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"bad address", map[string]string{FieldPolicyHolder: "0x1234"}, "policyHolder"},
		{"bad checksum", map[string]string{FieldPolicyHolder: "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"}, "checksum"},
		{"protectedBalance abc", map[string]string{FieldProtectedBalance: "abc"}, "protectedBalance"},
		{"negative duration", map[string]string{FieldDuration: "-1"}, "duration"},
		{"too large", map[string]string{FieldBundleID: "1" + strings.Repeat("0", 80)}, "uint256"},
		{"signatureId 40 chars", map[string]string{FieldSignatureID: strings.Repeat("x", 40)}, "signatureId"},
		{"signatureId 32 bytes", map[string]string{FieldSignatureID: strings.Repeat("x", 32)}, "shorter than 32"},
		{"short signature", map[string]string{FieldSignature: "0xabcd"}, "signature"},
		{"non-hex signature", map[string]string{FieldSignature: "0x" + strings.Repeat("zz", 65)}, "not hex"},
		{"missing field", map[string]string{FieldSignature: ""}, "signature: missing"},
		{"bad tx hash", map[string]string{FieldTransactionHash: "0x12"}, "transactionHash"},
		// Text a terminal would act on: retitle (OSC), clear, move the
		// cursor back, ring, reorder (bidi override), hide (zero width).
		{"signatureId OSC title", map[string]string{FieldSignatureID: "\x1b]0;pwned\x07"}, "signatureId: has a non-printable character U+001B"},
		{"signatureId clear screen", map[string]string{FieldSignatureID: "ab\x1b[2J"}, "U+001B at byte 2"},
		{"signatureId carriage return", map[string]string{FieldSignatureID: "ok\rFAKE"}, "U+000D"},
		{"signatureId bell", map[string]string{FieldSignatureID: "a\a"}, "U+0007"},
		{"signatureId tab", map[string]string{FieldSignatureID: "a\tb"}, "U+0009"},
		{"signatureId C1 CSI", map[string]string{FieldSignatureID: "a\u009b2J"}, "U+009B"},
		{"signatureId DEL", map[string]string{FieldSignatureID: "a\x7f"}, "U+007F"},
		{"signatureId bidi override", map[string]string{FieldSignatureID: "abc\u202edef"}, "U+202E"},
		{"signatureId zero width joiner", map[string]string{FieldSignatureID: "a\u200db"}, "U+200D"},
		{"signatureId no-break space", map[string]string{FieldSignatureID: "a\u00a0b"}, "U+00A0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validFields()
			maps.Copy(f, tt.change)
			_, err := DecodeApplication("e", f)
			if !errors.Is(err, ErrInvalidApplication) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want ErrInvalidApplication mentioning %q", err, tt.want)
			}
		})
	}
}

// TestDecodeApplicationEntityID: the entity id comes from the stream entry
// and is printed by the on-call's commands: one with control characters is
// refused (the relay dead-letters it), and the reason does not carry it.
func TestDecodeApplicationEntityID(t *testing.T) {
	for _, id := range []string{"01ENTITY\x1b]0;x\x07", "\r01ENTITY", "01\u202eENTITY", "01\xffENTITY"} {
		_, err := DecodeApplication(id, validFields())
		if !errors.Is(err, ErrInvalidApplication) || !strings.Contains(err.Error(), "entityId: ") {
			t.Fatalf("entity %q: err %v, want ErrInvalidApplication naming entityId", id, err)
		}
		if p := Problems(err); len(p) != 1 || p[0].Field != FieldEntityID {
			t.Fatalf("entity %q: problems %+v", id, p)
		}
		// \xff is a byte, not a rune: ContainsAny would read it as U+FFFD.
		if strings.ContainsAny(err.Error(), "\x1b\r\x07\u202e") || strings.Contains(err.Error(), "\xff") {
			t.Fatalf("reason carries the raw id: %q", err)
		}
	}
	if _, err := DecodeApplication("01JBQ8ZV3Y6WJ3R9T2XG5K7M4N", validFields()); err != nil {
		t.Fatalf("ULID refused: %v", err)
	}
}

func TestDecodeApplicationReportsEveryProblem(t *testing.T) {
	_, err := DecodeApplication("e", map[string]string{FieldProtectedBalance: "abc"})
	for _, field := range []string{FieldPolicyHolder, FieldProtectedWallet, FieldProtectedBalance, FieldDuration,
		FieldBundleID, FieldSignatureID, FieldSignature} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

func TestSignatureIDToBytes32(t *testing.T) {
	if _, err := SignatureIDToBytes32(strings.Repeat("a", 31)); err != nil {
		t.Fatalf("31 bytes: %v", err)
	}
	b, err := SignatureIDToBytes32("é")
	if err != nil || b[0] != 0xc3 || b[1] != 0xa9 || b[2] != 0 {
		t.Fatalf("utf-8: %x %v", b, err)
	}
	if _, err := SignatureIDToBytes32("nanoid_-é€𝄞"); err != nil {
		t.Fatalf("printable UTF-8 refused: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("a", 32), "\xff", "\x1b[31m", "a\u202e", "a\n"} {
		if _, err := SignatureIDToBytes32(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
