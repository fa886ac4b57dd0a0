//go:build !faulthook

package testhook

import "net/http"

// Wrap returns h: the production build serves no test route.
func Wrap(h http.Handler) http.Handler { return h }
