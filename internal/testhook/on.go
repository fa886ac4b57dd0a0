//go:build faulthook

package testhook

import "net/http"

// PanicPath is the test build's route that panics: a GET of it is served as
// GET /api/monitor by the real router, whose handler then panics the first
// time it writes its answer, inside the router's middleware, where the
// recoverer catches it.
const PanicPath = "/internal/test/panic"

// Wrap serves PanicPath, and everything else through h.
func Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PanicPath {
			h.ServeHTTP(w, r)
			return
		}
		r = r.Clone(r.Context())
		r.URL.Path, r.RequestURI = "/api/monitor", "/api/monitor"
		h.ServeHTTP(&panicOnce{ResponseWriter: w}, r)
	})
}

// panicOnce panics on the first write of the answer, then writes normally
// (the recoverer's 500).
type panicOnce struct {
	http.ResponseWriter
	done bool
}

func (p *panicOnce) fire() {
	if !p.done {
		p.done = true
		panic("testhook: a handler panicked while answering")
	}
}

func (p *panicOnce) WriteHeader(code int) {
	p.fire()
	p.ResponseWriter.WriteHeader(code)
}

func (p *panicOnce) Write(b []byte) (int, error) {
	p.fire()
	return p.ResponseWriter.Write(b)
}
