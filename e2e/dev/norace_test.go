//go:build !race

package dev

// raceEnabled: this test binary runs without the race detector.
const raceEnabled = false
