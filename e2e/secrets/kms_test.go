package secrets

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/redis/go-redis/v9"
	"github.com/tyler-smith/go-bip39"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/chain/kms"
	"github.com/etherisc/depeg-relay/chain/kms/kmstest"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/internal/devchaintest"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/proctest"
	"github.com/etherisc/depeg-relay/internal/redistest"
)

// kmsEcho forwards to local-kms or, while echo is set, answers every call
// with AccessDeniedException whose message quotes the request's
// Authorization header (it holds the access key id) and security token, as
// a hostile or verbose endpoint could.
type kmsEcho struct {
	echo  atomic.Bool
	calls atomic.Int64
	rp    *httputil.ReverseProxy
}

func (k *kmsEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.calls.Add(1)
	if !k.echo.Load() {
		k.rp.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	msg := fmt.Sprintf("User with %s and token %s is not authorized for %s", r.Header.Get("Authorization"),
		r.Header.Get("X-Amz-Security-Token"), strings.ReplaceAll(string(body), `"`, `'`))
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = fmt.Fprintf(w, `{"__type":"AccessDeniedException","message":%q}`, msg)
}

// TestAWSCredentialsNeverShow: the built processor given AWS credentials
// (access key id, secret key, session token) in its environment, signing
// with a local-kms key, through -check (passing, and against an endpoint
// that quotes the credentials in its errors), a start against that
// endpoint, and a running processor whose KMS starts quoting them mid-run
// (its key stops, named in the log; /metrics, the monitor and the console
// are read meanwhile), then, KMS back, a restarted processor that confirms
// the application; and with PROCESSOR_MNEMONIC_FILE, -check and a rejected file.
// Neither the credentials nor the file's words show in any output.
func TestAWSCredentialsNeverShow(t *testing.T) {
	ctx := t.Context()
	bin := proctest.Build(t, t.TempDir(), "faulthook")
	accessKey, secretKey, token := "AKIA"+strings.ToUpper(randomToken(t, 16)), "sk"+randomToken(t, 38), "st"+randomToken(t, 60)
	needles := map[string]string{accessKey: "AWS_ACCESS_KEY_ID", secretKey: "AWS_SECRET_ACCESS_KEY", token: "AWS_SESSION_TOKEN"}

	srv := kmstest.Start(t)
	keyID := srv.CreateKey(t)
	key, err := kms.New(srv.Client(), kms.Options{}).Open(ctx, keyID)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	echo := &kmsEcho{rp: httputil.NewSingleHostReverseProxy(target)}
	es := httptest.NewServer(echo)
	t.Cleanup(es.Close)
	// The echo really carries the credentials: what keeps them out is the
	// processor, not the endpoint.
	echo.echo.Store(true)
	probe := awskms.New(awskms.Options{Region: kmstest.Region, BaseEndpoint: aws.String(es.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, token)})
	if _, err := probe.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(keyID)}); err == nil ||
		!strings.Contains(err.Error(), accessKey) || !strings.Contains(err.Error(), token) {
		t.Fatalf("the echoing endpoint's error %v does not carry the credentials", err)
	}
	echo.echo.Store(false)

	// The mnemonic-file wallet.
	entropy, err := bip39.NewEntropy(128)
	if err != nil {
		t.Fatal(err)
	}
	mnemonic, err := bip39.NewMnemonic(entropy)
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(mnemonic)
	for i := 0; i+3 <= len(words); i++ {
		needles[strings.Join(words[i:i+3], " ")] = fmt.Sprintf("words %d-%d of the mnemonic file", i+1, i+3)
	}
	fileKey, err := chain.DeriveKey(mnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "mnemonic"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte(mnemonic+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Words of the list whose checksum does not match: the first two
	// swapped, and if that still matches (one time in sixteen, or the same
	// word twice; CI met one), the last word changed until it fails.
	swapped := append([]string{words[1], words[0]}, words[2:]...)
	for _, w := range bip39.GetWordList() {
		if !bip39.IsMnemonicValid(strings.Join(swapped, " ")) {
			break
		}
		swapped[len(swapped)-1] = w
	}
	if bip39.IsMnemonicValid(strings.Join(swapped, " ")) {
		t.Fatal("no invalid mnemonic made")
	}
	if err := os.WriteFile(bad, []byte(strings.Join(swapped, " ")), 0o600); err != nil {
		t.Fatal(err)
	}

	dc := devchaintest.Start(t, devchain.Options{Fund: []common.Address{key.Address(), crypto.PubkeyToAddress(fileKey.PublicKey)}}, 250*time.Millisecond)
	rs := redistest.StartWith(t, redistest.Options{})
	rdb := rs.Client()

	base := []string{
		"REDIS_URL=" + rs.URL(), "CHAIN_RPC_URL=" + dc.URL, "DEPEG_PRODUCT_ADDRESS=" + dc.Product.Hex(),
		"SIGNER=aws-kms", "AWS_KMS_KEY_IDS=" + keyID,
		"AWS_REGION=" + kmstest.Region, "AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_SESSION_TOKEN=" + token, "AWS_ENDPOINT_URL_KMS=" + es.URL, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"CHAIN_MINUMUM_REQUIRED_CONFIRMATIONS=1", "CHAIN_POLL_INTERVAL=100", "ERROR_TIMEOUT=300",
		"REDIS_READ_BLOCK_TIMEOUT=300", "BALANCE_REFRESH_INTERVAL=200", "SHUTDOWN_TIMEOUT=5000",
		"NODE_ENV=production", "LOG_LEVEL=debug",
	}
	env := func(over ...string) []string {
		out := append([]string(nil), base...)
		for _, kv := range over {
			name, _, _ := strings.Cut(kv, "=")
			out = slicesDeleteVar(out, name)
			if !strings.HasSuffix(kv, "=") {
				out = append(out, kv)
			}
		}
		return out
	}
	got := &seen{blobs: map[string][]byte{}}
	logDir := t.TempDir()
	run := func(name string, wantCode int, e []string, args ...string) {
		t.Helper()
		code, stdout, stderr := proctest.Run(t, bin, proctest.Options{Env: e, Args: args, Name: name, LogDir: logDir}, time.Minute)
		got.add(name+" stdout", []byte(stdout))
		got.add(name+" stderr", []byte(stderr))
		if code != wantCode {
			t.Errorf("%s: exit code %d, want %d:\n%s%s", name, code, wantCode, stdout, stderr)
		}
	}

	run("kms-check", 0, env(), "-check")
	echo.echo.Store(true)
	run("kms-check-echo", 1, env(), "-check")
	run("kms-start-echo", 1, env("PORT="+freePort(t)))
	echo.echo.Store(false)
	mnemonicEnv := env("SIGNER=", "AWS_KMS_KEY_IDS=", "PROCESSOR_MNEMONIC_FILE="+good)
	run("mnemonic-file-check", 0, mnemonicEnv, "-check")
	run("mnemonic-file-bad", 2, env("SIGNER=", "AWS_KMS_KEY_IDS=", "PROCESSOR_MNEMONIC_FILE="+bad), "-check")

	p := proctest.Start(t, bin, proctest.Options{Env: env("PORT=" + freePort(t)), Name: "kms-running", LogDir: logDir})
	p.WaitServing(t, time.Minute)
	echo.echo.Store(true)
	signed, err := frontend.NewSigned(dc.ChainID, dc.Helper, 1)
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := frontend.SignatureIDToBytes32(signed.SignatureID)
	if _, err := frontend.Enqueue(ctx, rdb, streamKey, frontend.NewEntityID(), frontend.Fields(signed)); err != nil {
		t.Fatal(err)
	}
	read := func(path string) {
		code, b, err := p.Get(ctx, path)
		if err == nil {
			got.add(fmt.Sprintf("kms-running GET %s -> %d", path, code), b)
		}
	}
	poll.Until(t, 20*time.Second, "the key stopped after KMS refused to sign", func() bool {
		read("/api/monitor")
		read("/metrics")
		out := p.Stdout() + p.Stderr()
		return strings.Contains(out, keyID) && strings.Contains(out, "AccessDeniedException") && strings.Contains(out, "key stopped")
	})
	for _, path := range []string{"/api/monitor/liveness", "/api/monitor/readiness", "/console/", "/api/openapi.json"} {
		read(path)
	}
	if code := p.Stop(t, 15*time.Second); code != 0 {
		t.Errorf("kms-running: exit code %d after SIGTERM, want 0:\n%s", code, p.Tail(20))
	}
	got.add("kms-running stdout", []byte(p.Stdout()))
	got.add("kms-running stderr", []byte(p.Stderr()))

	// KMS allows the key again: a restarted processor confirms the
	// application.
	echo.echo.Store(false)
	p = proctest.Start(t, bin, proctest.Options{Env: env("PORT=" + freePort(t)), Name: "kms-restarted", LogDir: logDir})
	p.WaitServing(t, time.Minute)
	poll.Until(t, 30*time.Second, "the application confirmed once KMS answers again", func() bool {
		n, err := dc.ApplicationsBySignatureID(ctx, sid)
		pend, perr := rdb.XPending(ctx, streamKey, "depeg-backend-processor").Result()
		return err == nil && n == 1 && (perr == nil || perr == redis.Nil) && pend != nil && pend.Count == 0
	})
	read("/metrics")
	if code := p.Stop(t, 15*time.Second); code != 0 {
		t.Errorf("kms-restarted: exit code %d after SIGTERM, want 0:\n%s", code, p.Tail(20))
	}
	got.add("kms-restarted stdout", []byte(p.Stdout()))
	got.add("kms-restarted stderr", []byte(p.Stderr()))

	total := 0
	for where, b := range got.blobs {
		total += len(b)
		for needle, what := range needles {
			if i := bytes.Index(b, []byte(needle)); i >= 0 {
				from, to := max(0, i-120), min(len(b), i+len(needle)+40)
				t.Errorf("%s shows %s: …%s…", where, what, b[from:to])
			}
		}
	}
	t.Logf("checked %d outputs (%d bytes) for %d secrets; %d KMS calls", len(got.blobs), total, len(needles), echo.calls.Load())
}

// slicesDeleteVar removes NAME=... from an environment.
func slicesDeleteVar(env []string, name string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
