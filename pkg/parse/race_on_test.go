//go:build race

package parse

// raceEnabled reports a build with the race detector, which makes parsing ten
// times slower: the hostile-input tests read less and use a smaller budget.
const raceEnabled = true

// memBudget is the memory budget of the hostile-input tests (memory_test.go).
const memBudget = 8 << 20
