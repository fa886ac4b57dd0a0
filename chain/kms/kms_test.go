package kms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/chain/kms/kmstest"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/poll"
)

var halfN = new(big.Int).Rsh(crypto.S256().Params().N, 1)

// counting is the real client, counting the calls that reach it.
type counting struct {
	*awskms.Client
	getPublicKey, sign atomic.Int64
}

func (c *counting) GetPublicKey(ctx context.Context, in *awskms.GetPublicKeyInput, o ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error) {
	c.getPublicKey.Add(1)
	return c.Client.GetPublicKey(ctx, in, o...)
}

func (c *counting) Sign(ctx context.Context, in *awskms.SignInput, o ...func(*awskms.Options)) (*awskms.SignOutput, error) {
	c.sign.Add(1)
	return c.Client.Sign(ctx, in, o...)
}

func digest(t *testing.T) []byte {
	t.Helper()
	d := make([]byte, 32)
	if _, err := rand.Read(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSignaturesRecoverToTheKey: 200 signatures, made 20 at a time with a
// key opened by alias, all recover to the address read from GetPublicKey,
// all have s in the lower half (KMS returns both halves: about half of them
// were normalised), and the public key was read once.
func TestSignaturesRecoverToTheKey(t *testing.T) {
	srv := kmstest.Start(t)
	id := srv.CreateKey(t)
	alias := srv.Alias(t, id, "relay-1")
	api := &counting{Client: srv.Client()}
	keys := kms.New(api, kms.Options{})
	key, err := keys.Open(t.Context(), alias)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := keys.Open(t.Context(), alias); err != nil || again != key {
		t.Fatalf("second Open = %v, %v; want the cached key", again, err)
	}
	if n := api.getPublicKey.Load(); n != 1 {
		t.Fatalf("GetPublicKey called %d times, want 1", n)
	}
	byID, err := keys.Open(t.Context(), id)
	if err != nil || byID.Address() != key.Address() {
		t.Fatalf("key by id %v, %v; want the alias's address %s", byID, err, key.Address().Hex())
	}

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 20)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := digest(t)
			sig, err := key.SignDigest(t.Context(), d)
			if err != nil {
				errs <- err
				return
			}
			if new(big.Int).SetBytes(sig[32:64]).Cmp(halfN) > 0 {
				errs <- errors.New("high s")
				return
			}
			pub, err := crypto.SigToPub(d, sig)
			if err != nil || crypto.PubkeyToAddress(*pub) != key.Address() {
				errs <- errors.New("signature does not recover to the key's address")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := api.sign.Load(); got != n {
		t.Fatalf("%d Sign calls for %d signatures", got, n)
	}
}

// TestKMSSignedTransactionIsMined: an EIP-1559 transaction signed through
// KMS by chain's remote Signer is mined on the devchain, from the key's
// address; so is a gap-fill style self-transfer.
func TestKMSSignedTransactionIsMined(t *testing.T) {
	srv := kmstest.Start(t)
	key, err := kms.New(srv.Client(), kms.Options{}).Open(t.Context(), srv.CreateKey(t))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{key.Address()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	signer := chain.NewRemoteSigner(key.Address(), dc.ChainID, key.SignDigest)
	head, err := dc.Client.HeaderByNumber(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := dc.Client.SuggestGasTipCap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fees, err := chain.FeePolicy{MaxFee: big.NewInt(1e12)}.Fees(head.BaseFee, tip)
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000b0")
	for nonce, call := range []chain.Call{{To: to}, {To: key.Address()}} {
		tx, err := signer.Sign(call, uint64(nonce), 21000, fees)
		if err != nil {
			t.Fatal(err)
		}
		if err := dc.Client.SendTransaction(t.Context(), tx); err != nil {
			t.Fatalf("send nonce %d: %v", nonce, err)
		}
		// The pool takes the transaction asynchronously: seal until it is in.
		poll.UntilNil(t, 10*time.Second, "the KMS-signed transaction mined", func() error {
			dc.Commit()
			rcpt, err := dc.Client.TransactionReceipt(t.Context(), tx.Hash())
			if err != nil {
				return err
			}
			if rcpt.Status != 1 {
				return poll.Final(errors.New("reverted"))
			}
			return nil
		})
	}
	if n, err := dc.Client.NonceAt(t.Context(), key.Address(), nil); err != nil || n != 2 {
		t.Fatalf("nonce of the KMS key %d, %v; want 2", n, err)
	}
}

// TestUnusableKeysAreNamed: a disabled key, one pending deletion, one that
// does not exist and one of the wrong type fail at once (one call, no
// retries) with a KeyError naming the key id, errors.Is ErrKeyUnusable,
// while another key of the same Keys goes on signing.
func TestUnusableKeysAreNamed(t *testing.T) {
	srv := kmstest.Start(t)
	api := &counting{Client: srv.Client()}
	keys := kms.New(api, kms.Options{RetryFor: time.Minute})
	open := func(id string) *kms.Key {
		t.Helper()
		k, err := keys.Open(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	good := open(srv.CreateKey(t))
	disabled := open(srv.CreateKey(t))
	srv.Disable(t, disabled.ID())
	deleted := open(srv.CreateKey(t))
	srv.ScheduleDeletion(t, deleted.ID())

	for name, tc := range map[string]struct {
		key  *kms.Key
		code string
	}{
		"disabled":         {disabled, "DisabledException"},
		"pending deletion": {deleted, "KMSInvalidStateException"},
	} {
		before := api.sign.Load()
		_, err := tc.key.SignDigest(t.Context(), digest(t))
		var ke *kms.KeyError
		if !errors.Is(err, kms.ErrKeyUnusable) || !errors.As(err, &ke) || ke.Code != tc.code || !strings.Contains(err.Error(), tc.key.ID()) {
			t.Errorf("%s: err %v; want ErrKeyUnusable, code %s, naming %s", name, err, tc.code, tc.key.ID())
		}
		if n := api.sign.Load() - before; n != 1 {
			t.Errorf("%s: %d Sign calls, want 1 (no retry)", name, n)
		}
		if _, err := good.SignDigest(t.Context(), digest(t)); err != nil {
			t.Fatalf("the good key after %s: %v", name, err)
		}
	}

	wrong := srv.CreateKeyOf(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	symmetric := srv.CreateKeyOf(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	missing := "11111111-2222-3333-4444-555555555555"
	for _, id := range []string{wrong, symmetric, missing} {
		_, err := keys.Open(t.Context(), id)
		if !errors.Is(err, kms.ErrKeyUnusable) || !strings.Contains(err.Error(), id) {
			t.Errorf("Open(%s): err %v; want ErrKeyUnusable naming the key", id, err)
		}
	}
	info, err := keys.Describe(t.Context(), disabled.ID())
	if err != nil || info.Usable() == "" {
		t.Fatalf("Describe(disabled) = %+v, %v; want a reason it cannot sign", info, err)
	}
	if info, err := keys.Describe(t.Context(), good.ID()); err != nil || info.Usable() != "" {
		t.Fatalf("Describe(good) = %+v (%q), %v; want usable", info, info.Usable(), err)
	}
}

// proxy forwards to local-kms; while throttle is above zero it answers Sign
// with ThrottlingException instead (and counts down), and it records the
// most Sign calls it had in flight at once, each held for delay.
type proxy struct {
	throttle  atomic.Int64
	throttled atomic.Int64
	delay     time.Duration
	inFlight  atomic.Int64
	maxFlight atomic.Int64
	rp        *httputil.ReverseProxy
}

func startProxy(t testing.TB, target string) (*proxy, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{rp: httputil.NewSingleHostReverseProxy(u)}
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return p, s.URL
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") == "TrentService.Sign" {
		if p.throttle.Add(-1) >= 0 {
			p.throttled.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		n := p.inFlight.Add(1)
		defer p.inFlight.Add(-1)
		for m := p.maxFlight.Load(); n > m && !p.maxFlight.CompareAndSwap(m, n); m = p.maxFlight.Load() {
		}
		if p.delay > 0 {
			time.Sleep(p.delay) // the KMS's latency, not a wait in the test
		}
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	p.rp.ServeHTTP(w, r)
}

func clientFor(srv *kmstest.Server, endpoint string) *awskms.Client {
	c := srv.Client()
	return awskms.New(c.Options(), func(o *awskms.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// TestThrottlingIsRetried: KMS answering ThrottlingException to the first
// five Sign calls costs time, not the signature; and a budget too short for
// the throttling gives a retryable KeyError (ErrUnavailable), not a final
// one.
func TestThrottlingIsRetried(t *testing.T) {
	srv := kmstest.Start(t)
	p, endpoint := startProxy(t, srv.URL)
	keys := kms.New(clientFor(srv, endpoint), kms.Options{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	key, err := keys.Open(t.Context(), srv.CreateKey(t))
	if err != nil {
		t.Fatal(err)
	}
	p.throttle.Store(5)
	d := digest(t)
	sig, err := key.SignDigest(t.Context(), d)
	if err != nil {
		t.Fatalf("sign through throttling: %v", err)
	}
	if pub, err := crypto.SigToPub(d, sig); err != nil || crypto.PubkeyToAddress(*pub) != key.Address() {
		t.Fatal("signature does not recover to the key")
	}
	if n := p.throttled.Load(); n != 5 {
		t.Fatalf("%d calls throttled, want 5", n)
	}

	short := kms.New(clientFor(srv, endpoint), kms.Options{RetryFor: 50 * time.Millisecond, InitialBackoff: 10 * time.Millisecond})
	k2, err := short.Open(t.Context(), key.ID())
	if err != nil {
		t.Fatal(err)
	}
	p.throttle.Store(1 << 20)
	_, err = k2.SignDigest(t.Context(), d)
	var ke *kms.KeyError
	if !errors.Is(err, kms.ErrUnavailable) || !errors.As(err, &ke) || ke.Code != "ThrottlingException" {
		t.Fatalf("err %v; want ErrUnavailable with ThrottlingException", err)
	}
	if strings.Contains(err.Error(), "Rate exceeded") {
		t.Fatalf("error %q carries the KMS's message", err)
	}
}

// TestSigningIsBounded: 30 signatures asked at once, each KMS call taking
// 20 ms, have at most MaxConcurrent calls in flight, and use all of them.
func TestSigningIsBounded(t *testing.T) {
	srv := kmstest.Start(t)
	p, endpoint := startProxy(t, srv.URL)
	p.delay = 20 * time.Millisecond
	keys := kms.New(clientFor(srv, endpoint), kms.Options{MaxConcurrent: 3})
	a, err := keys.Open(t.Context(), srv.CreateKey(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.Open(t.Context(), srv.CreateKey(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 30 {
		k := a
		if i%2 == 1 {
			k = b
		}
		wg.Go(func() {
			if _, err := k.SignDigest(t.Context(), digest(t)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := p.maxFlight.Load(); m != 3 {
		t.Fatalf("at most %d Sign calls in flight, want exactly MaxConcurrent (3)", m)
	}
}

// BenchmarkSignDigest30ms signs through a KMS that takes 30 ms per call
// (the proxy holds each Sign), one signature at a time per key as the relay
// signs, with 1 and 8 keys in parallel: the per-key rate is bounded by the
// latency (about 33 per second), the pool's by MaxConcurrent.
func BenchmarkSignDigest30ms(b *testing.B) {
	srv := kmstest.Start(b)
	p, endpoint := startProxy(b, srv.URL)
	p.delay = 30 * time.Millisecond
	for _, keys := range []int{1, 8} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			ks := kms.New(clientFor(srv, endpoint), kms.Options{})
			var opened []*kms.Key
			for range keys {
				k, err := ks.Open(b.Context(), srv.CreateKey(b))
				if err != nil {
					b.Fatal(err)
				}
				opened = append(opened, k)
			}
			d := make([]byte, 32)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, k := range opened {
				wg.Go(func() {
					for range b.N {
						if _, err := k.SignDigest(b.Context(), d); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*keys)/time.Since(start).Seconds(), "signatures/s")
		})
	}
}
