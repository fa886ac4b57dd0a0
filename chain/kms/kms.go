// Package kms signs the relay's transactions with AWS KMS asymmetric keys
// (ECC_SECG_P256K1, SIGN_VERIFY), so that no private key ever enters the
// process. A Key gives chain.NewRemoteSigner what it needs: the address,
// read once with GetPublicKey, and a SignDigest that turns KMS's DER
// signature into Ethereum's (r, s, v).
//
// Why an adapter of our own rather than a KMS signer library: the maintained
// ones (welthee/go-ethereum-aws-kms-tx-signer and its forks) are a DER
// conversion we need anyway, wrapped in a bind.TransactOpts we do not use,
// pinned to their own go-ethereum and SDK versions, and with no answer to
// what this package is for: calls bounded in number, throttling and
// timeouts retried with backoff, a disabled or deleted key told apart from a
// passing fault, and no AWS error text (which may quote principals and
// request signatures) in our errors. The conversion is sixty lines with
// table tests (sig.go).
//
// Failures: a call that fails with throttling, a timeout or a service
// fault is retried with exponential backoff within Options.RetryFor; a
// failure about the key (Classify: Final) stops at once with a *KeyError
// naming the key id, errors.Is(err, ErrKeyUnusable). Either way nothing was
// signed, so the relay journals nothing and reuses the nonce.
package kms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cenkalti/backoff/v5"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// API is the part of the KMS client this package calls; *kms.Client has it.
type API interface {
	GetPublicKey(ctx context.Context, in *awskms.GetPublicKeyInput, opts ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *awskms.SignInput, opts ...func(*awskms.Options)) (*awskms.SignOutput, error)
	DescribeKey(ctx context.Context, in *awskms.DescribeKeyInput, opts ...func(*awskms.Options)) (*awskms.DescribeKeyOutput, error)
}

var (
	// ErrKeyUnusable matches a *KeyError for a key that cannot sign until an
	// operator acts: disabled, pending deletion, not found, not an
	// ECC_SECG_P256K1 SIGN_VERIFY key, or not allowed by its policy.
	ErrKeyUnusable = errors.New("kms key unusable")
	// ErrUnavailable matches a *KeyError for a call that kept failing with
	// throttling, timeouts or service faults for Options.RetryFor: the relay
	// tries again later.
	ErrUnavailable = errors.New("kms unavailable")
)

// KeyError is a failed operation on one key. Its text names the key id, the
// operation and a bounded code (Classify), never the AWS error message.
type KeyError struct {
	KeyID string
	Op    string // "get public key", "sign", "describe"
	Code  string // e.g. "DisabledException", "ThrottlingException", "timeout"
	Final bool
}

func (e *KeyError) Error() string {
	kind := "unavailable, will retry"
	if e.Final {
		kind = "key unusable"
	}
	return fmt.Sprintf("kms key %s: %s: %s (%s)", e.KeyID, e.Op, e.Code, kind)
}

// Unwrap gives ErrKeyUnusable or ErrUnavailable; the SDK's error is not
// kept, so nothing of it can be printed through this one.
func (e *KeyError) Unwrap() error {
	if e.Final {
		return ErrKeyUnusable
	}
	return ErrUnavailable
}

// Options bound the calls to KMS. Zero values get the defaults.
type Options struct {
	// MaxConcurrent bounds the KMS calls in flight across all keys
	// (default 16). KMS's default quota for ECC signing is hundreds per
	// second; a call takes tens of milliseconds, so 16 sign a block's worth
	// of transactions well within a block.
	MaxConcurrent int
	// CallTimeout bounds one KMS call (default 5 s).
	CallTimeout time.Duration
	// RetryFor bounds one operation, retries included (default 30 s).
	RetryFor time.Duration
	// InitialBackoff and MaxBackoff shape the exponential backoff between
	// retries (defaults 100 ms and 2 s).
	InitialBackoff, MaxBackoff time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 16
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 5 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 30 * time.Second
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Second
	}
	return o
}

// NewClient builds a KMS client the standard AWS way: region and
// credentials from the environment, the shared config files or the
// instance role; AWS_ENDPOINT_URL_KMS (or AWS_ENDPOINT_URL) points it at
// another endpoint. The SDK's own retries are off: Keys retries, with its
// own budget and classification. Its error never quotes the configuration,
// which may hold credentials.
func NewClient(ctx context.Context) (*awskms.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, errors.New("load AWS configuration failed: check AWS_REGION, AWS_PROFILE and the shared config and credentials files")
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION (or a region in the shared config)")
	}
	return awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.Retryer = aws.NopRetryer{} }), nil
}

// Keys opens KMS keys and bounds the calls made with them. Its methods may
// be called concurrently.
type Keys struct {
	api  API
	opts Options
	sem  chan struct{}

	mu   sync.Mutex
	keys map[string]*Key
}

// New returns Keys calling api.
func New(api API, opts Options) *Keys {
	opts = opts.withDefaults()
	return &Keys{api: api, opts: opts, sem: make(chan struct{}, opts.MaxConcurrent), keys: map[string]*Key{}}
}

// Key is one KMS key, its address known.
type Key struct {
	id      string
	address common.Address
	keys    *Keys
}

// ID is the key id, ARN or alias the key was opened with.
func (k *Key) ID() string { return k.id }

// Address is the Ethereum address of the key's public key.
func (k *Key) Address() common.Address { return k.address }

// Open reads the key's public key (once per id: later calls return the
// cached Key) and checks that it is an ECC_SECG_P256K1 SIGN_VERIFY key.
func (ks *Keys) Open(ctx context.Context, id string) (*Key, error) {
	ks.mu.Lock()
	k, ok := ks.keys[id]
	ks.mu.Unlock()
	if ok {
		return k, nil
	}
	out, err := call(ctx, ks, id, "get public key", func(c context.Context) (*awskms.GetPublicKeyOutput, error) {
		return ks.api.GetPublicKey(c, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
	})
	if err != nil {
		return nil, err
	}
	if out.KeySpec != types.KeySpecEccSecgP256k1 || out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, &KeyError{KeyID: id, Op: "get public key", Final: true,
			Code: fmt.Sprintf("wrong key type %s/%s, want %s/%s", sanitizeCode(string(out.KeySpec)), sanitizeCode(string(out.KeyUsage)),
				types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify)}
	}
	pub, err := ParsePublicKey(out.PublicKey)
	if err != nil {
		return nil, &KeyError{KeyID: id, Op: "get public key", Code: "malformed public key", Final: true}
	}
	k = &Key{id: id, address: crypto.PubkeyToAddress(*pub), keys: ks}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if prev, ok := ks.keys[id]; ok {
		return prev, nil
	}
	ks.keys[id] = k
	return k, nil
}

// SignDigest signs a 32-byte digest and returns Ethereum's [R || S || V]
// (chain.SignDigest). Throttling and timeouts are retried within RetryFor;
// a failure about the key returns at once. A signature that does not
// recover to the key's address is never returned.
func (k *Key) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("kms key %s: sign: digest has %d bytes, want 32", k.id, len(digest))
	}
	out, err := call(ctx, k.keys, k.id, "sign", func(c context.Context) (*awskms.SignOutput, error) {
		return k.keys.api.Sign(c, &awskms.SignInput{KeyId: aws.String(k.id), Message: digest,
			MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	})
	if err != nil {
		return nil, err
	}
	sig, err := EthereumSignature(out.Signature, digest, k.address)
	if err != nil {
		return nil, &KeyError{KeyID: k.id, Op: "sign", Code: "signature does not match the key's address", Final: true}
	}
	return sig, nil
}

// Info is what -check shows about a key.
type Info struct {
	Spec, Usage, State string
	Enabled            bool
}

// Usable says why the key cannot sign, or "" when it can.
func (i Info) Usable() string {
	switch {
	case i.Spec != string(types.KeySpecEccSecgP256k1):
		return "key spec " + i.Spec + ", want " + string(types.KeySpecEccSecgP256k1)
	case i.Usage != string(types.KeyUsageTypeSignVerify):
		return "key usage " + i.Usage + ", want " + string(types.KeyUsageTypeSignVerify)
	case !i.Enabled || i.State != string(types.KeyStateEnabled):
		return "key state " + i.State
	}
	return ""
}

// Describe reads the key's spec, usage and state (kms:DescribeKey).
func (ks *Keys) Describe(ctx context.Context, id string) (Info, error) {
	out, err := call(ctx, ks, id, "describe", func(c context.Context) (*awskms.DescribeKeyOutput, error) {
		return ks.api.DescribeKey(c, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	})
	if err != nil {
		return Info{}, err
	}
	m := out.KeyMetadata
	if m == nil {
		return Info{}, &KeyError{KeyID: id, Op: "describe", Code: "no key metadata", Final: true}
	}
	return Info{Spec: sanitizeCode(string(m.KeySpec)), Usage: sanitizeCode(string(m.KeyUsage)),
		State: sanitizeCode(string(m.KeyState)), Enabled: m.Enabled}, nil
}

// call runs one KMS operation: each attempt holds a slot of MaxConcurrent
// (not while it waits to retry) and has CallTimeout; retryable failures are
// tried again with exponential backoff until RetryFor or ctx ends; the
// error is a *KeyError.
func call[T any](ctx context.Context, ks *Keys, id, op string, f func(context.Context) (T, error)) (T, error) {
	var zero T
	var last *KeyError
	attempt := func() (T, error) {
		select {
		case ks.sem <- struct{}{}:
		case <-ctx.Done():
			return zero, backoff.Permanent(ctx.Err())
		}
		c, cancel := context.WithTimeout(ctx, ks.opts.CallTimeout)
		out, err := f(c)
		cancel()
		<-ks.sem
		if err == nil {
			return out, nil
		}
		outcome, code := Classify(err)
		last = &KeyError{KeyID: id, Op: op, Code: code, Final: outcome == Final}
		if last.Final {
			return zero, backoff.Permanent(last)
		}
		return zero, last
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = ks.opts.InitialBackoff, ks.opts.MaxBackoff
	out, err := backoff.Retry(ctx, attempt, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(ks.opts.RetryFor))
	if err == nil {
		return out, nil
	}
	var ke *KeyError
	if errors.As(err, &ke) {
		return zero, ke
	}
	if last != nil {
		// ctx ended while waiting to retry: the last failure says more.
		return zero, last
	}
	return zero, &KeyError{KeyID: id, Op: op, Code: "canceled"}
}
