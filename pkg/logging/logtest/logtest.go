// Package logtest collects what a program or a logger writes while a test reads it.
// Production code never imports it.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for writes from any goroutine and reads from the
// test at the same time.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
