// Package benchtest lets benchmark programs (a main package run with go run, not
// go test) use the test servers: llmtest, pgtest and the embedded stores want a
// testing.TB for their cleanups and fatal errors, and TB is one for a program.
package benchtest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// TB is a testing.TB for a program. Embedding the interface supplies the method
// set; every method the test helpers call is implemented below. Give each
// platform a benchmark starts its own, so closing one releases its database and
// servers before the next starts.
type TB struct {
	testing.TB
	name     string
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
}

// New returns a TB named name (it names the temporary directories too).
func New(name string) *TB { return &TB{name: name} }

// Fatal is what a failed helper panics with; the program recovers it at the top
// (so that deferred cleanups run) and prints Msg.
type Fatal struct{ Msg string }

func (b *TB) Helper()         {}
func (b *TB) Name() string    { return b.name }
func (b *TB) Failed() bool    { return false }
func (b *TB) Log(args ...any) { fmt.Fprintln(os.Stderr, args...) }
func (b *TB) Logf(f string, args ...any) {
	fmt.Fprintf(os.Stderr, f+"\n", args...)
}

// Cleanup registers fn to run at Close.
func (b *TB) Cleanup(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cleanups = append(b.cleanups, fn)
}

// TempDir returns a new directory that Close removes.
func (b *TB) TempDir() string {
	dir, err := os.MkdirTemp("", b.name+"-")
	if err != nil {
		b.Fatalf("temp dir: %v", err)
	}
	b.mu.Lock()
	b.dirs = append(b.dirs, dir)
	b.mu.Unlock()
	return dir
}

func (b *TB) Fatalf(f string, args ...any) { panic(Fatal{fmt.Sprintf(f, args...)}) }
func (b *TB) Fatal(args ...any)            { panic(Fatal{fmt.Sprint(args...)}) }
func (b *TB) FailNow()                     { panic(Fatal{"failed"}) }
func (b *TB) Errorf(f string, args ...any) { b.Fatalf(f, args...) }
func (b *TB) Error(args ...any)            { b.Fatal(args...) }
func (b *TB) Skipf(f string, args ...any)  { b.Fatalf("cannot run: "+f, args...) }
func (b *TB) Skip(args ...any)             { b.Fatal(args...) }

// Close runs the cleanups, last registered first, and removes the temporary
// directories.
func (b *TB) Close() {
	b.mu.Lock()
	fns, dirs := b.cleanups, b.dirs
	b.cleanups, b.dirs = nil, nil
	b.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}
