package api_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/etherisc/depeg-relay/api"
	"github.com/etherisc/depeg-relay/intake"
)

// TestOpenAPIStatusSchemaMatchesStatus: the Status schema describes every
// field GET /api/application/{entityId} answers (intake.Status's JSON
// names), and no other; a field added to the answer (batchIndex and
// batchSize with issue 22) without its description fails here. Fields are
// only ever added: the answer stays readable by the clients of before.
func TestOpenAPIStatusSchemaMatchesStatus(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	schema, ok := doc.Components.Schemas["Status"]
	if !ok {
		t.Fatal("openapi.json has no Status schema")
	}
	var fields []string
	typ := reflect.TypeFor[intake.Status]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields = append(fields, name)
		}
	}
	var described []string
	for name := range schema.Properties {
		described = append(described, name)
	}
	slices.Sort(fields)
	slices.Sort(described)
	if !slices.Equal(fields, described) {
		t.Fatalf("intake.Status and the Status schema differ:\nanswered  %v\ndescribed %v", fields, described)
	}
	for _, f := range []string{"batchIndex", "batchSize"} {
		if !slices.Contains(described, f) || slices.Contains(schema.Required, f) {
			t.Errorf("%s: must be described and optional (absent for a transaction of its own)", f)
		}
	}
}
