package kms

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/smithy-go"
)

// Outcome of a failed KMS call, decided by Classify.
type Outcome int

const (
	// Retry: throttling, timeouts, the service or the network failing.
	// Nothing about the key; the call is tried again with backoff.
	Retry Outcome = iota
	// Final: the key itself cannot sign (disabled, pending deletion, not
	// found, wrong type or usage, not allowed by its policy). Retrying
	// cannot help until an operator acts.
	Final
)

// finalCodes are the KMS error codes that are about the key. Everything
// else (ThrottlingException, LimitExceededException, KMSInternalException,
// DependencyTimeoutException, KeyUnavailableException, credential errors
// such as ExpiredTokenException, which the SDK's provider refreshes) is
// retried: a relay that waits loses nothing, a relay that gives up on a
// passing fault would strand its key.
var finalCodes = map[string]bool{
	"DisabledException":             true,
	"NotFoundException":             true,
	"KMSInvalidStateException":      true, // pending deletion, pending import
	"InvalidKeyUsageException":      true,
	"UnsupportedOperationException": true,
	"AccessDeniedException":         true, // the key policy lacks kms:Sign or kms:GetPublicKey
	"InvalidArnException":           true,
	"ValidationException":           true,
	"IncorrectKeyException":         true,
}

// Classify decides whether a failed KMS call is retried, and names the
// failure with a short bounded code: the KMS error code ("DisabledException")
// or a category ("timeout", "canceled", "connection"). The code never
// carries the error's text, which for AWS errors may quote ARNs, principals
// or request signatures: it is what errors and logs show instead.
func Classify(err error) (Outcome, string) {
	var api smithy.APIError
	switch {
	case errors.As(err, &api):
		code := sanitizeCode(api.ErrorCode())
		if finalCodes[code] {
			return Final, code
		}
		return Retry, code
	case errors.Is(err, context.Canceled):
		return Retry, "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return Retry, "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Retry, "timeout"
	}
	return Retry, "connection"
}

// sanitizeCode keeps an error code to the characters AWS codes use, at most
// 64, so that a hostile or broken endpoint cannot put text into our errors
// through it.
func sanitizeCode(code string) string {
	code = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' {
			return r
		}
		return -1
	}, code)
	if len(code) > 64 {
		code = code[:64]
	}
	if code == "" {
		return "unknown"
	}
	return code
}
