package stream

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestProblems(t *testing.T) {
	valid := map[string]string{
		FieldPolicyHolder: "0x5FbDB2315678afecb367f032d93F642f64180aa3", FieldProtectedWallet: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
		FieldProtectedBalance: "1", FieldDuration: "2", FieldBundleID: "3", FieldSignatureID: "abc",
		FieldSignature: "0x" + strings.Repeat("11", 65),
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range valid {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<delete>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name   string
		fields map[string]string
		want   []string // fields named, in order
	}{
		{"valid", valid, nil},
		{"one missing", with(FieldDuration, "<delete>"), []string{FieldDuration}},
		{"several", with(FieldPolicyHolder, "0xnope", FieldProtectedBalance, "-1", FieldSignature, "<delete>"),
			[]string{FieldPolicyHolder, FieldProtectedBalance, FieldSignature}},
		{"hostile quoted value", with(FieldPolicyHolder, "a; b: c", FieldBundleID, "x"), []string{FieldPolicyHolder, FieldBundleID}},
		{"long signatureId", with(FieldSignatureID, "0123456789012345678901234567890123"), []string{FieldSignatureID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeApplication("e", tc.fields)
			ps := Problems(err)
			var got []string
			for _, p := range ps {
				got = append(got, p.Field)
				if p.Reason == "" {
					t.Errorf("empty reason for %s", p.Field)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields %v, want %v (problems %+v, err %v)", got, tc.want, ps, err)
			}
		})
	}
	if Problems(errors.New("other")) != nil {
		t.Fatal("a foreign error yielded problems")
	}
}
