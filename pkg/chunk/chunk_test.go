package chunk

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/parse"
)

func para(text string, page int) parse.Block {
	return parse.Block{Kind: parse.KindParagraph, Text: text, Page: page}
}

func heading(level int, text string) parse.Block {
	return parse.Block{Kind: parse.KindHeading, Level: level, Text: text}
}

// sentences returns n sentences of distinct words, each costing 10 tokens.
func sentences(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(" ")
		}
		// Eight words and a full stop: "aaaa"-sized words cost one token each.
		fmt.Fprintf(&b, "%s%03dz one two three four five six seven.", prefix, i)
	}
	return b.String()
}

func TestSplitEmpty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  *parse.Document
	}{
		{"nil", nil},
		{"no blocks", &parse.Document{}},
		{"whitespace only", &parse.Document{Blocks: []parse.Block{para(" \n\t ", 1), {Kind: parse.KindCode, Text: "\n\n"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chunks, err := Split(tt.doc, Options{})
			require.NoError(t, err)
			require.Empty(t, chunks)
		})
	}
}

// A heading with nothing under it is text of its own, as the title-only
// slides of a presentation are: it becomes a chunk under its parents, while a
// heading with subsections stays only in their paths.
func TestSplitBareHeadings(t *testing.T) {
	t.Parallel()
	type got struct {
		text string
		path []string
	}
	tests := []struct {
		name   string
		blocks []parse.Block
		want   []got
	}{
		{"title-only slides", []parse.Block{heading(1, "Page 1"), heading(1, "Page 2")},
			[]got{{"Page 1", nil}, {"Page 2", nil}}},
		{"headings only", []parse.Block{heading(1, "Title"), heading(2, "Sub")},
			[]got{{"Sub", []string{"Title"}}}},
		{"a bare section between full ones", []parse.Block{heading(1, "A"), para("A text.", 1), heading(1, "B"), heading(1, "C"), para("C text.", 2)},
			[]got{{"A text.", []string{"A"}}, {"B", nil}, {"C text.", []string{"C"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chunks, err := Split(&parse.Document{Blocks: tt.blocks}, Options{})
			require.NoError(t, err)
			var out []got
			for _, c := range chunks {
				out = append(out, got{c.Text, c.HeadingPath})
			}
			require.Equal(t, tt.want, out)
		})
	}
}

func TestSplitHeadingPath(t *testing.T) {
	t.Parallel()
	doc := &parse.Document{Blocks: []parse.Block{
		para("Preamble before any heading.", 1),
		heading(1, "Guide"),
		para("Guide intro.", 1),
		heading(2, "Install"),
		para("Install text.", 2),
		heading(2, " Configure\n"),
		para("Configure text.", 3),
		heading(4, "Deep"),
		para("Skipped a level.", 3),
		heading(1, "Appendix"),
		para("Appendix text.", 4),
		heading(3, "Glossary"),
		para("Glossary text.", 0),
	}}
	chunks, err := Split(doc, Options{})
	require.NoError(t, err)
	type got struct {
		text string
		path []string
		page int
	}
	want := []got{
		{"Preamble before any heading.", nil, 1},
		{"Guide intro.", []string{"Guide"}, 1},
		{"Install text.", []string{"Guide", "Install"}, 2},
		{"Configure text.", []string{"Guide", "Configure"}, 3},
		{"Skipped a level.", []string{"Guide", "Configure", "Deep"}, 3},
		{"Appendix text.", []string{"Appendix"}, 4},
		{"Glossary text.", []string{"Appendix", "Glossary"}, 0},
	}
	require.Len(t, chunks, len(want))
	for i, w := range want {
		require.Equal(t, w.text, chunks[i].Text, "chunk %d: heading text is not part of chunk text", i)
		require.Equal(t, w.path, chunks[i].HeadingPath, "chunk %d", i)
		require.Equal(t, w.page, chunks[i].Page, "chunk %d", i)
	}
	// Paths are copies: changing one chunk's path must not change another's.
	chunks[2].HeadingPath[0] = "changed"
	require.Equal(t, "Guide", chunks[3].HeadingPath[0])
}

func TestSplitNeverCutsInsideAWord(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	vocab := map[string]bool{}
	for i := range 3000 {
		w := fmt.Sprintf("w%04dx", i)
		vocab[w] = true
		b.WriteString(w)
		// Sentence ends at irregular places and one long sentence force word breaks.
		switch {
		case i%17 == 16 && i < 2000:
			b.WriteString(". ")
		case i%5 == 0:
			b.WriteString(",\n")
		default:
			b.WriteString(" ")
		}
	}
	for _, target := range []int{20, 64, 150, 500} {
		t.Run(fmt.Sprint(target), func(t *testing.T) {
			t.Parallel()
			doc := &parse.Document{Blocks: []parse.Block{para(b.String(), 1)}}
			opts := Options{TargetTokens: target, OverlapTokens: target / 5}
			chunks, repeat, err := split(doc, opts)
			require.NoError(t, err)
			require.Greater(t, len(chunks), 1)
			checkChunks(t, doc, opts, chunks, repeat)
			for i, c := range chunks {
				for _, w := range strings.Fields(c.Text) {
					require.True(t, vocab[strings.TrimRight(w, ".,")], "chunk %d holds a word fragment %q", i, w)
				}
			}
			require.Equal(t, words(bodyText(doc)), words(newText(chunks, repeat)))
		})
	}
}

func TestSplitPrefersParagraphThenSentenceBreaks(t *testing.T) {
	t.Parallel()
	t.Run("paragraphs", func(t *testing.T) {
		t.Parallel()
		var blocks []parse.Block
		var paras []string
		for i := range 20 {
			p := sentences(fmt.Sprintf("p%02d", i), 4) // 40 tokens
			paras = append(paras, p)
			blocks = append(blocks, para(p, 1))
		}
		opts := Options{TargetTokens: 100, OverlapTokens: -1}
		chunks, err := Split(&parse.Document{Blocks: blocks}, opts)
		require.NoError(t, err)
		for _, c := range chunks {
			// Each chunk is whole paragraphs: two of them (80 tokens), never 2.5.
			for _, part := range strings.Split(c.Text, "\n\n") {
				require.Contains(t, paras, part)
			}
		}
	})
	t.Run("sentences", func(t *testing.T) {
		t.Parallel()
		doc := &parse.Document{Blocks: []parse.Block{para(sentences("s", 100), 1)}}
		opts := Options{TargetTokens: 95, OverlapTokens: 25}
		chunks, repeat, err := split(doc, opts)
		require.NoError(t, err)
		require.Greater(t, len(chunks), 5)
		checkChunks(t, doc, opts, chunks, repeat)
		for i, c := range chunks {
			require.True(t, strings.HasSuffix(c.Text, "seven."), "chunk %d ends mid-sentence: %q", i, c.Text)
			require.Regexp(t, `^s\d{3}z one`, c.Text, "chunk %d starts mid-sentence (overlap included)", i)
		}
	})
}

func TestSplitOverlap(t *testing.T) {
	t.Parallel()
	doc := &parse.Document{Blocks: []parse.Block{
		heading(1, "A"),
		para(sentences("a", 60), 1),
		heading(1, "B"),
		para(sentences("b", 60), 2),
	}}
	opts := Options{TargetTokens: 120, OverlapTokens: 30}
	chunks, repeat, err := split(doc, opts)
	require.NoError(t, err)
	checkChunks(t, doc, opts, chunks, repeat)
	sections := 0
	for i, c := range chunks {
		if i == 0 || !equalPath(chunks[i-1].HeadingPath, c.HeadingPath) {
			sections++
			require.Zero(t, repeat[i], "chunk %d: no overlap across a heading", i)
			require.True(t, strings.HasPrefix(c.Text, strings.ToLower(c.HeadingPath[0])+"000z"), "chunk %d starts its section", i)
			continue
		}
		require.Positive(t, repeat[i], "chunk %d has no overlap", i)
		ov := c.Text[:repeat[i]]
		require.True(t, strings.HasSuffix(chunks[i-1].Text, ov), "overlap of chunk %d is not the end of chunk %d", i, i-1)
		require.LessOrEqual(t, CountTokens(ov), 30)
		require.GreaterOrEqual(t, CountTokens(ov), 10, "overlap should be near OverlapTokens")
	}
	require.Equal(t, 2, sections)

	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		opts := Options{TargetTokens: 120, OverlapTokens: -1}
		chunks, repeat, err := split(doc, opts)
		require.NoError(t, err)
		checkChunks(t, doc, opts, chunks, repeat)
		for i := range chunks {
			require.Zero(t, repeat[i])
		}
	})
}

func equalPath(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

func TestSplitTableRepeatsHeader(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"Name", "Team", "Cups"}}
	for i := range 120 {
		rows = append(rows, []string{fmt.Sprintf("player%03d", i), "Montreal | Canadiens", fmt.Sprint(i)})
	}
	rendered := renderTable(rows)
	const header = "| Name | Team | Cups |\n| --- | --- | --- |\n"
	require.True(t, strings.HasPrefix(rendered, header))

	for _, withRows := range []bool{true, false} {
		t.Run(fmt.Sprintf("rows=%v", withRows), func(t *testing.T) {
			t.Parallel()
			table := parse.Block{Kind: parse.KindTable, Text: rendered, Page: 7}
			if withRows {
				table.Rows = rows
			}
			doc := &parse.Document{Blocks: []parse.Block{para("Before the table.", 6), table, para("After the table.", 8)}}
			opts := Options{TargetTokens: 150}
			chunks, repeat, err := split(doc, opts)
			require.NoError(t, err)
			checkChunks(t, doc, opts, chunks, repeat)
			seen := map[string]int{}
			pieces := 0
			for _, c := range chunks {
				if !strings.Contains(c.Text, "| Name |") {
					continue
				}
				pieces++
				require.Contains(t, c.Text, header, "every piece of the table repeats the header")
				require.Equal(t, 1, strings.Count(c.Text, "| Name |"))
				for _, line := range strings.Split(c.Text, "\n") {
					if strings.HasPrefix(line, "| player") {
						seen[line]++
						require.Regexp(t, `^\| player\d{3} \| Montreal \\\| Canadiens \| \d+ \|$`, line, "rows are whole")
					}
				}
			}
			require.Greater(t, pieces, 3)
			require.Len(t, seen, 120)
			for line, n := range seen {
				require.Equal(t, 1, n, "row %q appears once", line)
			}
			require.True(t, strings.HasPrefix(chunks[0].Text, "Before the table.\n\n"+header))
			require.Equal(t, 6, chunks[0].Page)
			require.Equal(t, 7, chunks[1].Page)
			require.True(t, strings.HasSuffix(chunks[len(chunks)-1].Text, "After the table."))
		})
	}
}

func TestSplitCodeBlocks(t *testing.T) {
	t.Parallel()
	var code strings.Builder
	for i := range 6 {
		fmt.Fprintf(&code, "    fmt.Println(\"line %d\")\n", i)
	}
	small := "func main() {\n" + code.String() + "}"
	require.Less(t, CountTokens(small), 100)
	prose := sentences("p", 8) // 80 tokens

	t.Run("kept whole when it fits", func(t *testing.T) {
		t.Parallel()
		doc := &parse.Document{Blocks: []parse.Block{para(prose, 1), {Kind: parse.KindCode, Text: "\n" + small + "\n\n"}, para(prose, 1)}}
		opts := Options{TargetTokens: 130}
		chunks, repeat, err := split(doc, opts)
		require.NoError(t, err)
		checkChunks(t, doc, opts, chunks, repeat)
		found := 0
		for _, c := range chunks {
			if strings.Contains(c.Text, "func main") {
				found++
				require.Contains(t, c.Text, small)
			}
		}
		require.Equal(t, 1, found)
	})
	t.Run("split at lines when too large", func(t *testing.T) {
		t.Parallel()
		big := strings.Repeat(small+"\n", 6)
		doc := &parse.Document{Blocks: []parse.Block{{Kind: parse.KindCode, Text: big}}}
		opts := Options{TargetTokens: 100}
		chunks, repeat, err := split(doc, opts)
		require.NoError(t, err)
		require.Greater(t, len(chunks), 3)
		checkChunks(t, doc, opts, chunks, repeat)
		lines := map[string]bool{}
		for _, l := range strings.Split(big, "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for i, c := range chunks {
			require.Zero(t, repeat[i], "no overlap inside code")
			for _, l := range strings.Split(c.Text, "\n") {
				require.True(t, lines[strings.TrimSpace(l)], "chunk %d cut a line: %q", i, l)
			}
		}
	})
}

func TestSplitCJK(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
	}{
		{"chinese with full stops", strings.Repeat("人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心。", 80)},
		{"japanese without punctuation", strings.Repeat("すべての人間は生まれながらにして自由であり", 100)},
		{"korean with spaces", strings.Repeat("모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. ", 80)},
		{"mixed scripts", strings.Repeat("Go言語でchunkを分割する123テスト。", 90)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := &parse.Document{Blocks: []parse.Block{para(tt.text, 1)}}
			opts := Options{TargetTokens: 100, OverlapTokens: 20}
			chunks, repeat, err := split(doc, opts)
			require.NoError(t, err)
			require.Greater(t, len(chunks), 5)
			checkChunks(t, doc, opts, chunks, repeat)
			require.Equal(t, words(bodyText(doc)), words(newText(chunks, repeat)))
			for i := 1; i < len(chunks); i++ {
				require.Positive(t, repeat[i], "chunk %d has overlap", i)
			}
			if strings.Contains(tt.text, "。") {
				for i, c := range chunks[:len(chunks)-1] {
					require.True(t, strings.HasSuffix(c.Text, "。"), "chunk %d ends at a sentence: %q", i, c.Text)
				}
			}
		})
	}
}

func TestSplitGiantWord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		word string
	}{
		{"ascii", strings.Repeat("a", 10000)},
		{"two-byte runes", strings.Repeat("é", 10000)},
		{"four-byte runes", strings.Repeat("👍", 3000)},
		{"combining marks", strings.Repeat("e\u0301", 5000)},
		{"url with punctuation", "https://example.com/" + strings.Repeat("segment-", 1250)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := &parse.Document{Blocks: []parse.Block{para("Before. "+tt.word+" after.", 1)}}
			opts := Options{TargetTokens: 200}
			chunks, repeat, err := split(doc, opts)
			require.NoError(t, err)
			require.Greater(t, len(chunks), 3)
			checkChunks(t, doc, opts, chunks, repeat)
			for i, c := range chunks {
				require.True(t, utf8.ValidString(c.Text))
				if i > 0 && i < len(chunks)-1 {
					r, _ := utf8.DecodeRuneInString(c.Text)
					require.NotEqual(t, '\u0301', r, "chunk %d starts with a combining mark", i)
				}
			}
			if strings.Contains(tt.word, "-") {
				for i, c := range chunks[:len(chunks)-2] {
					require.True(t, strings.HasSuffix(c.Text, "-"), "chunk %d should end after punctuation: %q", i, c.Text[len(c.Text)-20:])
				}
			}
		})
	}
}

func TestSplitTokenBudget(t *testing.T) {
	t.Parallel()
	var text strings.Builder
	text.WriteString("# Title\n\n")
	for i := range 40 {
		fmt.Fprintf(&text, "## Section %d\n\n%s\n\n- item one of %d\n- item two\n\n", i, sentences(fmt.Sprint("s", i), i%13+1), i)
		if i%7 == 0 {
			text.WriteString("| a | b |\n|---|---|\n" + strings.Repeat("| cell text here | 12345 |\n", 40) + "\n")
		}
		if i%9 == 0 {
			text.WriteString("```\n" + strings.Repeat("x := compute(y, z) // why\n", 50) + "```\n\n")
		}
	}
	doc := docFromText(text.String())
	for _, opts := range []Options{{}, {TargetTokens: 40}, {TargetTokens: 100, OverlapTokens: 90}, {TargetTokens: 1}, {TargetTokens: 256, OverlapTokens: -1}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			t.Parallel()
			chunks, repeat, err := split(doc, opts)
			require.NoError(t, err)
			require.NotEmpty(t, chunks)
			checkChunks(t, doc, opts, chunks, repeat)
		})
	}
}

func TestSplitMergesTinyTrailingPiece(t *testing.T) {
	t.Parallel()
	body := strings.TrimSpace(strings.Repeat("abcd ", 98)) // 98 tokens
	tail := "tail ends here now."                          // 5 tokens
	doc := &parse.Document{Blocks: []parse.Block{para(body, 1), para(tail, 1)}}
	chunks, err := Split(doc, Options{TargetTokens: 100, OverlapTokens: -1})
	require.NoError(t, err)
	require.Len(t, chunks, 1, "a 5-token tail is merged, not left alone")
	require.Equal(t, 103, chunks[0].Tokens)

	// A tail larger than the slack stands alone.
	tail = strings.TrimSpace(strings.Repeat("tail ", 20))
	doc = &parse.Document{Blocks: []parse.Block{para(body, 1), para(tail, 1)}}
	chunks, err = Split(doc, Options{TargetTokens: 100, OverlapTokens: -1})
	require.NoError(t, err)
	require.Len(t, chunks, 2)
}

func TestSplitMaxChunks(t *testing.T) {
	t.Parallel()
	doc := &parse.Document{Blocks: []parse.Block{para(sentences("m", 100), 1)}}
	chunks, err := Split(doc, Options{TargetTokens: 100, MaxChunks: 3})
	require.ErrorIs(t, err, ErrTooManyChunks)
	require.Nil(t, chunks)

	all, err := Split(doc, Options{TargetTokens: 100})
	require.NoError(t, err)
	chunks, err = Split(doc, Options{TargetTokens: 100, MaxChunks: len(all)})
	require.NoError(t, err)
	require.Len(t, chunks, len(all))
	require.False(t, errors.Is(err, ErrTooManyChunks))
}

func TestSplitSanitizesText(t *testing.T) {
	t.Parallel()
	doc := &parse.Document{Blocks: []parse.Block{para("bad \xff\xfe bytes and a NUL\x00 here", 1)}}
	chunks, err := Split(doc, Options{})
	require.NoError(t, err)
	require.Len(t, chunks, 1)
	require.Equal(t, "bad \uFFFD bytes and a NUL here", chunks[0].Text)

	// Table cells reach the text only through the rows.
	doc = &parse.Document{Blocks: []parse.Block{{Kind: parse.KindTable, Page: 1, Rows: [][]string{{"name", "note"}, {"a\xff", "b\x00c"}}}}}
	chunks, err = Split(doc, Options{})
	require.NoError(t, err)
	require.Len(t, chunks, 1)
	require.True(t, utf8.ValidString(chunks[0].Text))
	require.NotContains(t, chunks[0].Text, "\x00")
	require.Contains(t, chunks[0].Text, "| a\uFFFD | bc |")
}

func TestSplitDefaultsAndDeterminism(t *testing.T) {
	t.Parallel()
	var blocks []parse.Block
	for i := range 200 {
		blocks = append(blocks, para(sentences(fmt.Sprint("d", i), 3), i/10+1))
	}
	doc := &parse.Document{Blocks: blocks}
	first, err := Split(doc, Options{})
	require.NoError(t, err)
	second, err := Split(doc, Options{})
	require.NoError(t, err)
	require.Equal(t, first, second)
	for _, c := range first[:len(first)-1] {
		require.LessOrEqual(t, c.Tokens, DefaultTargetTokens)
		require.Greater(t, c.Tokens, DefaultTargetTokens/2, "chunks are filled")
	}
	require.Equal(t, 1, first[0].Page)
	require.Greater(t, first[len(first)-1].Page, first[0].Page)
}
