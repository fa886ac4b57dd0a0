package intake

import (
	"testing"

	"github.com/etherisc/depeg-relay/chain"
)

func TestFromRevert(t *testing.T) {
	cases := []struct {
		reason, field, class string
	}{
		{"ERROR:DMH-001:SIGNATURE_USED", "signature", "signature_used"},
		{"ERROR:DMH-002:SIGNATURE_INVALID", "signature", "signature"},
		{"ECDSA: invalid signature 's' value", "signature", "signature"},
		{"ERROR:DP-011:WALLET_ADDRESS_ZERO", "protectedWallet", "application"},
		{"ERROR:DP-012:BUNDLE_ID_ZERO", "bundleId", "application"},
		{"ERROR:DP-013:RISKPOOL_MISMATCH", "bundleId", "application"},
		{"ERROR:DP-014:BALANCE_TOO_LOW", "policyHolder", "funds"},
		{"ERROR:DP-015:ALLOWANCE_TOO_LOW", "policyHolder", "funds"},
		{"ERROR:DP-016:UNDERWRITING_FAILED", "protectedBalance", "application"},
		{"something else", "", "unknown_revert"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			r := fromRevert(&chain.RevertError{Reason: tc.reason, Class: chain.ClassifyRevert(tc.reason)})
			if r.Field != tc.field || r.Class != tc.class || r.Reason != tc.reason {
				t.Fatalf("got %+v, want field %q class %q", r, tc.field, tc.class)
			}
		})
	}
}
