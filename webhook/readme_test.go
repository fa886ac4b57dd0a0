package webhook

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReadmeVerifierAgreesWithSign runs README's Node.js verification
// function, as README shows it, on deliveries signed by Sign: it must accept
// the real ones and refuse a changed body, a wrong secret and an old
// timestamp, as Verify does.
func TestReadmeVerifierAgreesWithSign(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: README's JavaScript verifier cannot be run")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```js\n(const crypto = require\\(\"node:crypto\"\\);\n.*?function verifyDepegSignature.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no verifyDepegSignature snippet")
	}
	type tc struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
		Header string `json:"header"`
		Body   string `json:"body"`
		want   bool
	}
	secret := []byte(testSecret)
	body := []byte(`{"id":"4f1c","state":"confirmed","entityId":"01J","reason":"ünïcode"}`)
	now := time.Now()
	_, newSig, _ := strings.Cut(Sign(secret, now, body), ",v1=")
	cases := []tc{
		{"valid", testSecret, Sign(secret, now, body), string(body), true},
		{"two signatures, the new one valid", testSecret, Sign([]byte("old-secret"), now, body) + ",v1=" + newSig, string(body), true},
		{"body changed", testSecret, Sign(secret, now, body), string(body) + " ", false},
		{"wrong secret", "another-secret", Sign(secret, now, body), string(body), false},
		{"ten minutes old", testSecret, Sign(secret, now.Add(-10*time.Minute), body), string(body), false},
		{"no header", testSecret, "", string(body), false},
	}
	for _, c := range cases {
		// Verify and the snippet must agree on every case.
		if got := Verify([]byte(c.Secret), c.Header, []byte(c.Body), now, 0) == nil; got != c.want {
			t.Fatalf("%s: Verify = %v, want %v", c.Name, got, c.want)
		}
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	script := string(m[1]) + `
const cases = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map((c) => verifyDepegSignature(c.secret, c.header, Buffer.from(c.body, "utf8")))));
`
	path := filepath.Join(t.TempDir(), "verify.js")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, path)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got []bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %s: %v", out, err)
	}
	want := make([]bool, len(cases))
	for i, c := range cases {
		want[i] = c.want
	}
	if !slices.Equal(got, want) {
		t.Errorf("README verifier says %v, want %v (cases %v)", got, want, cases)
	}
}
