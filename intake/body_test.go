package intake

import (
	"reflect"
	"testing"
)

func TestFields(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		want     map[string]string
		problems []string // fields with a type problem ("" = the body)
	}{
		{"frontend body", `{"policyHolder":"0xA","protectedWallet":"0xB","protectedBalance":"5000000000",
			"duration":2592000,"bundleId":1,"signatureId":"id","signature":"0x00","extra":true}`,
			map[string]string{"policyHolder": "0xA", "protectedWallet": "0xB", "protectedBalance": "5000000000",
				"duration": "2592000", "bundleId": "1", "signatureId": "id", "signature": "0x00"}, nil},
		{"numbers kept literally", `{"protectedBalance":-5,"duration":1e3,"bundleId":1.0}`,
			map[string]string{"protectedBalance": "-5", "duration": "1e3", "bundleId": "1.0"}, nil},
		{"decimal strings for numbers", `{"duration":"30","bundleId":"2"}`,
			map[string]string{"duration": "30", "bundleId": "2"}, nil},
		{"null is missing", `{"signature":null}`, map[string]string{}, nil},
		{"wrong types", `{"policyHolder":5,"bundleId":true,"signature":{"a":1},"duration":[1]}`,
			map[string]string{}, []string{"policyHolder", "duration", "bundleId", "signature"}},
		{"not an object", `[1,2]`, nil, []string{""}},
		{"not json", `policyHolder=0x`, nil, []string{""}},
		{"empty", ``, nil, []string{""}},
		{"two values", `{} {}`, nil, []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, probs := Fields([]byte(tc.body))
			var names []string
			for _, p := range probs {
				names = append(names, p.Field)
			}
			if !reflect.DeepEqual(names, tc.problems) {
				t.Fatalf("problems %+v, want fields %v", probs, tc.problems)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields %v, want %v", got, tc.want)
			}
		})
	}
}
