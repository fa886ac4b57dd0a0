package api_test

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/frontend"
)

// readmeExample is the body of README's intake example (the -d '...' of its
// curl line) and the EIP-712 domain and message README shows beside it.
func readmeExample(t *testing.T) (body []byte, typed map[string]any) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- intake-example -->")
	if !ok {
		t.Fatal("README has no <!-- intake-example --> block")
	}
	m := regexp.MustCompile(`(?s)curl -s -X POST \S+/api/application -H 'Content-Type: application/json' -d '([^']+)'.*?` +
		"```json\n(.*?)```").FindStringSubmatch(rest)
	if m == nil {
		t.Fatal("README's intake example has no curl line followed by the EIP-712 JSON")
	}
	if err := json.Unmarshal([]byte(m[2]), &typed); err != nil {
		t.Fatalf("README's EIP-712 JSON: %v", err)
	}
	return []byte(m[1]), typed
}

// TestIntakeExampleIsComplete: README's example body is the OpenAPI
// description's, its signature is the policy holder's over exactly the
// EIP-712 domain and message README shows (e2e/dev posts it to dev mode
// and sees it confirmed), and its helper is what the description names.
func TestIntakeExampleIsComplete(t *testing.T) {
	body, typed := readmeExample(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Description string
			RequestBody struct {
				Content map[string]struct{ Example json.RawMessage }
			}
		}
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	post := doc.Paths["/api/application"]["post"]
	var fromDoc, fromReadme map[string]any
	if err := json.Unmarshal(post.RequestBody.Content["application/json"].Example, &fromDoc); err != nil {
		t.Fatalf("OpenAPI example: %v", err)
	}
	if err := json.Unmarshal(body, &fromReadme); err != nil {
		t.Fatalf("README's body: %v", err)
	}
	a, _ := json.Marshal(fromDoc)
	b, _ := json.Marshal(fromReadme)
	if !bytes.Equal(a, b) {
		t.Fatalf("README's example %s differs from the OpenAPI example %s", b, a)
	}

	domain, _ := typed["domain"].(map[string]any)
	message, _ := typed["message"].(map[string]any)
	helper, _ := domain["verifyingContract"].(string)
	if domain["name"] != frontend.DomainName || domain["version"] != frontend.DomainVersion || domain["chainId"] != 1337.0 ||
		!common.IsHexAddress(helper) || !strings.Contains(post.Description, helper) {
		t.Fatalf("README's domain %v (the description must name its helper)", domain)
	}
	var fields struct {
		PolicyHolder, ProtectedWallet, ProtectedBalance, SignatureID, Signature string
		Duration, BundleID                                                      int64
	}
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	sig, err := hexutil.Decode(fields.Signature)
	if err != nil {
		t.Fatal(err)
	}
	bal, _ := new(big.Int).SetString(fields.ProtectedBalance, 10)
	app := &frontend.Application{PolicyHolder: common.HexToAddress(fields.PolicyHolder), ProtectedWallet: common.HexToAddress(fields.ProtectedWallet),
		ProtectedBalance: bal, Duration: big.NewInt(fields.Duration), BundleID: big.NewInt(fields.BundleID), SignatureID: fields.SignatureID}
	sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
	if message["wallet"] != fields.ProtectedWallet || message["protectedBalance"] != fields.ProtectedBalance ||
		message["duration"] != float64(fields.Duration) || message["bundleId"] != float64(fields.BundleID) ||
		message["signatureId"] != hexutil.Encode(sid[:]) {
		t.Fatalf("README's message %v does not sign the body %s", message, body)
	}
	digest, err := frontend.Digest(big.NewInt(1337), common.HexToAddress(helper), app)
	if err != nil {
		t.Fatal(err)
	}
	sig = append([]byte(nil), sig...)
	sig[64] -= 27
	pub, err := crypto.SigToPub(digest, sig)
	if err != nil || crypto.PubkeyToAddress(*pub) != app.PolicyHolder {
		t.Fatalf("the example's signature is not the policy holder's over README's domain and message: %v", err)
	}
}
