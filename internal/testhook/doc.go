// Package testhook is what only a test build of the processor serves (go
// build -tags faulthook): a route that makes a real handler panic while it
// answers, so that tests can watch the router's recovered path from outside
// the process (what it logs, what the client gets). The production build
// (the Dockerfile builds with -tags nodev, never faulthook) has none of it:
// there Wrap returns its handler unchanged.
package testhook
