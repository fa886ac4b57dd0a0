package main

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/batchdeploy"
	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/chain/kms/kmstest"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontdoor"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/relay"
)

// deployEnv is a devchain sealing a block every 50 ms with the first key of
// testMnemonic funded (index 0; index 1 holds nothing), and a redis-server
// for the keys' leases.
type deployEnv struct {
	dc    *devchain.Chain
	redis *redistest.Server
}

func newDeployEnv(t *testing.T) deployEnv {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return deployEnv{
		dc:    devchaintest.Start(t, devchain.Options{Fund: []common.Address{crypto.PubkeyToAddress(key.PublicKey)}}, 50*time.Millisecond),
		redis: redistest.Start(t),
	}
}

// vars is the environment deploy-batch runs with, extra applied over it.
func (e deployEnv) vars(extra map[string]string) map[string]string {
	v := map[string]string{
		"CHAIN_RPC_URL": e.dc.URL, "DEPEG_PRODUCT_ADDRESS": e.dc.Product.Hex(), "PROCESSOR_MNEMONIC": testMnemonic,
		"REDIS_URL": e.redis.URL(), "CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS": "2", "CHAIN_POLL_INTERVAL": "50",
		"RPC_TIMEOUT": "5000",
	}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// wallet is testMnemonic's key at index.
func wallet(t *testing.T, index uint32) common.Address {
	t.Helper()
	k, err := chain.DeriveKey(testMnemonic, index)
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

// nonces reads the wallet's mined and pending nonces.
func (e deployEnv) nonces(t *testing.T, w common.Address) (mined, pending uint64) {
	t.Helper()
	mined, err := e.dc.Client.NonceAt(t.Context(), w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pending, err = e.dc.Client.PendingNonceAt(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	return mined, pending
}

// TestDeployBatchCommand runs the built binary's deploy-batch against the
// embedded chain, with credentials and an API key in CHAIN_RPC_URL: stdout
// is the one line BATCH_CONTRACT_ADDRESS=<address>, where a batch contract
// for DEPEG_PRODUCT_ADDRESS now is, sent by the first key at its first
// nonce; the key's lease is released; neither output shows the mnemonic or
// the URL's secrets.
func TestDeployBatchCommand(t *testing.T) {
	bin := processorBinary(t)
	e := newDeployEnv(t)
	u, err := url.Parse(e.dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The devchain ignores credentials and the query, where providers put
	// their API keys.
	rpcURL := "http://operator:pw-s3cr3t@" + u.Host + "/?apikey=key-s3cr3t-0123456789"
	cmd := exec.Command(bin, "deploy-batch")
	cmd.Env = os.Environ()
	for k, v := range e.vars(map[string]string{"CHAIN_RPC_URL": rpcURL}) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("deploy-batch: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	line, ok := strings.CutPrefix(stdout.String(), "BATCH_CONTRACT_ADDRESS=")
	if !ok || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 || !common.IsHexAddress(strings.TrimSpace(line)) {
		t.Fatalf("stdout = %q, want the one line BATCH_CONTRACT_ADDRESS=0x...", stdout.String())
	}
	addr := common.HexToAddress(strings.TrimSpace(line))
	from := wallet(t, 0)
	if want := crypto.CreateAddress(from, 0); addr != want {
		t.Errorf("printed %s, want %s (the first key's first nonce)", addr, want)
	}
	if err := batchdeploy.Check(t.Context(), e.dc.Client, addr, e.dc.Product); err != nil {
		t.Errorf("at the printed address: %v", err)
	}
	if mined, pending := e.nonces(t, from); mined != 1 || pending != 1 {
		t.Errorf("first key's nonces = %d mined, %d pending; want 1, 1 (one deployment)", mined, pending)
	}
	rdb := redis.NewClient(&redis.Options{Addr: e.redis.Addr()})
	defer rdb.Close()
	if v, err := rdb.Get(t.Context(), lease.Key(strings.ToLower(from.Hex()))).Result(); err != nil || v != lease.Released {
		t.Errorf("the key's lease = %q, %v; want %q (released)", v, err, lease.Released)
	}
	for _, secret := range []string{"test test", "pw-s3cr3t", "key-s3cr3t", "operator"} {
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Errorf("output shows %q:\n%s%s", secret, stdout.String(), stderr.String())
		}
	}
}

func TestBatching(t *testing.T) {
	addr := common.HexToAddress("0xb1")
	for _, tc := range []struct {
		name     string
		contract common.Address
		max      int
		want     bool
	}{
		{"no contract", common.Address{}, 16, false},
		{"batches of one", addr, 1, false},
		{"batches of two", addr, 2, true},
	} {
		cfg := config.Config{BatchContract: tc.contract, BatchMaxApplications: tc.max, BatchGasBudget: 8_000_000}
		b := relay.BatchingOf(cfg)
		if (b != nil) != tc.want {
			t.Errorf("%s: batching = %+v, want set %t", tc.name, b, tc.want)
			continue
		}
		if b != nil && (b.Contract != addr || b.MaxApplications != tc.max || b.GasBudget != 8_000_000) {
			t.Errorf("%s: batching = %+v", tc.name, b)
		}
	}
}

// TestDeployBatchWithKMSKey: with SIGNER=aws-kms and no mnemonic anywhere,
// deploy-batch signs the deployment with the first KMS key (a local-kms
// server) and the contract is where it prints, sent from that key's wallet.
func TestDeployBatchWithKMSKey(t *testing.T) {
	bin := processorBinary(t)
	srv := kmstest.Start(t)
	id := srv.CreateKey(t)
	k, err := kms.New(srv.Client(), kms.Options{}).Open(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	e := deployEnv{
		dc:    devchaintest.Start(t, devchain.Options{Fund: []common.Address{k.Address()}}, 50*time.Millisecond),
		redis: redistest.Start(t),
	}
	cmd := exec.Command(bin, "deploy-batch")
	cmd.Env = append(os.Environ(), srv.Env()...)
	vars := e.vars(map[string]string{"SIGNER": "aws-kms", "AWS_KMS_KEY_IDS": id})
	delete(vars, "PROCESSOR_MNEMONIC")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PROCESSOR_MNEMONIC=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("deploy-batch: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	want := crypto.CreateAddress(k.Address(), 0)
	if got := stdout.String(); got != "BATCH_CONTRACT_ADDRESS="+want.Hex()+"\n" {
		t.Fatalf("stdout = %q, want the KMS wallet's first deployment %s", got, want.Hex())
	}
	if err := batchdeploy.Check(t.Context(), e.dc.Client, want, e.dc.Product); err != nil {
		t.Errorf("at %s: %v", want.Hex(), err)
	}
	if mined, _ := e.nonces(t, k.Address()); mined != 1 {
		t.Errorf("KMS wallet's nonce = %d, want 1", mined)
	}
	if strings.Contains(stderr.String(), srv.SecretKey) {
		t.Errorf("stderr shows the AWS secret key:\n%s", stderr.String())
	}
}

// TestNewServiceRefusesWrongBatchContract: the service does not start with
// a BATCH_CONTRACT_ADDRESS that holds no batch contract for the product.
func TestNewServiceRefusesWrongBatchContract(t *testing.T) {
	w := newOpsWorld(t, "PORT=1", "BATCH_CONTRACT_ADDRESS=0x00000000000000000000000000000000000000b1")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := newService(ctx, w.Cfg, zerolog.Nop(), frontdoor.New(w.Cfg, zerolog.Nop()))
	if !errors.Is(err, batchdeploy.ErrWrongContract) || s != nil {
		t.Fatalf("newService = %v, %v; want no service and batchdeploy.ErrWrongContract", s, err)
	}
}
