//go:build race

package dev

// raceEnabled: this test binary runs with the race detector.
const raceEnabled = true
