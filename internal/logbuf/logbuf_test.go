package logbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("line\n"))
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "line\n"); n != 800 || b.Len() != 800*5 {
		t.Fatalf("%d lines, %d bytes; want 800 whole lines", n, b.Len())
	}
	b.Reset()
	if b.String() != "" {
		t.Fatal("Reset kept data")
	}
}

func TestJSONLines(t *testing.T) {
	var b Buffer
	_, _ = b.Write([]byte(`{"level":"error","panic":"boom"}` + "\n" + `{"level":"info"}` + "\n"))
	lines, err := b.JSONLines()
	if err != nil || len(lines) != 2 || lines[0]["panic"] != "boom" || lines[1]["level"] != "info" {
		t.Fatalf("JSONLines = %v, %v", lines, err)
	}
	_, _ = b.Write([]byte("panic: not json\n"))
	if _, err := b.JSONLines(); err == nil {
		t.Fatal("a line that is not JSON was accepted")
	}
}
