package bm25

import (
	"os"
	"strings"
	"testing"
)

// benchChunk returns a real chunk of about 500 words of English prose.
func benchChunk(b *testing.B) string {
	b.Helper()
	text, err := os.ReadFile("testdata/war-and-peace-1p.txt")
	if err != nil {
		b.Fatal(err)
	}
	return string(text)
}

func BenchmarkDocument(b *testing.B) {
	e, err := New(Params{})
	if err != nil {
		b.Fatal(err)
	}
	chunk := benchChunk(b)
	b.Run("detect", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		b.ReportAllocs()
		for b.Loop() {
			e.Document(chunk)
		}
		b.ReportMetric(float64(len(strings.Fields(chunk))), "words/op")
	})
	b.Run("cold", func(b *testing.B) {
		// A fresh encoder: every word is stemmed, none comes from the cache.
		b.SetBytes(int64(len(chunk)))
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			cold, err := New(Params{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			cold.Document(chunk)
		}
	})
	b.Run("accented", func(b *testing.B) {
		// Non-ASCII text takes the NFKC and case-folding path.
		text := strings.ReplaceAll(chunk, "e", "é")
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			e.Document(text)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e.Document(chunk)
			}
		})
	})
}

func BenchmarkLength(b *testing.B) {
	e, err := New(Params{})
	if err != nil {
		b.Fatal(err)
	}
	chunk := benchChunk(b)
	b.ReportAllocs()
	for b.Loop() {
		e.Length(chunk)
	}
}

func BenchmarkQuery(b *testing.B) {
	e, err := New(Params{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Query("termination clause contratti di fornitura RFC-7231")
	}
}
