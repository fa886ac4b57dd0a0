package stream

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
)

// Field names of the PendingApplication hash, written by the frontend with
// redis-om 0.4 (docs/design.md, "The fixed contracts"). They are a contract: never rename them.
const (
	FieldPolicyHolder     = "policyHolder"
	FieldProtectedWallet  = "protectedWallet"
	FieldProtectedBalance = "protectedBalance"
	FieldDuration         = "duration"
	FieldBundleID         = "bundleId"
	FieldSignatureID      = "signatureId"
	FieldSignature        = "signature"
	FieldTransactionHash  = "transactionHash"
	FieldTimestamp        = "timestamp"
)

// ErrInvalidApplication marks input that can never become a valid
// transaction: the relay dead-letters it instead of retrying.
var ErrInvalidApplication = errors.New("invalid application")

// Application is a validated PendingApplication, typed for the contract call.
type Application struct {
	EntityID         string
	PolicyHolder     common.Address
	ProtectedWallet  common.Address
	ProtectedBalance *big.Int
	Duration         *big.Int
	BundleID         *big.Int
	SignatureID      string   // as stored: the frontend's nanoid
	SignatureID32    [32]byte // on-chain form, like ethers formatBytes32String
	Signature        []byte   // 65 bytes r||s||v
	// TransactionHash is set when a processor (this one or the old one)
	// already submitted a transaction for the application.
	TransactionHash *common.Hash
	// CreatedAt is the frontend's timestamp; zero when absent or unreadable
	// (it only feeds latency metrics, so it never rejects an application).
	CreatedAt time.Time
}

var (
	addressRe = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
	uintRe    = regexp.MustCompile(`^[0-9]+$`)
	hashRe    = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)
	maxUint   = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
)

// maxUnixSeconds is the largest timestamp whose milliseconds fit in int64.
const maxUnixSeconds = math.MaxInt64 / 1000

// DecodeApplication validates every field of a PendingApplication hash and
// returns all problems at once, wrapped in ErrInvalidApplication, so the
// dead-letter entry tells the frontend developer everything that is wrong.
func DecodeApplication(entityID string, fields map[string]string) (Application, error) {
	app := Application{EntityID: entityID}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// The entity id comes from the stream entry, not the hash; it is printed
	// by the on-call's commands and the console, so it must be plain text.
	if err := printable(entityID); err != nil {
		bad("%s: %v", FieldEntityID, err)
	}

	app.PolicyHolder = decodeAddress(fields, FieldPolicyHolder, bad)
	app.ProtectedWallet = decodeAddress(fields, FieldProtectedWallet, bad)
	app.ProtectedBalance = decodeUint(fields, FieldProtectedBalance, bad)
	app.Duration = decodeUint(fields, FieldDuration, bad)
	app.BundleID = decodeUint(fields, FieldBundleID, bad)

	if id, ok := fields[FieldSignatureID]; !ok || id == "" {
		bad("%s: missing", FieldSignatureID)
	} else if b32, err := SignatureIDToBytes32(id); err != nil {
		bad("%s: %v", FieldSignatureID, err)
	} else {
		app.SignatureID, app.SignatureID32 = id, b32
	}

	if s, ok := fields[FieldSignature]; !ok || s == "" {
		bad("%s: missing", FieldSignature)
	} else if !strings.HasPrefix(s, "0x") || len(s) != 2+130 {
		bad("%s: want 0x and 130 hex digits (65 bytes), got %d characters", FieldSignature, len(s))
	} else if sig, err := hex.DecodeString(s[2:]); err != nil {
		bad("%s: not hex", FieldSignature)
	} else {
		app.Signature = sig
	}

	if h, ok := fields[FieldTransactionHash]; ok && h != "" {
		if hashRe.MatchString(h) {
			hash := common.HexToHash(h)
			app.TransactionHash = &hash
		} else {
			bad("%s: %q is not a 32-byte 0x hash", FieldTransactionHash, clip(h))
		}
	}
	if ts, ok := fields[FieldTimestamp]; ok {
		// The bound keeps f*1000 inside int64: "1e300" or "Inf" would
		// otherwise convert to an arbitrary time (on amd64, year -292e6).
		if f, err := strconv.ParseFloat(ts, 64); err == nil && f > 0 && f < maxUnixSeconds {
			app.CreatedAt = time.UnixMilli(int64(f * 1000))
		}
	}
	if len(problems) > 0 {
		return app, fmt.Errorf("%w: %s", ErrInvalidApplication, strings.Join(problems, "; "))
	}
	return app, nil
}

// SignatureIDToBytes32 encodes the frontend's signatureId the way ethers'
// formatBytes32String does: UTF-8 bytes right-padded with zeros. Like ethers,
// it refuses 32 bytes or more (there must be room for a terminating zero).
// It also refuses what is not printable text (see printable): the frontend's
// nanoids never hold such characters, and an id with an escape sequence would
// be relayed, written on chain and printed raw to the on-call's terminal.
func SignatureIDToBytes32(id string) ([32]byte, error) {
	var out [32]byte
	switch {
	case id == "":
		return out, errors.New("empty")
	case !utf8.ValidString(id):
		return out, errors.New("not valid UTF-8")
	case len(id) >= 32:
		return out, fmt.Errorf("%d bytes, must be shorter than 32", len(id))
	}
	if err := printable(id); err != nil {
		return out, err
	}
	copy(out[:], id)
	return out, nil
}

// printable refuses text a terminal or a page would not show as it is:
// invalid UTF-8, control characters (C0, DEL, C1: escape sequences, carriage
// returns, bells), format characters (bidirectional overrides, zero-width
// joiners) and every space but U+0020 (unicode.IsPrint). The error names the
// first offending character by its code point, never by the character.
func printable(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			return fmt.Errorf("not valid UTF-8 at byte %d", i)
		case !unicode.IsPrint(r):
			return fmt.Errorf("has a non-printable character %U at byte %d", r, i)
		}
	}
	return nil
}

func decodeAddress(fields map[string]string, name string, bad func(string, ...any)) common.Address {
	s, ok := fields[name]
	switch {
	case !ok || s == "":
		bad("%s: missing", name)
	case !addressRe.MatchString(s):
		bad("%s: %q is not a 0x address of 40 hex digits", name, clip(s))
	case s != strings.ToLower(s) && s[2:] != strings.ToUpper(s[2:]) && common.HexToAddress(s).Hex() != s:
		bad("%s: %q has a wrong EIP-55 checksum", name, s)
	default:
		return common.HexToAddress(s)
	}
	return common.Address{}
}

func decodeUint(fields map[string]string, name string, bad func(string, ...any)) *big.Int {
	s, ok := fields[name]
	if !ok || s == "" {
		bad("%s: missing", name)
		return nil
	}
	if !uintRe.MatchString(s) {
		bad("%s: %q is not a non-negative decimal integer", name, clip(s))
		return nil
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.Cmp(maxUint) > 0 {
		bad("%s: larger than uint256", name)
		return nil
	}
	return v
}

// clip keeps hostile input from bloating logs and dead-letter entries.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
