package main

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/etherisc/depeg-relay/internal/proctest"
)

// built is the processor binary, compiled once for every test of the
// package that runs it (go build takes most of such a test's time).
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// processorBinary builds cmd/processor on first use and returns its path.
func processorBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "processor-test"); built.err != nil {
			return
		}
		built.bin, built.err = proctest.Compile(context.Background(), "", built.dir)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
