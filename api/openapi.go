package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 description of every route. TestOpenAPIMatchesRoutes
// compares it with the router's routes, and the intake tests check every
// status they see against it, so the two cannot drift apart.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 description served at /api/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPI)
}
