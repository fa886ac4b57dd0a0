//go:build race

package devproc

// raceEnabled: the binaries are built with -race when the tests are.
const raceEnabled = true
