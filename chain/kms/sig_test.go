package kms

import (
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func der(t *testing.T, r, s *big.Int) []byte {
	t.Helper()
	b, err := asn1.Marshal(ecdsaSig{R: r, S: s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEthereumSignature: a DER signature with s in either half becomes the
// low-s signature that recovers to the key, with the right v; malformed or
// out-of-range input and a foreign key are refused.
func TestEthereumSignature(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr := crypto.PubkeyToAddress(key.PublicKey)
	other := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	// Find digests whose (low-s) signatures have each recovery id, so both
	// v are exercised.
	var cases []struct {
		digest []byte
		r, s   *big.Int
		v      byte
	}
	for seen := map[byte]bool{}; len(seen) < 2; {
		d := make([]byte, 32)
		_, _ = rand.Read(d)
		sig, err := crypto.Sign(d, key)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[sig[64]] {
			seen[sig[64]] = true
			cases = append(cases, struct {
				digest []byte
				r, s   *big.Int
				v      byte
			}{d, new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64]), sig[64]})
		}
	}
	for _, c := range cases {
		high := new(big.Int).Sub(secp256k1N, c.s)
		for name, s := range map[string]*big.Int{"low s": c.s, "high s": high} {
			got, err := EthereumSignature(der(t, c.r, s), c.digest, addr)
			if err != nil {
				t.Fatalf("v=%d %s: %v", c.v, name, err)
			}
			if new(big.Int).SetBytes(got[32:64]).Cmp(c.s) != 0 || got[64] != c.v {
				t.Fatalf("v=%d %s: got s=%x v=%d, want the low s and v=%d", c.v, name, got[32:64], got[64], c.v)
			}
			pub, err := crypto.SigToPub(c.digest, got)
			if err != nil || crypto.PubkeyToAddress(*pub) != addr {
				t.Fatalf("v=%d %s: does not recover to the key", c.v, name)
			}
		}
	}
	c := cases[0]
	for name, in := range map[string]struct {
		der  []byte
		want common.Address
	}{
		"garbage":        {[]byte{0x30, 0x01, 0x02}, addr},
		"trailing bytes": {append(der(t, c.r, c.s), 0), addr},
		"r zero":         {der(t, big.NewInt(0), c.s), addr},
		"s = N":          {der(t, c.r, secp256k1N), addr},
		"other address":  {der(t, c.r, c.s), other},
	} {
		if _, err := EthereumSignature(in.der, c.digest, in.want); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: err %v, want ErrBadSignature", name, err)
		}
	}
}

// TestParsePublicKey: a secp256k1 SubjectPublicKeyInfo gives the key; another
// curve or garbage is refused.
func TestParsePublicKey(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	spki := func(curve asn1.ObjectIdentifier) []byte {
		var s subjectPublicKeyInfo
		s.Algorithm.Algorithm, s.Algorithm.Parameters = oidECPublicKey, curve
		raw := crypto.FromECDSAPub(&key.PublicKey)
		s.PublicKey = asn1.BitString{Bytes: raw, BitLength: 8 * len(raw)}
		b, err := asn1.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pub, err := ParsePublicKey(spki(oidSecp256k1))
	if err != nil || crypto.PubkeyToAddress(*pub) != crypto.PubkeyToAddress(key.PublicKey) {
		t.Fatalf("ParsePublicKey = %v, %v", pub, err)
	}
	p256 := asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	for name, in := range map[string][]byte{"P-256": spki(p256), "garbage": []byte("not der")} {
		if _, err := ParsePublicKey(in); !errors.Is(err, ErrBadPublicKey) {
			t.Errorf("%s: err %v, want ErrBadPublicKey", name, err)
		}
	}
}
