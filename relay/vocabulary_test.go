package relay

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/stream"
)

// TestDeadLetterClassesAreStreams: the relay dead-letters a simulated revert
// with the revert class's name (chain.RevertClass.String), so every such
// name must be one of stream's dead-letter classes, or the counter would
// file it under "other".
func TestDeadLetterClassesAreStreams(t *testing.T) {
	for c := chain.RevertUnknown; c <= chain.RevertProductInactive; c++ {
		if !c.Final() {
			continue // transient: never dead-lettered by class
		}
		if !slices.Contains(stream.DeadLetterClasses(), c.String()) {
			t.Errorf("revert class %q is not a stream dead-letter class", c.String())
		}
	}
}

// TestRelayImportsNoMonitor: the relay reports through its Metrics
// interface and takes its words from stream; importing monitor would
// make the two packages' dependencies circular in spirit (monitor counts
// what the relay does).
func TestRelayImportsNoMonitor(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/etherisc/depeg-relay/monitor" {
				t.Errorf("%s imports monitor", name)
			}
		}
	}
}
