//go:build !race

package console

// raceEnabled: this test binary runs without the race detector.
const raceEnabled = false
