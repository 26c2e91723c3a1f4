//go:build !race

package parse

// raceEnabled reports a build with the race detector; see race_on_test.go.
const raceEnabled = false

// memBudget is the memory budget of the hostile-input tests (memory_test.go).
const memBudget = 32 << 20
