package ingest_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/store"
)

const contentTypes = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
	`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`

const docPrefix = `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>`

// docxZip builds a DOCX: [Content_Types].xml, word/document.xml written by doc, and
// extra tiny entries.
func docxZip(t *testing.T, doc func(*zip.Writer), extra int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("[Content_Types].xml")
	require.NoError(t, err)
	_, err = w.Write([]byte(contentTypes))
	require.NoError(t, err)
	doc(zw)
	for i := range extra {
		_, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("word/media/e%05d", i), Method: zip.Store})
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// docxWithBadChecksum is a DOCX whose document part does not match its CRC, as a
// file damaged in transit would be.
func docxWithBadChecksum(t *testing.T) []byte {
	body := []byte(docPrefix + "Damaged in transit.</w:t></w:r></w:p></w:body></w:document>")
	return docxZip(t, func(zw *zip.Writer) {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Store,
			CRC32: crc32.ChecksumIEEE(body) ^ 0xdeadbeef, CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))})
		require.NoError(t, err)
		_, err = w.Write(body)
		require.NoError(t, err)
	}, 0)
}

// inflateBombSize is how far the lying entry would inflate if read to its end.
const inflateBombSize = 256 << 20

// bombOnce builds the compressed part from independently compressed segments: each
// ends on a sync flush, so their concatenation is one valid deflate stream, and a
// 256 MB bomb costs one 4 MB compression.
var bombOnce = sync.OnceValue(func() []byte {
	segment := func(data []byte, final bool) []byte {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestSpeed)
		fw.Write(data)
		if final {
			fw.Close()
		} else {
			fw.Flush()
		}
		return b.Bytes()
	}
	block := segment([]byte(strings.Repeat("lorem ipsum dolor sit amet ", 4<<20/27)), false)
	comp := segment([]byte(docPrefix), false)
	for range inflateBombSize / (4 << 20) {
		comp = append(comp, block...)
	}
	return append(comp, segment(nil, true)...)
})

// docxInflateBomb is a DOCX whose document part declares 10 KB and inflates to
// 256 MB of valid-looking text.
func docxInflateBomb(t *testing.T) []byte {
	comp := bombOnce()
	return docxZip(t, func(zw *zip.Writer) {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate,
			CompressedSize64: uint64(len(comp)), UncompressedSize64: 10 << 10})
		require.NoError(t, err)
		_, err = w.Write(comp)
		require.NoError(t, err)
	}, 0)
}

// heapPeak samples the heap in use until stop is called and returns the growth
// over the baseline taken at the start.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		if peak.Load() < base {
			return 0
		}
		return peak.Load() - base
	}
}

// Decompression bombs sent as ordinary uploads end failed (too_large) quickly,
// while the worker's memory stays small. Not parallel: it measures the heap.
func TestBombsFailTooLargeWithBoundedMemory(t *testing.T) {
	r := newRig(t, nil)
	cases := []struct {
		name    string
		data    []byte
		message string
	}{
		{"inflate-bomb.docx", docxInflateBomb(t), "decompression bomb"},
		{"many-entries.docx", docxZip(t, func(zw *zip.Writer) {
			w, err := zw.Create("word/document.xml")
			require.NoError(t, err)
			_, err = w.Write([]byte(docPrefix + "Hi</w:t></w:r></w:p></w:body></w:document>"))
			require.NoError(t, err)
		}, 20000), "entries"},
	}
	docs := make([]store.Document, len(cases))
	for i, tc := range cases {
		docs[i] = r.upload(tc.name, tc.data)
		require.Equal(t, "docx", docs[i].Format, "%s must reach the DOCX parser", tc.name)
	}

	stop := heapPeak()
	start := time.Now()
	run := r.start(queue.RunOptions{Concurrency: 2})
	for i, tc := range cases {
		got := r.wait(docs[i].ID, 30*time.Second, finished)
		require.Equal(t, store.StatusFailed, got.Status, tc.name)
		require.Equal(t, "too_large", got.Error.Code, tc.name)
		require.Contains(t, got.Error.Message, tc.message, tc.name)
	}
	elapsed := time.Since(start)
	growth := stop()
	require.NoError(t, run.stop())
	t.Logf("bombs failed in %s, peak heap growth %d KiB", elapsed, growth>>10)
	require.Less(t, growth, uint64(inflateBombSize/8), "memory must stay far below what the bomb inflates to")
}
