package chunk

import (
	"fmt"
	"strings"
	"testing"
)

// benchText is about 1 MB of mixed structure: sections, prose, lists, tables, code
// and a little CJK.
func benchText() string {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "## Section %d\n\n", i)
		for p := range 4 {
			b.WriteString(sentences(fmt.Sprintf("s%dp%d", i, p), 6+i%9))
			b.WriteString("\n\n")
		}
		b.WriteString("- first item of the list\n- second item, a little longer than the first\n\n")
		if i%5 == 0 {
			b.WriteString("| name | value | note |\n|---|---|---|\n")
			b.WriteString(strings.Repeat("| alpha | 12345 | a note about the row |\n", 30))
			b.WriteString("\n")
		}
		if i%7 == 0 {
			b.WriteString("```\n" + strings.Repeat("if err != nil {\n\treturn fmt.Errorf(\"load: %w\", err)\n}\n", 20) + "```\n\n")
		}
		if i%11 == 0 {
			b.WriteString(strings.Repeat("人人生而自由，在尊严和权利上一律平等。", 20) + "\n\n")
		}
	}
	return b.String()
}

func BenchmarkSplit(b *testing.B) {
	text := benchText()
	doc := docFromText(text)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(doc, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
