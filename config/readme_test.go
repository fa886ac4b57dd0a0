package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryVariable: README's configuration table has a row for
// every variable config reads, and where config has a default the row's
// default column says it (it may explain after it: "0 (on `PORT`)"). The
// default is written once, in variables(); the README follows it.
func TestREADMEListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // variable -> default column
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if _, seen := rows[name]; !seen {
			rows[name] = strings.TrimSpace(cells[2])
		}
	}
	for _, v := range Variables() {
		got, ok := rows[v.Name]
		switch {
		case !ok:
			t.Errorf("README's configuration table has no row for %s", v.Name)
		case v.Default != "" && got != v.Default && !strings.HasPrefix(got, v.Default+" "):
			t.Errorf("README gives %s the default %q, config %q", v.Name, got, v.Default)
		}
	}
}
