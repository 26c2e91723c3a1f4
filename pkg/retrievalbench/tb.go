package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// benchTB lets the test servers (llmtest, pgtest) run inside a program: they want
// a testing.TB for cleanups and fatal errors. Embedding the interface supplies the
// method set; every method those helpers call is implemented below. Each platform
// the benchmark starts has its own, so closing one releases its database and
// servers before the next starts.
type benchTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
}

func (b *benchTB) Helper()         {}
func (b *benchTB) Name() string    { return "retrieval-bench" }
func (b *benchTB) Failed() bool    { return false }
func (b *benchTB) Log(args ...any) { fmt.Fprintln(os.Stderr, args...) }
func (b *benchTB) Logf(f string, args ...any) {
	fmt.Fprintf(os.Stderr, f+"\n", args...)
}

func (b *benchTB) Cleanup(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cleanups = append(b.cleanups, fn)
}

func (b *benchTB) TempDir() string {
	dir, err := os.MkdirTemp("", "retrieval-bench-")
	if err != nil {
		b.Fatalf("temp dir: %v", err)
	}
	b.mu.Lock()
	b.dirs = append(b.dirs, dir)
	b.mu.Unlock()
	return dir
}

// fatal ends the run; cleanups registered so far still run (see close).
type fatal struct{ msg string }

func (b *benchTB) Fatalf(f string, args ...any) { panic(fatal{fmt.Sprintf(f, args...)}) }
func (b *benchTB) Fatal(args ...any)            { panic(fatal{fmt.Sprint(args...)}) }
func (b *benchTB) FailNow()                     { panic(fatal{"failed"}) }
func (b *benchTB) Errorf(f string, args ...any) { b.Fatalf(f, args...) }
func (b *benchTB) Error(args ...any)            { b.Fatal(args...) }
func (b *benchTB) Skipf(f string, args ...any)  { b.Fatalf("cannot run: "+f, args...) }
func (b *benchTB) Skip(args ...any)             { b.Fatal(args...) }

// close runs the cleanups, last registered first, and removes temp dirs.
func (b *benchTB) close() {
	b.mu.Lock()
	fns := b.cleanups
	b.cleanups = nil
	dirs := b.dirs
	b.dirs = nil
	b.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}
