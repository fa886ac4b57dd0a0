// Package logbuf is an in-memory log sink that several goroutines may write
// to while a test reads it, for a zerolog.Logger under test. Tests read what
// it holds to print it on failure or to prove that something (a secret) is
// absent; what the code did is asserted on state, not on log wording.
package logbuf

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use. The zero value is empty
// and ready.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len is how many bytes were written since the last Reset.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// JSONLines parses what was written as JSON lines (zerolog's output), so a
// test reads fields (level, path, a panic value) rather than wording. A line
// that is not a JSON object is an error.
func (b *Buffer) JSONLines() ([]map[string]any, error) {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return out, fmt.Errorf("log line %q is not JSON: %w", line, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Reset empties the buffer.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}
