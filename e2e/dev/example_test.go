package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etherisc/depeg-relay/internal/devproc"
	"github.com/etherisc/depeg-relay/internal/freeport"
)

// Dev mode stops on Ctrl-C within about a second (interruptTarget): its
// relays' blocking reads last 300 ms (REDIS_READ_BLOCK_TIMEOUT), and the
// rest of the stop is quick. That is a measured figure, logged, not
// asserted: on a loaded machine it is not a bound. interruptHang is one: a
// stop that takes longer hangs on something. It stays under SHUTDOWN_TIMEOUT
// (20 s), which would end a stuck stop by itself; a stop the HTTP server's
// shutdown timeout (api.ShutdownTimeout, 5 s) had to cut short exits 1,
// which fails the test too. (It was 4 s, under that timeout, which the
// three relays, the embedded node and the redis-server child, race-built,
// can come near on a loaded two-core machine.)
const (
	interruptTarget = time.Second
	interruptHang   = 15 * time.Second
)

// TestReadmeExampleThenCtrlC is a newcomer's first session: dev mode with
// a pool of three keys and a Redis of its own (its redis-server child),
// README's intake example posted verbatim (the body of its curl line),
// answered with JSON naming the entity, whose status goes submitted (with
// confirmations) and then confirmed. Then Ctrl-C, as a terminal sends it
// (SIGINT to the whole process group): dev mode stops without hanging
// (interruptHang; in about a second, interruptTarget), exit 0, and logs no
// error (its redis-server did not get the SIGINT and was stopped after the
// relays).
func TestReadmeExampleThenCtrlC(t *testing.T) {
	bins := devproc.BuildBinaries(t, "./cmd/processor")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(readme), "<!-- intake-example -->")
	m := regexp.MustCompile(`curl -s -X POST \S+/api/application -H 'Content-Type: application/json' -d '([^']+)'`).FindStringSubmatch(rest)
	if m == nil {
		t.Fatal("README's intake example has no curl line")
	}
	body := m[1]

	port := freeport.Get(t)
	p := devproc.Start(t, filepath.Join(bins, "processor"), []string{
		"PORT=" + strconv.Itoa(port),
		"DEV_CHAIN_PORT=" + strconv.Itoa(freeport.Get(t)),
		"DEV_BLOCK_TIME=200",
		"CHAIN_POLL_INTERVAL=200",
		"PROCESSOR_ACCOUNT_INDEX=0-2",
		// A binary built with -race sleeps a second at exit by default
		// (to let late race reports through); that second is not dev
		// mode's.
		"GORACE=atexit_sleep_ms=0",
	})
	ready := p.WaitReady(t, startBound)
	if ready.RedisShared {
		t.Fatalf("dev mode without REDIS_URL shares a Redis: %+v", ready)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	eventually(t, p, startBound, "the intake serves", func(ctx context.Context) error {
		code, _, err := devproc.Get(ctx, base+"/api/openapi.json")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})

	res, err := http.Post(base+"/api/application", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var acc struct{ EntryID, EntityID string }
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
		json.Unmarshal(raw, &acc) != nil || acc.EntityID == "" || acc.EntryID == "" {
		t.Fatalf("README's example: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), raw)
	}
	sawConfirmations := false
	eventually(t, p, processBound, "README's example confirmed", func(ctx context.Context) error {
		code, out, err := devproc.Get(ctx, base+"/api/application/"+acc.EntityID)
		if err != nil {
			return err
		}
		var st struct {
			Status        string
			Confirmations *uint64
			UpdatedAt     *time.Time
		}
		if code != http.StatusOK || json.Unmarshal([]byte(out), &st) != nil {
			return fmt.Errorf("status %d %s", code, out)
		}
		if st.Status == "submitted" && st.Confirmations != nil && st.UpdatedAt != nil {
			sawConfirmations = true
		}
		if st.Status != "confirmed" {
			return fmt.Errorf("status %s", out)
		}
		return nil
	})
	t.Logf("saw a submitted status with confirmations: %v", sawConfirmations)

	start := time.Now()
	if err := p.Interrupt(); err != nil {
		t.Fatalf("Ctrl-C: %v", err)
	}
	select {
	case <-p.Done():
	case <-time.After(interruptHang):
		t.Fatalf("dev mode still running %s after Ctrl-C (it stops in about %s)\n%s", interruptHang, interruptTarget, p.LogTail())
	}
	took := time.Since(start)
	if p.Err() != nil {
		t.Fatalf("exit after Ctrl-C: %v\n%s", p.Err(), p.LogTail())
	}
	t.Logf("dev mode stopped %s after Ctrl-C (target %s, hang past %s)", took.Round(time.Millisecond), interruptTarget, interruptHang)
	lines := p.Lines()
	banner := strings.Join(lines, "\n")
	for _, l := range lines {
		var entry struct{ Level string }
		if json.Unmarshal([]byte(l), &entry) == nil && (entry.Level == "error" || entry.Level == "warn" && bytes.Contains([]byte(l), []byte("redis"))) {
			t.Errorf("logged on the way down: %s", l)
		}
	}
	if n := strings.Count(banner, "relay wallet"); n != 3 {
		t.Errorf("the banner lists %d wallets, want the pool's 3", n)
	}
}
