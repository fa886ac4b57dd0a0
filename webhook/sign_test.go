package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("whsec-0123456789abcdef0123456789abcdef")
	body := []byte(`{"id":"x","state":"confirmed"}`)
	at := time.Unix(1_800_000_000, 0)
	good := Sign(secret, at, body)
	old := Sign([]byte("previous-secret"), at, body)
	sig := strings.TrimPrefix(good, "t=1800000000,")
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, good, body, at, nil},
		{"valid, 4 min later", secret, good, body, at.Add(4 * time.Minute), nil},
		{"valid, clock 4 min behind", secret, good, body, at.Add(-4 * time.Minute), nil},
		{"spaces after commas", secret, strings.ReplaceAll(good, ",", ", "), body, at, nil},
		{"rotation: old and new signature", secret, old + "," + sig, body, at, nil},
		{"too old", secret, good, body, at.Add(6 * time.Minute), ErrTooOld},
		{"from the future", secret, good, body, at.Add(-6 * time.Minute), ErrTooOld},
		{"wrong secret", []byte("other"), good, body, at, ErrBadSignature},
		{"body changed", secret, good, []byte(`{"id":"x","state":"rejected"}`), at, ErrBadSignature},
		{"timestamp changed", secret, strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, at, ErrBadSignature},
		{"empty", secret, "", body, at, ErrNoSignature},
		{"no timestamp", secret, sig, body, at, ErrNoSignature},
		{"no v1", secret, "t=1800000000", body, at, ErrNoSignature},
		{"v1 not hex", secret, "t=1800000000,v1=zz", body, at, ErrNoSignature},
		{"garbage", secret, "sha256=abc", body, at, ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.secret, tc.header, tc.body, tc.now, 0); !errors.Is(err, tc.want) {
				t.Errorf("Verify(%q) = %v, want %v", tc.header, err, tc.want)
			}
		})
	}
}

func TestSignFormat(t *testing.T) {
	got := Sign([]byte("k"), time.Unix(1_700_000_000, 0), []byte("{}"))
	// echo -n '1700000000.{}' | openssl dgst -sha256 -hmac k
	const want = "t=1700000000,v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}
