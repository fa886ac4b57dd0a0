package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>", the
	// HMAC keyed with WEBHOOK_SECRET over "<t>.<body>".
	SignatureHeader = "X-Depeg-Signature"
	// EventIDHeader repeats the event's id, for a receiver that
	// de-duplicates before it parses the body.
	EventIDHeader = "X-Depeg-Event-Id"
)

// DefaultTolerance is how old a signature's timestamp Verify accepts by
// default: a captured request cannot be replayed later than this.
const DefaultTolerance = 5 * time.Minute

// Sign returns the SignatureHeader value for body sent at t. The timestamp is
// signed with the body, so it cannot be changed to replay an old request.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("signature header missing or malformed")
	ErrBadSignature = errors.New("signature does not match")
	ErrTooOld       = errors.New("signature timestamp outside the tolerance")
)

// Verify checks a SignatureHeader value against body, as a receiver does: a
// v1 HMAC over "<t>.<body>" with secret, compared in constant time, and t
// within tolerance of now (either way; tolerance <= 0 means
// DefaultTolerance). Several v1 values are accepted, any of which may match,
// so a sender can sign with an old and a new secret while they are rotated.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrNoSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrNoSignature
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
