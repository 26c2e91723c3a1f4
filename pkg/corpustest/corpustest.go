// Package corpustest finds the shared corpus of real-world documents for tests:
// YW_TEST_CORPUS, else ../shared/corpus beside the repository. A missing corpus
// skips the test, except under CI=true where it fails. Production code never imports it.
package corpustest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus directory.
func Dir(t testing.TB) string {
	t.Helper()
	if dir, ok := Find(); ok {
		return dir
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("corpustest: the shared corpus is missing (set YW_TEST_CORPUS)")
	}
	t.Skip("corpustest: the shared corpus is missing (set YW_TEST_CORPUS)")
	return ""
}

// Find returns the corpus directory and whether there is one, for tests that
// can run without it.
func Find() (string, bool) {
	if dir := os.Getenv("YW_TEST_CORPUS"); dir != "" {
		return dir, true
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			corpus := filepath.Join(filepath.Dir(dir), "shared", "corpus")
			if _, err := os.Stat(corpus); err == nil {
				return corpus, true
			}
			return "", false
		}
		if filepath.Dir(dir) == dir {
			return "", false
		}
	}
}

// Read returns the bytes of one corpus file.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), name))
	if err != nil {
		t.Fatalf("corpustest: %v", err)
	}
	return b
}
