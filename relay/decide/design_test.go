package decide

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDesignDecisionTable holds docs/design.md 4.4 to decideRows: the same
// rows in the same order, each with its event, its condition, its action
// and what it keeps. A row added, moved or reworded on one side fails here;
// the message prints the table as the code has it.
func TestDesignDecisionTable(t *testing.T) {
	b, err := os.ReadFile("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "### 4.4 ")
	if start < 0 {
		t.Fatal("docs/design.md has no section 4.4")
	}
	section := doc[start+4:]
	if end := strings.Index(section, "\n### "); end >= 0 {
		section = section[:end]
	}
	var got [][]string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !strings.HasPrefix(line, "| ") || len(cells) != 5 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(strings.ReplaceAll(cells[i], "**", ""))
		}
		if cells[0] == "#" {
			continue
		}
		got = append(got, cells)
	}
	var want strings.Builder
	mismatch := len(got) != len(decideRows)
	for i, r := range decideRows {
		cells := []string{fmt.Sprint(i + 1), r.on.String(), r.when, r.act.String(), r.keeps}
		if i < len(got) && strings.Join(got[i], "|") != strings.Join(cells, "|") {
			t.Errorf("row %d: docs say %q, the code %q", i+1, got[i], cells)
			mismatch = true
		}
		act := r.act.String()
		if r.act != Wait {
			act = "**" + act + "**"
		}
		fmt.Fprintf(&want, "| %d | %s | %s | %s | %s |\n", i+1, r.on, r.when, act, r.keeps)
	}
	if mismatch {
		t.Errorf("docs/design.md 4.4 has %d rows, decideRows %d; the table as the code has it:\n%s", len(got), len(decideRows), want.String())
	}
}
