// Package kmstest runs a real KMS API for tests: nsmithuk/local-kms (a Go
// module that signs with ECC_SECG_P256K1 keys), built once from the module
// proxy and started on a free loopback port. Keys are created through the
// SDK, as an operator creates them in AWS.
package kmstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
)

// Module is the local-kms version the tests run, pinned so that every run
// (and CI, which reaches only the module proxy) builds the same server.
const Module = "github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6"

// Region and the fake credentials the tests' clients use. local-kms checks
// no signature; the credentials exist so that the SDK signs as it would
// against AWS, and so the secrets test can look for them.
const Region = "eu-central-1"

// T is what kmstest asks of its caller: a test (*testing.T satisfies it),
// or a tool that runs local-kms outside a test (the bench) and stops on the
// first Fatal.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds local-kms (go install of Module, with its own go.mod and
// go.sum) once per machine and version, into a directory of the system's
// temporary directory named after Module, and returns its path. Test
// processes that race to build it each build into a directory of their own
// and the first rename wins.
func Binary(t T) string {
	t.Helper()
	buildOnce.Do(func() {
		sum := sha256.Sum256([]byte(Module))
		dir := filepath.Join(os.TempDir(), "depeg-relay-local-kms-"+hex.EncodeToString(sum[:6]))
		bin := filepath.Join(dir, "local-kms")
		if _, err := os.Stat(bin); err == nil {
			binPath = bin
			return
		}
		tmp, err := os.MkdirTemp(os.TempDir(), "local-kms-build-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "install", Module)
		// Outside our module: local-kms's own go.mod and go.sum decide.
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go install %s: %w\n%s", Module, err, out)
			return
		}
		if err := os.Rename(tmp, dir); err != nil {
			if _, serr := os.Stat(bin); serr != nil { // not another process's build
				buildErr = fmt.Errorf("keep the local-kms build: %w", err)
				return
			}
		}
		binPath = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Server is a running local-kms.
type Server struct {
	// URL is its endpoint ("http://127.0.0.1:PORT"), for a client's
	// BaseEndpoint or AWS_ENDPOINT_URL_KMS.
	URL string
	// AccessKey and SecretKey are the credentials Client signs with.
	AccessKey, SecretKey, SessionToken string
}

// Start runs a fresh local-kms (its own data directory) until the test ends.
// A server that exits before it listens (its port taken meanwhile: the port
// is picked free, then bound by local-kms) is started again on another
// port, up to three times.
func Start(t T) *Server {
	t.Helper()
	bin := Binary(t)
	var last error
	for range 3 {
		port, err := freeport.Pick()
		if err != nil {
			t.Fatalf("pick a port for local-kms: %v", err)
		}
		if err := start(t, bin, port); err != nil {
			last = err
			continue
		}
		return &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), AccessKey: "AKIAKMSTEST" + strconv.Itoa(port),
			SecretKey: "kmstestsecret" + strconv.Itoa(port) + "x9Qw", SessionToken: "kmstesttoken" + strconv.Itoa(port)}
	}
	t.Fatalf("start local-kms: %v", last)
	return nil
}

// start runs local-kms on port and waits until it listens; the process is
// killed and reaped when the test ends.
func start(t T, bin string, port int) error {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "local-kms.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "KMS_DATA_PATH="+t.TempDir(),
		"KMS_REGION="+Region, "KMS_ACCOUNT_ID=111122223333")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return poll.Wait(context.Background(), 30*time.Second, poll.Every, func() error {
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			return poll.Final(fmt.Errorf("local-kms on port %d exited: %s", port, bytes.TrimSpace(out)))
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Env is the environment that points a process's SDK at the server.
func (s *Server) Env() []string {
	return []string{"AWS_ENDPOINT_URL_KMS=" + s.URL, "AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_SESSION_TOKEN=" + s.SessionToken,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
}

// Client is an SDK client for the server, with the SDK's retries off (as
// kms.NewClient builds it).
func (s *Server) Client() *awskms.Client {
	return awskms.New(awskms.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, s.SessionToken),
		Retryer:      aws.NopRetryer{},
	})
}

// CreateKey creates an ECC_SECG_P256K1 SIGN_VERIFY key and returns its id.
func (s *Server) CreateKey(t T) string {
	t.Helper()
	return s.createKey(t, types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify)
}

// CreateKeyOf creates a key of another spec and usage (for the wrong-type
// cases).
func (s *Server) CreateKeyOf(t T, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	return s.createKey(t, spec, usage)
}

func (s *Server) createKey(t T, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := s.Client().CreateKey(context.Background(), &awskms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("create %s key: %v", spec, err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// Alias gives the key an alias ("alias/NAME") and returns it.
func (s *Server) Alias(t T, id, name string) string {
	t.Helper()
	alias := "alias/" + name
	if _, err := s.Client().CreateAlias(context.Background(), &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatalf("create alias: %v", err)
	}
	return alias
}

// Disable disables the key: KMS then refuses to sign with it.
func (s *Server) Disable(t T, id string) {
	t.Helper()
	if _, err := s.Client().DisableKey(context.Background(), &awskms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("disable key: %v", err)
	}
}

// ScheduleDeletion puts the key in PendingDeletion.
func (s *Server) ScheduleDeletion(t T, id string) {
	t.Helper()
	if _, err := s.Client().ScheduleKeyDeletion(context.Background(), &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id),
		PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatalf("schedule key deletion: %v", err)
	}
}
