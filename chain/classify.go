package chain

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// RevertClass says what a revert reason means for the relay (docs/design.md,
// "The fixed contracts"). Every decision about a contract answer is made here.
type RevertClass int

const (
	// RevertUnknown is a revert the table does not know: treated as final,
	// because retrying it forever would block the queue.
	RevertUnknown RevertClass = iota
	// RevertSignatureUsed: the signature was already applied (success if it
	// was applied by our own transaction).
	RevertSignatureUsed
	// RevertSignature: the signature is invalid or malformed.
	RevertSignature
	// RevertApplication: the application itself is wrong.
	RevertApplication
	// RevertFunds: the policy holder lacks tokens or allowance.
	RevertFunds
	// RevertProductInactive: the product is paused; retry later.
	RevertProductInactive
)

// Final reports whether an application that got this revert can never succeed.
func (c RevertClass) Final() bool { return c != RevertProductInactive }

// String is a bounded label for logs, dead letters and metrics.
func (c RevertClass) String() string {
	switch c {
	case RevertSignatureUsed:
		return "signature_used"
	case RevertSignature:
		return "signature"
	case RevertApplication:
		return "application"
	case RevertFunds:
		return "funds"
	case RevertProductInactive:
		return "product_inactive"
	default:
		// Not "reverted", which names our transaction reverting on chain:
		// this class comes from a simulation as often as from a mined one.
		return "unknown_revert"
	}
}

// ClassifyRevert maps a revert reason string of the deployed contracts.
func ClassifyRevert(reason string) RevertClass {
	switch {
	case strings.Contains(reason, "DMH-001"):
		return RevertSignatureUsed
	case strings.Contains(reason, "DMH-002"), strings.HasPrefix(reason, "ECDSA: invalid signature"):
		return RevertSignature
	case strings.Contains(reason, "DP-010"):
		return RevertProductInactive
	case strings.Contains(reason, "DP-014"), strings.Contains(reason, "DP-015"):
		return RevertFunds
	case strings.Contains(reason, "DP-011"), strings.Contains(reason, "DP-012"),
		strings.Contains(reason, "DP-013"), strings.Contains(reason, "DP-016"):
		return RevertApplication
	default:
		return RevertUnknown
	}
}

// RevertError is a call that the EVM reverted, as opposed to one the node or
// the network failed to answer.
type RevertError struct {
	Reason string // decoded Error(string), or a description when undecodable
	Class  RevertClass
}

func (e *RevertError) Error() string { return "execution reverted: " + e.Reason }

// noReason is the reason of a revert that gave none.
const noReason = "no reason given"

// AsRevert recognises an execution revert in a JSON-RPC error from eth_call or
// eth_estimateGas, decoding the Error(string) payload. It returns nil for
// every other error (transport, timeout, rate limit), which are transient.
func AsRevert(err error) *RevertError {
	if err == nil {
		return nil
	}
	var de rpc.DataError
	if errors.As(err, &de) {
		if s, ok := de.ErrorData().(string); ok {
			if data, derr := hexutil.Decode(s); derr == nil {
				if reason, uerr := abi.UnpackRevert(data); uerr == nil {
					if reason == "" { // require(cond, ""): readable like a bare revert
						reason = noReason
					}
					return &RevertError{Reason: reason, Class: ClassifyRevert(reason)}
				}
				if len(data) > 0 {
					return &RevertError{Reason: "custom error " + s, Class: RevertUnknown}
				}
			}
		}
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "execution reverted") {
		reason := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(msg, "execution reverted"), ":"))
		if reason == "" {
			reason = noReason
		}
		return &RevertError{Reason: reason, Class: ClassifyRevert(reason)}
	}
	return nil
}

// SendAction is what the relay does with a node's answer to
// eth_sendRawTransaction.
type SendAction int

const (
	// SendOK: the node took the transaction (or already had it).
	SendOK SendAction = iota
	// SendNonceUsed: the nonce is already mined; check whether by one of our
	// hashes before anything else.
	SendNonceUsed
	// SendRetryLater: the node refused for now (fees, funds, pool limits);
	// keep the signed transaction and re-broadcast the same bytes later.
	SendRetryLater
	// SendUnknown: timeout or connection failure; the node may or may not
	// have it. Reconcile by hash and nonce before doing anything else.
	SendUnknown
	// SendPoolFull: the node keeps no more of our transactions (its pool,
	// or its per-sender limit, is full). Like SendRetryLater, and also a
	// measure of how many the node holds for us.
	SendPoolFull
)

// ClassifySendError maps a node's answer to eth_sendRawTransaction. Nodes only
// give text here, so the matching on strings lives in this one function.
func ClassifySendError(err error) SendAction {
	if err == nil {
		return SendOK
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return SendUnknown
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return SendUnknown
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "already known"), strings.Contains(msg, "known transaction"),
		strings.Contains(msg, "already imported"):
		return SendOK
	case strings.Contains(msg, "nonce too low"), strings.Contains(msg, "nonce has already been used"):
		return SendNonceUsed
	case strings.Contains(msg, "replacement transaction underpriced"),
		strings.Contains(msg, "insufficient funds"),
		strings.Contains(msg, "max fee per gas less than block base fee"),
		strings.Contains(msg, "fee cap less than block base fee"),
		strings.Contains(msg, "nonce too high"):
		return SendRetryLater
	case strings.Contains(msg, "txpool is full"), strings.Contains(msg, "transaction underpriced"),
		strings.Contains(msg, "account limit exceeded"), strings.Contains(msg, "too many pending"),
		strings.Contains(msg, "in-flight transaction limit"):
		// geth answers a full pool with "txpool is full", or "transaction
		// underpriced" when the new transaction is no dearer than the
		// cheapest one it would have to evict; providers word their
		// per-sender limits their own way.
		return SendPoolFull
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "eof"),
		strings.Contains(msg, "timeout"), strings.Contains(msg, "429"),
		strings.Contains(msg, "502"), strings.Contains(msg, "503"):
		return SendUnknown
	default:
		return SendRetryLater
	}
}

// IsNodeTrouble reports whether a per-call error inside a JSON-RPC batch is
// about the node rather than the call: rate limits, a backend behind the
// others or without the state, a timeout, a batch answered short. The node
// gave no verdict on the application, so the error must never count
// against it (an outage pauses the work; it never rejects it). Providers
// only give text and codes here, so the matching lives in this one function.
func IsNodeTrouble(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var rpcErr rpc.Error
	if errors.As(err, &rpcErr) && rpcErr.ErrorCode() == -32005 { // limit exceeded (EIP-1474): a rate limit
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{
		"rate limit", "limit exceeded", "too many requests", "429", "capacity", "throttl",
		"header not found", "missing trie node", "unknown block", "block not found",
		"execution aborted (timeout", "timeout", "timed out",
		"missing response", "missing batch response", "no response", "service unavailable", "bad gateway", "502", "503", "504",
		"connection reset", "connection refused", "eof",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
