package parse

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The tests in this file feed each parser hostile input of 100 MB and more,
// made up as it is read (or zipped to a few hundred kilobytes), and check two
// things: the outcome (CodeTooLarge naming what was too large, or a document
// when the format is streamed and the input yields little), and the peak heap
// while parsing, sampled from the runtime. They do not run in parallel, so that
// the heap they measure is their own.

// memBudget (race_off_test.go) is the reduced memory budget of these tests; the
// heap may pass it by memSlack: working buffers, garbage not yet collected, the
// test's own data. A parser that streams must hold far less: streamSlack bounds
// its heap.
const (
	memSlack    = 64 << 20
	streamSlack = 8 << 20
)

// scaled is n, or an eighth of it under the race detector, which slows the
// parsers tenfold. Scaled inputs of streamed formats stay larger than
// streamSlack, so the streaming bound still tells holding from streaming.
func scaled(n int64) int64 {
	if raceEnabled {
		return n / 8
	}
	return n
}

// memLimits leave the memory budget as the limit that matters.
func memLimits() Limits {
	return Limits{MaxInflatedBytes: 2 << 30, MaxEntries: 100, MaxPages: 100000,
		MaxTextBytes: 1 << 30, MaxRetainedBytes: memBudget, Timeout: 10 * time.Minute}
}

// synthFile is a large file made up as it is read: head, body repeated n times,
// tail. Nothing of its size is ever allocated.
type synthFile struct {
	head, body, tail string
	n                int64
}

func (f *synthFile) size() int64 {
	return int64(len(f.head)) + f.n*int64(len(f.body)) + int64(len(f.tail))
}

func (f *synthFile) ReadAt(p []byte, off int64) (int, error) {
	size := f.size()
	if off >= size {
		return 0, io.EOF
	}
	done := 0
	for done < len(p) && off < size {
		var src string
		var at int64
		bodyEnd := int64(len(f.head)) + f.n*int64(len(f.body))
		switch {
		case off < int64(len(f.head)):
			src, at = f.head, off
		case off < bodyEnd:
			src, at = f.body, (off-int64(len(f.head)))%int64(len(f.body))
		default:
			src, at = f.tail, off-bodyEnd
		}
		n := copy(p[done:], src[at:])
		done += n
		off += int64(n)
	}
	if done < len(p) {
		return done, io.EOF
	}
	return done, nil
}

// repeat returns s repeated until it is at least n bytes long.
func repeat(s string, n int) string {
	return strings.Repeat(s, (n+len(s)-1)/len(s))
}

// deflateRepeat returns a raw deflate stream of head, unit repeated n times,
// then tail, and its inflated size. The unit is compressed once, with the
// window its own repetition leaves, and the block is then copied: the stream of
// hundreds of megabytes is built in a blink and is a few hundred kilobytes.
func deflateRepeat(t testing.TB, head, unit string, n int, tail string) ([]byte, int64) {
	t.Helper()
	body := repeat(unit, 64<<10) // at least the 32 KiB window
	reps := n * len(unit) / len(body)
	var out bytes.Buffer
	w, err := flate.NewWriter(&out, flate.BestCompression)
	require.NoError(t, err)
	_, err = io.WriteString(w, head+body)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	dict := []byte(body[len(body)-32<<10:])
	var blk bytes.Buffer
	bw, err := flate.NewWriterDict(&blk, flate.BestCompression, dict)
	require.NoError(t, err)
	_, err = io.WriteString(bw, body)
	require.NoError(t, err)
	require.NoError(t, bw.Flush())
	for range reps - 1 {
		out.Write(blk.Bytes())
	}
	tw, err := flate.NewWriterDict(&out, flate.BestCompression, dict)
	require.NoError(t, err)
	_, err = io.WriteString(tw, tail)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	return out.Bytes(), int64(len(head)) + int64(reps)*int64(len(body)) + int64(len(tail))
}

// bigPart is a ZIP entry given as raw deflate data.
type bigPart struct {
	name string
	raw  []byte
	size int64
}

// zipWithBig builds a ZIP of small parts and big (pre-deflated) ones.
func zipWithBig(t testing.TB, small []zipPart, big ...bigPart) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range small {
		w, err := zw.Create(p.name)
		require.NoError(t, err)
		_, err = io.WriteString(w, p.body)
		require.NoError(t, err)
	}
	for _, p := range big {
		// No checksum: the reader checks it only when one is declared.
		w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate,
			CompressedSize64: uint64(len(p.raw)), UncompressedSize64: uint64(p.size)})
		require.NoError(t, err)
		_, err = w.Write(p.raw)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// heapObjects reads the bytes held by heap objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakHeap runs fn while sampling the heap every half millisecond and returns
// how far it rose above where it was before fn. The heap sampled counts garbage
// not yet collected too; the collector runs at GOGC=25 meanwhile, so that
// garbage stays a quarter of what is live and the peak reflects what the
// parser holds rather than the collector's pacing.
func peakHeap(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	runtime.GC()
	base := heapObjects()
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		peak := base
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- max(peak, heapObjects())
				return
			case <-tick.C:
				peak = max(peak, heapObjects())
			}
		}
	}()
	fn()
	close(stop)
	return <-done - base
}

// memCase is one hostile input and the outcome it must have.
type memCase struct {
	name   string
	format Format
	// input returns the file; big inputs are made up as they are read.
	input func(t testing.TB) (io.ReaderAt, int64)
	// code is the expected error code, "" for a document; message a part of the
	// error's message, or a phrase of the document.
	code, message string
	// streams marks input a streaming parser reads in bounded memory: its heap
	// must stay within streamSlack.
	streams bool
}

func fileInput(head, body string, n int64, tail string) func(testing.TB) (io.ReaderAt, int64) {
	return func(testing.TB) (io.ReaderAt, int64) {
		f := &synthFile{head: head, body: body, n: n, tail: tail}
		return f, f.size()
	}
}

func bytesInput(build func(t testing.TB) []byte) func(testing.TB) (io.ReaderAt, int64) {
	return func(t testing.TB) (io.ReaderAt, int64) {
		data := build(t)
		return bytes.NewReader(data), int64(len(data))
	}
}

// runMemCases parses every case under the reduced budget, checks its outcome
// and that the heap stayed within the budget plus slack.
func runMemCases(t *testing.T, cases []memCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, size := tc.input(t)
			var doc *Document
			var err error
			peak := peakHeap(func() {
				doc, err = Parse(context.Background(), tc.format, r, size, memLimits())
			})
			bound := uint64(memBudget + memSlack)
			if tc.streams {
				bound = streamSlack
			}
			t.Logf("file %s, peak heap %s (bound %s): %v", byteSize(size), byteSize(int64(peak)), byteSize(int64(bound)), err)
			if tc.code != "" {
				require.Error(t, err)
				require.Equal(t, tc.code, CodeOf(err), "error: %v", err)
				require.Nil(t, doc)
				require.Contains(t, err.Error(), tc.message)
			} else {
				require.NoError(t, err)
				require.Contains(t, docText(doc), tc.message)
			}
			require.Less(t, peak, bound, "peak heap")
		})
	}
}
