// Package deploy holds the files operators deploy beside the processor: the
// Prometheus alert rules with their unit tests and the Grafana dashboard.
// Its tests check them: promtool's own checks and rule tests, a runbook link
// on every alert that leads to a heading of README, and a dashboard Grafana
// can import. That every metric they name is served at /metrics is checked
// against a real processor in cmd/processor (TestDeployedMetricNamesExist).
package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"
)

const (
	rulesFile     = "prometheus/depeg-relay.rules.yml"
	rulesTestFile = "prometheus/depeg-relay.rules.test.yml"
	dashboardFile = "grafana/depeg-relay.json"
	readmeURL     = "https://github.com/etherisc/depeg-relay/blob/main/README.md#"
)

// promtool finds promtool (Debian's prometheus package). It skips the test
// only outside CI: .ci/run installs it, and there a missing promtool is a
// failure, not a reason to prove nothing.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool not found with CI set (apt-get install prometheus): %v", err)
		}
		t.Skip("promtool not installed (apt-get install prometheus); CI runs this test")
	}
	return bin
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	cmd := exec.Command(promtool(t), "test", "rules", "depeg-relay.rules.test.yml")
	cmd.Dir = "prometheus"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// wantAlerts are the alerts the operators were promised (issues 13 and
// 19); more may follow, none of these may go.
var wantAlerts = []string{
	"DepegRelayBalanceBelowAlert", "DepegRelayRunwayUnder24h", "DepegRelayLoopStalled", "DepegRelayQueueNotDraining",
	"DepegRelayDeadLettersArriving", "DepegRelayWaitingAtFeeCap", "DepegRelayNodeHoldsFewerThanWindow",
	"DepegRelayScrapeFailing", // issue 19: a failing scrape silences every other alert
}

// TestEveryAlertHasARunbook: each alert names a severity, a summary and a
// runbook link to a heading that exists in README, and has a unit test.
func TestEveryAlertHasARunbook(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(raw, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	anchors := readmeAnchors(t)
	tests, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			seen[r.Alert] = true
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: wants a severity label, a summary and a description", r.Alert)
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], readmeURL)
			if !ok {
				t.Errorf("%s: runbook_url %q does not point into README (%s...)", r.Alert, r.Annotations["runbook_url"], readmeURL)
			} else if !anchors[anchor] {
				t.Errorf("%s: README has no heading for #%s", r.Alert, anchor)
			}
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("%s: no unit test in %s", r.Alert, rulesTestFile)
			}
		}
	}
	for _, a := range wantAlerts {
		if !seen[a] {
			t.Errorf("alert %s is missing", a)
		}
	}
}

// readmeAnchors are the anchors GitHub gives README's headings: lower case,
// punctuation dropped, spaces as hyphens.
func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	out := map[string]bool{}
	inFence := false
	for line := range strings.Lines(string(raw)) {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		text, ok := strings.CutPrefix(line, "#")
		if inFence || !ok {
			continue
		}
		text = strings.TrimSpace(strings.TrimLeft(text, "#"))
		slug := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(text), ""), " ", "-")
		out[slug] = true
	}
	return out
}

// TestDashboardImports: the dashboard is JSON Grafana imports: a datasource
// variable every query uses, unique panel ids, and a query on every panel
// that is not a row.
func TestDashboardImports(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name, Type string
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Fatal("dashboard wants a uid and a title")
	}
	hasDS := false
	for _, v := range d.Templating.List {
		hasDS = hasDS || (v.Name == "datasource" && v.Type == "datasource")
	}
	if !hasDS {
		t.Fatal("dashboard has no datasource variable")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: wants the datasource variable and a query", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, "depeg_relay_") || !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q: query %q names no depeg_relay_ metric of the chosen instance", p.Title, tg.Expr)
			}
		}
	}
}
