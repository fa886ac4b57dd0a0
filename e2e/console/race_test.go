//go:build race

package console

// raceEnabled: this test binary runs with the race detector, and so do the
// binaries it builds.
const raceEnabled = true
