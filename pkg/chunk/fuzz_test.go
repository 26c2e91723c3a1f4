package chunk

import (
	"strings"
	"testing"
)

// FuzzSplit feeds arbitrary Markdown-like text and budgets to Split and checks the
// invariants every caller relies on: no panic, storable text, budgets kept, overlap
// only within a section, and no text lost or duplicated.
func FuzzSplit(f *testing.F) {
	f.Add("# Title\n\nSome text. More text!\n\n- item\n- item two\n", 50, 10)
	f.Add("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n", 8, 2)
	f.Add("```\nfunc main() {\n\tprintln(1)\n}\n```\n", 5, 0)
	f.Add("人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心。", 4, 2)
	f.Add(strings.Repeat("x", 300)+" e\u0301\u0301\u0301 \xff\x00", 3, 1)
	f.Fuzz(func(t *testing.T, text string, target, overlap int) {
		if len(text) > 1<<16 {
			return
		}
		// Keep budgets small so that every splitting path is reached.
		opts := Options{TargetTokens: 1 + abs(target)%300, OverlapTokens: overlap % 100}
		doc := docFromText(text)
		chunks, repeat, err := split(doc, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkChunks(t, doc, opts, chunks, repeat)
	})
}

func abs(n int) int {
	if n < 0 {
		if -n < 0 {
			return 0 // the smallest int has no positive counterpart
		}
		return -n
	}
	return n
}
