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

// proseText is about 1 MB of English prose, the bulk of what gets chunked: mostly
// ASCII letters, with numbers, punctuation and the odd typographic dash or apostrophe.
func proseText() string {
	paragraphs := []string{
		"The committee met on Tuesday, 14 March, to review the draft budget for the coming year. " +
			"Most members agreed that the maintenance backlog had grown too large to ignore, and that " +
			"the roof of the east building, patched twice since 2019, would need replacing before winter.",
		"It was late in the evening when the travellers reached the inn. The landlord, a tall man with " +
			"a grey beard, showed them to a room above the stables and promised a fire, a hot supper and " +
			"fresh horses by seven o'clock the next morning.",
		"Before you install the update, back up your configuration files and note the version you are " +
			"running. The installer checks for 2.5 GB of free disk space; if less is available, it stops " +
			"and asks you to free some space before trying again.",
		"Researchers measured the growth of 1,250 seedlings over twelve weeks under three lighting " +
			"conditions. Plants kept under the blue spectrum grew 18% taller on average \u2014 a result the " +
			"authors attribute to faster stem elongation, though they don\u2019t rule out other causes.",
	}
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		b.WriteString(paragraphs[i%len(paragraphs)])
		b.WriteString("\n\n")
	}
	return b.String()
}

func BenchmarkCountTokensProse(b *testing.B) {
	text := proseText()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		_ = CountTokens(text)
	}
}
