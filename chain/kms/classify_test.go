package kms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/smithy-go"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("operation error KMS: Sign: %w", &smithy.GenericAPIError{Code: code, Message: "arn:aws:iam::1:user/x secret text"})
	}
	for _, tc := range []struct {
		err      error
		outcome  Outcome
		wantCode string
	}{
		{api("ThrottlingException"), Retry, "ThrottlingException"},
		{api("LimitExceededException"), Retry, "LimitExceededException"},
		{api("KMSInternalException"), Retry, "KMSInternalException"},
		{api("DependencyTimeoutException"), Retry, "DependencyTimeoutException"},
		{api("KeyUnavailableException"), Retry, "KeyUnavailableException"},
		{api("ExpiredTokenException"), Retry, "ExpiredTokenException"},
		{api("DisabledException"), Final, "DisabledException"},
		{api("NotFoundException"), Final, "NotFoundException"},
		{api("KMSInvalidStateException"), Final, "KMSInvalidStateException"},
		{api("InvalidKeyUsageException"), Final, "InvalidKeyUsageException"},
		{api("AccessDeniedException"), Final, "AccessDeniedException"},
		{api("Bad code: <script>"), Retry, "Badcodescript"},
		{api(""), Retry, "unknown"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), Retry, "timeout"},
		{fmt.Errorf("x: %w", context.Canceled), Retry, "canceled"},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, Retry, "timeout"},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), Retry, "connection"},
	} {
		outcome, code := Classify(tc.err)
		if outcome != tc.outcome || code != tc.wantCode {
			t.Errorf("Classify(%v) = %v, %q; want %v, %q", tc.err, outcome, code, tc.outcome, tc.wantCode)
		}
	}
}

// TestKeyErrorShowsNoAWSText: a KeyError names the key and the code, and
// neither its text nor its chain carries the SDK error's message.
func TestKeyErrorShowsNoAWSText(t *testing.T) {
	e := &KeyError{KeyID: "alias/relay-1", Op: "sign", Code: "DisabledException", Final: true}
	if got, want := e.Error(), "kms key alias/relay-1: sign: DisabledException (key unusable)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, ErrKeyUnusable) || errors.Is(e, ErrUnavailable) {
		t.Fatal("a final KeyError must match ErrKeyUnusable only")
	}
	if e := (&KeyError{Code: "ThrottlingException"}); !errors.Is(e, ErrUnavailable) {
		t.Fatal("a retryable KeyError must match ErrUnavailable")
	}
}
