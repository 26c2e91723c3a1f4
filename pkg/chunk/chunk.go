// Package chunk cuts a parsed document into passages sized for embedding and for an
// LLM's context window, following the document's structure.
//
// Chunks never straddle a heading: each carries the path of headings above it, and a
// new heading always starts a new chunk. Inside a section, text is cut at the best
// break within reach of the token budget: between blocks (paragraphs, list items,
// tables, code), else between sentences, else between words. A word is cut only when
// it alone exceeds a chunk, and then at rune boundaries. Consecutive chunks of a
// section share a short overlap of trailing words so that a sentence cut in two can
// still be found from either side. Tables too large for a chunk are cut between rows
// and every piece repeats the header. Output is deterministic.
package chunk

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/youworker/youworker/pkg/parse"
)

// Defaults for Options left at zero.
const (
	DefaultTargetTokens  = 500
	DefaultOverlapTokens = 60
)

// ErrTooManyChunks is returned by Split when a document yields more chunks than
// Options.MaxChunks allows.
var ErrTooManyChunks = errors.New("too many chunks")

// Chunk is one passage of a document.
type Chunk struct {
	// Index is the chunk's position in the document, from 0.
	Index int
	// Text is the passage. It is valid UTF-8 without NUL bytes (it is stored in
	// PostgreSQL text columns), and does not repeat the headings.
	Text string
	// HeadingPath holds the titles of the enclosing headings, outermost first.
	HeadingPath []string
	// Page is the first page (slide, sheet) the chunk's text comes from; 0 when unknown.
	Page int
	// Tokens is CountTokens(Text).
	Tokens int
}

// Options tune Split. The zero value is usable.
type Options struct {
	// TargetTokens is the size a chunk should not exceed; 0 means DefaultTargetTokens.
	// A chunk may exceed it by MaxSlack(TargetTokens) only when a tiny trailing piece
	// of a section was merged into it rather than left as a chunk of its own.
	TargetTokens int
	// OverlapTokens bounds the text repeated from the end of a chunk at the start of the
	// next one in the same section; 0 means DefaultOverlapTokens, negative means none.
	// It is capped at half of TargetTokens.
	OverlapTokens int
	// MaxChunks makes Split fail with ErrTooManyChunks beyond this many chunks; 0 means
	// no limit.
	MaxChunks int
}

// MaxSlack is how far above target a chunk may grow by absorbing a trailing piece of
// at most that many tokens: a handful of words is worth less as a chunk of its own
// than as the end of the previous one.
func MaxSlack(target int) int {
	return max(1, target/10)
}

// Split cuts doc into chunks. A nil or empty document yields no chunks. The only error
// is ErrTooManyChunks.
func Split(doc *parse.Document, opts Options) ([]Chunk, error) {
	chunks, _, err := split(doc, opts)
	return chunks, err
}

// split is Split that also reports, for each chunk, how many leading bytes of its text
// repeat earlier text (overlap or a table header), which the tests need to prove that
// nothing is lost.
func split(doc *parse.Document, opts Options) ([]Chunk, []int, error) {
	if doc == nil {
		return nil, nil, nil
	}
	sp := newSplitter(opts)
	var path []string
	var levels []int
	// bare is set while the innermost heading has nothing under it yet. A
	// heading that closes so (a slide holding only its title, a document of
	// headings) is text of its own: it becomes a chunk under its parents,
	// rather than vanishing as a path no chunk carries.
	bare, barePage := false, 0
	closeBare := func() error {
		if !bare || len(sp.atoms) > 0 {
			bare = false
			return nil
		}
		bare = false
		sp.addBlock(parse.Block{Kind: parse.KindParagraph, Text: path[len(path)-1], Page: barePage})
		return sp.pack(path[:len(path)-1])
	}
	for _, b := range doc.Blocks {
		if b.Kind != parse.KindHeading {
			sp.addBlock(b)
			continue
		}
		title := strings.Join(strings.Fields(sanitize(b.Text)), " ")
		if title == "" {
			continue
		}
		level := max(b.Level, 1)
		if len(levels) > 0 && level <= levels[len(levels)-1] {
			if err := closeBare(); err != nil {
				return nil, nil, err
			}
		}
		if err := sp.pack(path); err != nil {
			return nil, nil, err
		}
		for len(levels) > 0 && levels[len(levels)-1] >= level {
			levels, path = levels[:len(levels)-1], path[:len(path)-1]
		}
		levels, path = append(levels, level), append(path, title)
		bare, barePage = true, b.Page
	}
	if err := closeBare(); err != nil {
		return nil, nil, err
	}
	if err := sp.pack(path); err != nil {
		return nil, nil, err
	}
	return sp.out, sp.repeat, nil
}

// Kinds of atoms: overlap is carried only between prose, and table pieces must start
// with their header.
const (
	kindProse int8 = iota
	kindCode
	kindTable
)

// atom is the smallest unit the packer places: a whole block when it fits in a chunk,
// else a sentence, a group of words, a run of table rows or a piece of a word.
type atom struct {
	text   string
	sep    string // whitespace put before text when it follows another atom
	tokens int
	page   int
	repeat int // leading bytes of text that repeat earlier text (a table header)
	level  int8
	kind   int8
}

// splitter holds the state of one Split call.
type splitter struct {
	target, overlap, slack, maxChunks int

	atoms     []atom // atoms of the current section
	pre       []int  // prefix sums of atom tokens, scratch for pack
	lastBlock parse.BlockKind
	out       []Chunk
	repeat    []int

	// Offsets and pages of the atoms in the last chunk built, to find the page its
	// overlap comes from.
	starts, pages []int
}

func newSplitter(opts Options) *splitter {
	target := opts.TargetTokens
	if target <= 0 {
		target = DefaultTargetTokens
	}
	overlap := opts.OverlapTokens
	switch {
	case overlap == 0:
		overlap = DefaultOverlapTokens
	case overlap < 0:
		overlap = 0
	}
	overlap = min(overlap, target/2)
	return &splitter{
		target:    target,
		overlap:   overlap,
		slack:     MaxSlack(target),
		maxChunks: max(opts.MaxChunks, 0),
		lastBlock: parse.KindHeading,
	}
}

// sanitize makes text storable: invalid UTF-8 becomes U+FFFD and NUL bytes go.
func sanitize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

// trimCode drops blank lines around code but keeps the first line's indentation.
func trimCode(s string) string {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			return s
		}
		s = s[i+1:]
	}
}

func (sp *splitter) emitter(kind int8, page int) emitFunc {
	return func(text, sep string, level int8) {
		sp.atoms = append(sp.atoms, atom{
			text: text, sep: sep, level: level, kind: kind, page: page, tokens: CountTokens(text),
		})
	}
}

// addBlock turns a non-heading block into atoms of the current section.
func (sp *splitter) addBlock(b parse.Block) {
	text := sanitize(b.Text)
	kind := kindProse
	switch b.Kind {
	case parse.KindCode:
		text, kind = trimCode(text), kindCode
		if strings.TrimSpace(text) == "" {
			text = ""
		}
	case parse.KindTable:
		text, kind = strings.TrimSpace(text), kindTable
		if text == "" && len(b.Rows) > 0 {
			text = renderTable(b.Rows)
		}
	default:
		text = strings.TrimSpace(text)
	}
	if text == "" {
		return
	}
	sep := "\n\n"
	if b.Kind == parse.KindListItem && sp.lastBlock == parse.KindListItem {
		sep = "\n"
	}
	sp.lastBlock = b.Kind
	if tok := CountTokens(text); tok <= sp.target {
		sp.atoms = append(sp.atoms, atom{text: text, sep: sep, tokens: tok, page: b.Page, level: levelBlock, kind: kind})
		return
	}
	switch kind {
	case kindCode:
		// Overlap never follows code, so its pieces may fill a whole chunk.
		splitText(text, true, sp.target, levelBlock, sep, sp.emitter(kind, b.Page))
	case kindTable:
		sp.splitTable(b.Rows, text, sep, b.Page)
	default:
		// Pieces of a long paragraph leave room for the overlap that will precede them.
		splitText(text, false, max(sp.target-sp.overlap, 1), levelBlock, sep, sp.emitter(kind, b.Page))
	}
}

// pack turns the atoms of the section under path into chunks and starts a new section.
func (sp *splitter) pack(path []string) error {
	atoms := sp.atoms
	n := len(atoms)
	defer func() { sp.atoms, sp.lastBlock = sp.atoms[:0], parse.KindHeading }()
	if n == 0 {
		return nil
	}
	pre := append(sp.pre[:0], 0)
	for _, a := range atoms {
		pre = append(pre, pre[len(pre)-1]+a.tokens)
	}
	sp.pre = pre

	prevText, prevProse := "", -1
	for s := 0; s < n; {
		ovStart, ovTok, ovPage := -1, 0, 0
		if s > 0 && prevProse >= 0 && atoms[s].kind != kindTable {
			if budget := min(sp.overlap, sp.target-atoms[s].tokens); budget > 0 {
				ovStart, ovTok = overlapStart(prevText, prevProse, budget)
				ovPage = sp.pageAt(ovStart)
			}
		}
		limit := sp.target - ovTok
		e := s
		for e < n && (e == s || atoms[e].repeat == 0) && pre[e+1]-pre[s] <= limit {
			e++
		}
		e = max(e, s+1)
		b := e
		if e < n {
			b = chooseBreak(atoms, pre, s, e, limit)
			if sp.absorbs(atoms, pre, s, b, ovTok) {
				b = n
			}
		}
		text, tokens, proseStart, page := sp.build(prevText, ovStart, ovPage, atoms[s:b])
		rep := atoms[s].repeat
		if ovStart >= 0 {
			rep = len(prevText) - ovStart
		}
		sp.out = append(sp.out, Chunk{
			Index:       len(sp.out),
			Text:        text,
			HeadingPath: append([]string(nil), path...),
			Page:        page,
			Tokens:      tokens,
		})
		sp.repeat = append(sp.repeat, rep)
		if sp.maxChunks > 0 && len(sp.out) > sp.maxChunks {
			return fmt.Errorf("%w: the document yields more than %d", ErrTooManyChunks, sp.maxChunks)
		}
		prevText, prevProse, s = text, proseStart, b
	}
	return nil
}

// chooseBreak picks where the chunk of atoms[s:e] (all that fits) ends: at the best
// break level found while the chunk stays at least half full, the latest such break
// on ties, so chunks stay large but end where the text does.
func chooseBreak(atoms []atom, pre []int, s, e, limit int) int {
	best, bestLevel := e, atoms[e].level
	for k := e - 1; k > s && pre[k]-pre[s] >= limit/2; k-- {
		if atoms[k].level > bestLevel {
			best, bestLevel = k, atoms[k].level
		}
	}
	return best
}

// absorbs reports whether the rest of the section after atoms[s:b] is a piece small
// enough to merge into this chunk rather than stand alone.
func (sp *splitter) absorbs(atoms []atom, pre []int, s, b, ovTok int) bool {
	n := len(atoms)
	if pre[n]-pre[b] > sp.slack || pre[n]-pre[s]+ovTok > sp.target+sp.slack {
		return false
	}
	for _, a := range atoms[b:] {
		if a.repeat > 0 {
			return false
		}
	}
	return true
}

// build writes the overlap (prevText[ovStart:], when ovStart >= 0) and the atoms into
// a chunk's text. It returns CountTokens of the text, where the trailing run of prose
// starts (-1 when the chunk ends with code or a table) and the chunk's first known page.
func (sp *splitter) build(prevText string, ovStart, ovPage int, atoms []atom) (text string, tokens, proseStart, page int) {
	size := 0
	if ovStart >= 0 {
		size = len(prevText) - ovStart
	}
	for _, a := range atoms {
		size += len(a.sep) + len(a.text)
	}
	var sb strings.Builder
	sb.Grow(size)
	sp.starts, sp.pages = sp.starts[:0], sp.pages[:0]
	proseStart = -1
	// The text is priced from the prices of its parts, known already, as long as they
	// are joined by whitespace: whitespace ends any word or number in progress and
	// costs nothing, so the parts are priced as if alone. Pieces of a word, or of text
	// cut between CJK characters, are joined without it and then the text is priced
	// afresh.
	additive := true
	if ovStart >= 0 {
		tokens = CountTokens(prevText[ovStart:])
		sb.WriteString(prevText[ovStart:])
		sp.starts, sp.pages = append(sp.starts, 0), append(sp.pages, ovPage)
		proseStart, page = 0, ovPage
	}
	for _, a := range atoms {
		if sb.Len() > 0 {
			additive = additive && isSpaces(a.sep)
			sb.WriteString(a.sep)
		}
		tokens += a.tokens
		off := sb.Len()
		sp.starts, sp.pages = append(sp.starts, off), append(sp.pages, a.page)
		switch {
		case a.kind != kindProse:
			proseStart = -1
		case proseStart < 0:
			proseStart = off
		}
		sb.WriteString(a.text)
		if page == 0 {
			page = a.page
		}
	}
	text = sb.String()
	if !additive {
		tokens = CountTokens(text)
	}
	return text, tokens, proseStart, page
}

// isSpaces reports whether s is a non-empty run of whitespace, which counter treats as
// the end of any run in progress and prices at nothing.
func isSpaces(s string) bool {
	for _, r := range s {
		// Invalid UTF-8 decodes as U+FFFD, which is not a space.
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return s != ""
}

// pageAt is the page of the atom of the last chunk built that holds offset off.
func (sp *splitter) pageAt(off int) int {
	page := 0
	for i, start := range sp.starts {
		if start > off {
			break
		}
		page = sp.pages[i]
	}
	return page
}
