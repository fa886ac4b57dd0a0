package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/chain/kms/kmstest"
)

// kmsKeys is the processor's pool held by a real KMS API (local-kms, issue
// 23): the keys' ids and addresses, the environment that points the
// processor at it through a proxy adding latency per KMS call, and what
// to stop afterwards.
type kmsKeys struct {
	IDs       []string
	Addresses []common.Address
	Env       []string
	stop      func()
}

// errFatal carries a kmstest Fatal out of the tool's call.
type errFatal struct{ error }

// tool is kmstest.T outside a test: Fatal panics with errFatal, which
// startKMS recovers as its error; Cleanup and TempDir live until stop.
type tool struct {
	cleanups []func()
}

func (*tool) Helper()                      {}
func (*tool) Fatal(args ...any)            { panic(errFatal{errors.New(fmt.Sprint(args...))}) }
func (*tool) Fatalf(f string, args ...any) { panic(errFatal{fmt.Errorf(f, args...)}) }
func (t *tool) Cleanup(f func())           { t.cleanups = append(t.cleanups, f) }
func (t *tool) TempDir() string {
	d, err := os.MkdirTemp("", "bench-kms-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

func (t *tool) stop() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// startKMS runs local-kms, creates n ECC_SECG_P256K1 keys and reads their
// addresses, and puts a proxy adding latency to every KMS call in front
// of it (a hosted KMS is tens of milliseconds away).
func startKMS(ctx context.Context, n int, latency time.Duration) (k *kmsKeys, err error) {
	t := &tool{}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(errFatal)
			if !ok {
				panic(r)
			}
			t.stop()
			k, err = nil, fmt.Errorf("start local-kms: %w", f.error)
		}
	}()
	srv := kmstest.Start(t)
	proxy, err := StartRPCProxy(srv.URL, nil, latency)
	if err != nil {
		t.stop()
		return nil, err
	}
	t.Cleanup(func() { _ = proxy.Close() })
	keys := kms.New(srv.Client(), kms.Options{})
	k = &kmsKeys{stop: t.stop}
	for range n {
		id := srv.CreateKey(t)
		key, err := keys.Open(ctx, id)
		if err != nil {
			t.stop()
			return nil, fmt.Errorf("open KMS key %s: %w", id, err)
		}
		k.IDs = append(k.IDs, id)
		k.Addresses = append(k.Addresses, key.Address())
	}
	for _, kv := range srv.Env() {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_KMS=") {
			kv = "AWS_ENDPOINT_URL_KMS=" + proxy.URL
		}
		k.Env = append(k.Env, kv)
	}
	k.Env = append(k.Env, "SIGNER=aws-kms", "AWS_KMS_KEY_IDS="+strings.Join(k.IDs, ","))
	return k, nil
}
