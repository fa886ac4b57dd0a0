package config

import (
	"strings"
	"testing"
)

func TestLoadConsoleSettings(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"unset", "<unset>", ""},
		{"etherscan", "https://etherscan.io", "https://etherscan.io"},
		{"trailing slash", "https://etherscan.io/", "https://etherscan.io"},
		{"with a path", "https://explorer.example.org/mainnet/", "https://explorer.example.org/mainnet"},
		{"plain http", "http://127.0.0.1:4000", "http://127.0.0.1:4000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"EXPLORER_URL": tc.value})
			if c.ExplorerURL != tc.want {
				t.Fatalf("ExplorerURL %q, want %q", c.ExplorerURL, tc.want)
			}
			if f := c.LogFields()["EXPLORER_URL"]; f != tc.want {
				t.Fatalf("LogFields EXPLORER_URL %v", f)
			}
		})
	}
	if c := mustLoad(t, nil); !c.ConsoleEnabled {
		t.Fatal("the console is off by default")
	}
	if c := mustLoad(t, map[string]string{"CONSOLE_ENABLED": "false"}); c.ConsoleEnabled {
		t.Fatal("CONSOLE_ENABLED=false left the console on")
	}
}

func TestLoadRejectsConsoleSettings(t *testing.T) {
	for _, tc := range []struct {
		name, v, value string
	}{
		{"no scheme", "EXPLORER_URL", "etherscan.io"},
		{"ftp", "EXPLORER_URL", "ftp://etherscan.io"},
		{"query", "EXPLORER_URL", "https://etherscan.io/?a=1"},
		{"credentials", "EXPLORER_URL", "https://user:pass@etherscan.io"},
		{"bool", "CONSOLE_ENABLED", "sometimes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadErr(t, map[string]string{tc.v: tc.value})
			if len(e.Problems) != 1 || e.Problems[0].Var != tc.v {
				t.Fatalf("problems %+v, want one naming %s", e.Problems, tc.v)
			}
			if strings.Contains(e.Error(), "pass@") {
				t.Fatalf("error %q echoes credentials", e.Error())
			}
		})
	}
}
