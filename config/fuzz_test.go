package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// marker is part of every secret the fuzzer writes, between two parts it
// chooses, so that an echo of the secret, or of the piece of it a parser
// took for something else (a port, a path), shows; it never occurs in the
// parser's own words.
const marker = "Zq9Xk7"

// FuzzParse feeds the environment an operator (or a broken deploy script)
// might set. Properties: no panic; every rejection is an *Error naming only
// real variables, on one line, in valid UTF-8; and neither the rejection nor
// the effective configuration as logged at start contains a secret: the
// Redis password, the path and query of CHAIN_RPC_URL, the mnemonic, the
// admin token.
func FuzzParse(f *testing.F) {
	mnemonic := "test test test test test test test test test test test junk"
	f.Add(":pw", "127.0.0.1:6379", "node.example", "v3/key", "apikey=1", "", strings.Repeat("t", 32),
		"30000000000", "", "3000", "30000", "https://app.example", "10.0.0.0/8", "info")
	// A password with an unescaped '/' after a number: url.Parse takes its
	// start for a port and the rest for a path.
	f.Add("user:7306/|x", "127.0.0.1:6379", "node.example", "v3/key", "apikey=1", "", strings.Repeat("t", 32),
		"30000000000", "", "3000", "30000", "https://app.example", "10.0.0.0/8", "info")
	f.Add("", "localhost", "", "", "", "", "", "", "", "", "", "", "", "")
	f.Add("user:7306/|x", "h:1", "h", "k", "q", "", "short", "1e9", "-1", "0", "1.5", "*", "x", "LOUD")
	f.Add(":p@ss", "h@h", "h/x", "", "#frag", mnemonic+" zoo", "", "abc", "99999999999999999999999999999", "65536", "0x10",
		"http://a b", "::1", "trace")
	f.Add(":a#b|c", "[::1]:6379", "user:pw@h", "?", "k=v&password=x", "\xff\xfe", "\x00", " ", "\t", "\n", "\r", ",", ",,", "debug")
	f.Fuzz(func(t *testing.T, redisPass, redisHost, rpcHost, rpcPath, rpcQuery, mnemonicIn, token,
		maxFee, tip, port, errorTimeout, origins, proxies, logLevel string) {
		for _, plain := range []string{redisHost, rpcHost, maxFee, tip, port, errorTimeout, origins, proxies, logLevel} {
			if strings.Contains(plain, marker) {
				return // not a secret: it may be shown
			}
		}
		passA, passB, _ := strings.Cut(redisPass, "|")
		e := map[string]string{
			"REDIS_URL":             "redis://" + passA + marker + passB + "@" + redisHost,
			"CHAIN_RPC_URL":         "https://" + rpcHost + "/" + rpcPath + marker + "?" + rpcQuery + marker,
			"DEPEG_PRODUCT_ADDRESS": "0x9ea6d8ddca1d01b3b2c1a6e0e3b0ad1c1d7fa1e2",
			"PROCESSOR_MNEMONIC":    marker + " " + mnemonicIn, // never valid: the rejection is checked

			"ADMIN_TOKEN":              marker + token,
			"MAX_FEE_PER_GAS":          maxFee,
			"MAX_PRIORITY_FEE_PER_GAS": tip,
			"PORT":                     port,
			"ERROR_TIMEOUT":            errorTimeout,
			"INTAKE_CORS_ORIGINS":      origins,
			"INTAKE_TRUSTED_PROXIES":   proxies,
			"LOG_LEVEL":                logLevel,
		}
		if mnemonicIn == "" {
			// A valid one, so that the rest can be accepted and the
			// effective configuration logged.
			e["PROCESSOR_MNEMONIC"] = validMnemonic
		}
		c, err := parse(fill(func(name string) (string, bool) { s, ok := e[name]; return s, ok }))
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || !errors.Is(err, ErrInvalid) || len(cerr.Problems) == 0 {
				t.Fatalf("error %v is not an *Error with problems", err)
			}
			msg := err.Error()
			if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error is not one line of UTF-8: %q", msg)
			}
			for _, p := range cerr.Problems {
				if !knownVar(p.Var) {
					t.Fatalf("problem names %q, not a variable", p.Var)
				}
			}
			if strings.Contains(msg, marker) {
				t.Fatalf("error echoes a secret: %s", msg)
			}
			return
		}
		var b bytes.Buffer
		log := zerolog.New(&b)
		log.Info().Fields(c.LogFields()).Object("config", c).Msg("starting processor")
		logged := b.String() + fmt.Sprintf("%v %+v %#v", c, c, c)
		if strings.Contains(logged, marker) || strings.Contains(logged, strings.Join(strings.Fields(validMnemonic)[:3], " ")) {
			t.Fatalf("the effective configuration shows a secret:\n%s", logged)
		}
	})
}

// validMnemonic is a valid BIP39 phrase whose words the parser never uses.
const validMnemonic = "legal winner thank year wave sausage worth useful legal winner thank yellow"

func knownVar(name string) bool {
	for _, v := range Variables() {
		if v.Name == name {
			return true
		}
	}
	return false
}
