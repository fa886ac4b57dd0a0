package chain

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestDeriveKeyMatchesEthers(t *testing.T) {
	// The vector is ethers' Wallet.fromMnemonic (and hardhat's first account).
	key, err := DeriveKey("test test test test test test test test test test test junk", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := crypto.PubkeyToAddress(key.PublicKey).Hex(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"; got != want {
		t.Fatalf("address %s, want %s", got, want)
	}
	key1, err := DeriveKey("  test test test test test test test test test test test   junk\n", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := crypto.PubkeyToAddress(key1.PublicKey).Hex(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"; got != want {
		t.Fatalf("index 1 address %s, want %s", got, want)
	}
}

func TestDeriveKeyRejectsBadMnemonicWithoutEchoingIt(t *testing.T) {
	phrase := "test test test test test test test test test test test test"
	_, err := DeriveKey(phrase, 0)
	if !errors.Is(err, ErrBadMnemonic) {
		t.Fatalf("err %v, want ErrBadMnemonic", err)
	}
	if strings.Contains(err.Error(), "test") {
		t.Fatalf("error echoes the phrase: %v", err)
	}
}

func gwei(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e9)) }

func TestFees(t *testing.T) {
	tests := []struct {
		name              string
		policy            FeePolicy
		base, suggested   *big.Int
		wantCap, wantTip  *big.Int
		wantErrAboveLimit bool
	}{
		{"suggested tip, room under cap", FeePolicy{MaxFee: gwei(30)}, gwei(5), gwei(2), gwei(12), gwei(2), false},
		{"configured tip wins", FeePolicy{MaxFee: gwei(30), MaxTip: gwei(1)}, gwei(5), gwei(3), gwei(11), gwei(1), false},
		{"cap clips fee cap", FeePolicy{MaxFee: gwei(30)}, gwei(20), gwei(2), gwei(30), gwei(2), false},
		{"cap squeezes tip", FeePolicy{MaxFee: gwei(30)}, gwei(29), gwei(2), gwei(30), gwei(1), false},
		{"base fee equals cap", FeePolicy{MaxFee: gwei(30)}, gwei(30), gwei(2), gwei(30), gwei(0), false},
		{"base fee above cap waits", FeePolicy{MaxFee: gwei(30)}, gwei(31), gwei(2), nil, nil, true},
		{"nil base fee (pre-London)", FeePolicy{MaxFee: gwei(30)}, nil, gwei(2), gwei(2), gwei(2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.policy.Fees(tt.base, tt.suggested)
			if tt.wantErrAboveLimit {
				if !errors.Is(err, ErrBaseFeeAboveCap) {
					t.Fatalf("err %v, want ErrBaseFeeAboveCap", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.FeeCap.Cmp(tt.wantCap) != 0 || f.TipCap.Cmp(tt.wantTip) != 0 {
				t.Fatalf("fees cap=%s tip=%s, want cap=%s tip=%s", f.FeeCap, f.TipCap, tt.wantCap, tt.wantTip)
			}
			if f.FeeCap.Cmp(tt.policy.MaxFee) > 0 {
				t.Fatalf("fee cap %s above MAX_FEE_PER_GAS %s", f.FeeCap, tt.policy.MaxFee)
			}
		})
	}
}

func TestBumpRaisesBothAndStopsAtCap(t *testing.T) {
	p := FeePolicy{MaxFee: gwei(30)}
	b, capped := p.Bump(Fees{FeeCap: gwei(10), TipCap: gwei(2)}, 15)
	if capped || b.FeeCap.Cmp(gwei(115).Div(gwei(115), big.NewInt(10))) != 0 || b.TipCap.Cmp(big.NewInt(2300000000)) != 0 {
		t.Fatalf("bump: cap=%s tip=%s capped=%v", b.FeeCap, b.TipCap, capped)
	}
	b, capped = p.Bump(Fees{FeeCap: gwei(28), TipCap: gwei(2)}, 15)
	if !capped || b.FeeCap.Cmp(gwei(30)) != 0 {
		t.Fatalf("bump at cap: cap=%s capped=%v", b.FeeCap, capped)
	}
}

func TestClassifyRevert(t *testing.T) {
	tests := map[string]RevertClass{
		"ERROR:DMH-001:SIGNATURE_USED":       RevertSignatureUsed,
		"ERROR:DMH-002:SIGNATURE_INVALID":    RevertSignature,
		"ECDSA: invalid signature length":    RevertSignature,
		"ECDSA: invalid signature 's' value": RevertSignature,
		"ERROR:DP-010:PRODUCT_NOT_ACTIVE":    RevertProductInactive,
		"ERROR:DP-011:WALLET_ADDRESS_ZERO":   RevertApplication,
		"ERROR:DP-012:BUNDLE_ID_ZERO":        RevertApplication,
		"ERROR:DP-013:RISKPOOL_MISMATCH":     RevertApplication,
		"ERROR:DP-016:UNDERWRITING_FAILED":   RevertApplication,
		"ERROR:DP-014:BALANCE_TOO_LOW":       RevertFunds,
		"ERROR:DP-015:ALLOWANCE_TOO_LOW":     RevertFunds,
		"something else":                     RevertUnknown,
	}
	for reason, want := range tests {
		if got := ClassifyRevert(reason); got != want {
			t.Errorf("%q: %v, want %v", reason, got, want)
		}
		if want.Final() == (want == RevertProductInactive) {
			t.Errorf("%q: Final()=%v", reason, want.Final())
		}
	}
}

type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

func TestClassifySendError(t *testing.T) {
	tests := []struct {
		err  error
		want SendAction
	}{
		{nil, SendOK},
		{errors.New("already known"), SendOK},
		{errors.New("nonce too low: next nonce 5, tx nonce 3"), SendNonceUsed},
		{errors.New("replacement transaction underpriced"), SendRetryLater},
		{errors.New("transaction underpriced"), SendPoolFull},
		{errors.New("txpool is full"), SendPoolFull},
		{errors.New("account limit exceeded: 16"), SendPoolFull},
		{errors.New("nonce too high"), SendRetryLater},
		{errors.New("insufficient funds for gas * price + value: balance 0"), SendRetryLater},
		{errors.New("max fee per gas less than block base fee: address 0x.., maxFeePerGas: 1, baseFee: 2"), SendRetryLater},
		{fmt.Errorf("send: %w", context.DeadlineExceeded), SendUnknown},
		{fmt.Errorf("post: %w", netTimeout{}), SendUnknown},
		{errors.New("dial tcp 127.0.0.1:8545: connect: connection refused"), SendUnknown},
		{errors.New("429 Too Many Requests"), SendUnknown},
	}
	for _, tt := range tests {
		if got := ClassifySendError(tt.err); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestReplacementFollowsTheNodesRule(t *testing.T) {
	g := func(f float64) *big.Int { return big.NewInt(int64(math.Round(f * 1e9))) }
	p := FeePolicy{MaxFee: g(30)}
	tests := []struct {
		name     string
		accepted Fees
		market   *Fees
		want     Fees
		ok       bool
	}{
		{"plain bump", Fees{FeeCap: g(10), TipCap: g(2)}, nil, Fees{FeeCap: g(11.5), TipCap: g(2.3)}, true},
		{"market higher than the bump", Fees{FeeCap: g(10), TipCap: g(2)}, &Fees{FeeCap: g(20), TipCap: g(3)},
			Fees{FeeCap: g(20), TipCap: g(3)}, true},
		{"cap leaves +5% on the fee cap: refused by nodes, so not ok", Fees{FeeCap: g(28.5), TipCap: g(2)}, nil,
			Fees{FeeCap: g(30), TipCap: g(2.3)}, false},
		{"cap leaves +11% on the fee cap", Fees{FeeCap: g(27), TipCap: g(2)}, nil, Fees{FeeCap: g(30), TipCap: g(2.3)}, true},
		{"at the cap already", Fees{FeeCap: g(30), TipCap: g(2)}, nil, Fees{FeeCap: g(30), TipCap: g(2.3)}, false},
		{"zero tip is raised to one wei", Fees{FeeCap: g(10), TipCap: big.NewInt(0)}, nil, Fees{FeeCap: g(11.5), TipCap: big.NewInt(1)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := p.Replacement(tc.accepted, tc.market, 15)
			if ok != tc.ok || got.FeeCap.Cmp(tc.want.FeeCap) != 0 || got.TipCap.Cmp(tc.want.TipCap) != 0 {
				t.Fatalf("Replacement = %v/%v ok %v, want %v/%v ok %v", got.FeeCap, got.TipCap, ok, tc.want.FeeCap, tc.want.TipCap, tc.ok)
			}
			if got.FeeCap.Cmp(p.MaxFee) > 0 {
				t.Fatalf("fee cap %v above MAX_FEE_PER_GAS", got.FeeCap)
			}
		})
	}
}

type codedErr struct {
	code int
	msg  string
}

func (e codedErr) Error() string  { return e.msg }
func (e codedErr) ErrorCode() int { return e.code }

func TestIsNodeTrouble(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{codedErr{-32005, "request limit reached"}, true},
		{errors.New("429 Too Many Requests: {\"code\":-32005}"), true},
		{errors.New("header not found"), true},
		{errors.New("missing trie node 0xabc (path )"), true},
		{errors.New("execution aborted (timeout = 5s)"), true},
		{fmt.Errorf("batch: %w", context.DeadlineExceeded), true},
		{errors.New("missing batch response"), true},
		{errors.New("gas required exceeds allowance (30000000)"), false},
		{errors.New("invalid opcode: INVALID"), false},
		{codedErr{3, "execution reverted: custom"}, false},
	} {
		if got := IsNodeTrouble(tc.err); got != tc.want {
			t.Errorf("IsNodeTrouble(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
