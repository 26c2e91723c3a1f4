package chunk

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/parse"
)

// docFromText builds a document from Markdown-like text the way a parser would:
// "#" lines are headings, fenced blocks are code, "|" lines are tables (text only),
// "- " lines are list items, and blank lines end paragraphs. Pages advance every 40
// lines so that page tracking is exercised.
func docFromText(text string) *parse.Document {
	doc := &parse.Document{Format: parse.FormatMarkdown}
	var para []string
	kind := parse.KindParagraph
	page := func(line int) int { return line/40 + 1 }
	start := 0
	end := func() {
		if len(para) > 0 {
			doc.Blocks = append(doc.Blocks, parse.Block{Kind: kind, Text: strings.Join(para, "\n"), Page: page(start)})
		}
		para, kind = nil, parse.KindParagraph
	}
	inCode := false
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			end()
			if !inCode {
				kind, start = parse.KindCode, i
			}
			inCode = !inCode
			if inCode {
				// Keep kind for the lines to come; end() reset it.
				kind = parse.KindCode
			}
		case inCode:
			para = append(para, line)
		case strings.HasPrefix(trimmed, "#"):
			end()
			level := len(trimmed) - len(strings.TrimLeft(trimmed, "#"))
			doc.Blocks = append(doc.Blocks, parse.Block{Kind: parse.KindHeading, Level: level, Text: strings.TrimLeft(trimmed, "#"), Page: page(i)})
		case strings.HasPrefix(trimmed, "|"):
			if kind != parse.KindTable {
				end()
				kind, start = parse.KindTable, i
			}
			para = append(para, line)
		case strings.HasPrefix(trimmed, "- "):
			end()
			doc.Blocks = append(doc.Blocks, parse.Block{Kind: parse.KindListItem, Level: 1, Text: trimmed[2:], Page: page(i)})
		case trimmed == "":
			end()
		default:
			if kind != parse.KindParagraph {
				end()
			}
			if len(para) == 0 {
				start = i
			}
			para = append(para, line)
		}
	}
	end()
	return doc
}

// bodyText is the text of a document that chunks must carry: every block but headings.
func bodyText(doc *parse.Document) string {
	var parts []string
	for _, b := range doc.Blocks {
		if b.Kind != parse.KindHeading {
			parts = append(parts, sanitize(b.Text))
		}
	}
	return strings.Join(parts, "\n\n")
}

// newText is what each chunk adds: its text without the leading bytes repeated from
// earlier chunks.
func newText(chunks []Chunk, repeat []int) string {
	parts := make([]string, len(chunks))
	for i, c := range chunks {
		parts[i] = c.Text[repeat[i]:]
	}
	return strings.Join(parts, "\n")
}

// words splits text into words as the chunker sees them: runs of characters between
// spaces, with each character of a script written without spaces a word of its own.
func words(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		switch {
		case isBreakSpace(r):
			if start >= 0 {
				out = append(out, s[start:i])
			}
			start = -1
		case isCJKBreak(r):
			if start >= 0 {
				out = append(out, s[start:i])
			}
			out = append(out, string(r))
			start = -1
		case start < 0:
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// checkChunks asserts what must hold for any document: chunks are numbered, non-empty,
// storable, within budget, their repeated prefixes are what they claim to be, and no
// byte of text (whitespace aside) is lost, duplicated or reordered.
func checkChunks(t *testing.T, doc *parse.Document, opts Options, chunks []Chunk, repeat []int) {
	t.Helper()
	sp := newSplitter(opts)
	require.Len(t, repeat, len(chunks))
	for i, c := range chunks {
		require.Equal(t, i, c.Index)
		require.NotEmpty(t, strings.TrimSpace(c.Text), "chunk %d", i)
		require.True(t, utf8.ValidString(c.Text), "chunk %d is not valid UTF-8", i)
		require.NotContains(t, c.Text, "\x00")
		require.Equal(t, CountTokens(c.Text), c.Tokens)
		require.LessOrEqual(t, c.Tokens, sp.target+MaxSlack(sp.target), "chunk %d over budget", i)
		require.LessOrEqual(t, repeat[i], len(c.Text))
		if repeat[i] > 0 && i > 0 && strings.HasSuffix(chunks[i-1].Text, c.Text[:repeat[i]]) {
			require.Equal(t, chunks[i-1].HeadingPath, c.HeadingPath, "overlap across a heading")
			require.LessOrEqual(t, CountTokens(c.Text[:repeat[i]]), sp.overlap)
		}
	}
	require.Equal(t, stripSpace(bodyText(doc)), stripSpace(newText(chunks, repeat)))
}

// requireSameWords asserts that got holds the words of want in order, where a word may
// be cut into consecutive pieces only if it alone costs more than limit tokens.
func requireSameWords(t *testing.T, want, got []string, limit int, msg string) {
	t.Helper()
	j := 0
	for i, w := range want {
		require.Less(t, j, len(got), "%s: output ends before word %d %q", msg, i, w)
		if got[j] == w {
			j++
			continue
		}
		require.Greater(t, CountTokens(w), limit, "%s: word %d %q was cut (got %q)", msg, i, w, got[j])
		joined := ""
		for joined != w && j < len(got) && len(joined) < len(w) {
			joined += got[j]
			j++
		}
		require.Equal(t, w, joined, "%s: pieces of word %d", msg, i)
	}
	require.Equal(t, len(got), j, "%s: extra words in output", msg)
}
