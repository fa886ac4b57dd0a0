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
	for _, bad := range []string{"", strings.Repeat("a", 32), "\xff"} {
		if _, err := SignatureIDToBytes32(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
