package parse

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// maxRTFGroups bounds the group nesting we track. Deeper groups are still
// matched by counting braces but share the state of the deepest tracked group.
const maxRTFGroups = 256

const (
	// rtfMaxFonts bounds the font table kept (number → code page); fonts past it
	// are read with the document's code page.
	rtfMaxFonts = 4096
	// rtfMaxPending bounds the code page bytes queued for decoding together.
	rtfMaxPending = 64 << 10
)

// rtfDest says what happens to the text of a group.
type rtfDest int

const (
	destText    rtfDest = iota // document text
	destSkip                   // ignored: font tables, pictures, \* destinations, ...
	destInfo                   // the \info group: ignored except for its \title
	destTitle                  // the document title
	destFontTbl                // the font table: read for font charsets only
)

// rtfState is the part of the RTF state that groups save and restore.
type rtfState struct {
	dest    rtfDest
	uc      int // characters to skip after \uN
	cp      int // current code page (from the font's charset or \ansicpg)
	inTable bool
	outline int // \outlinelevelN + 1; 0 when the paragraph is not a heading
}

// rtfParser is a small RTF tokenizer that keeps the text and paragraph structure
// and drops everything else.
type rtfParser struct {
	s *sink
	// in is the document, streamed; err is a read error other than the end.
	in      *bufio.Reader
	err     error
	state   rtfState
	stack   []rtfState
	extra   int // groups opened beyond maxRTFGroups
	ansiCP  int
	fonts   map[int]int // font number → code page
	curFont int
	skipN   int // characters still to skip after \uN
	pending []byte
	pendCP  int
	hiSurr  rune
	para    strings.Builder
	title   strings.Builder
	cells   []string
	rows    [][]string
	// held is what the paragraph, cells and rows being read are charged.
	held     int64
	paraHeld int
	// star is set after \* until the next control word: unknown destinations
	// introduced by \* are skipped whole.
	star bool
	// groupStart is set right after "{": only the first control word of a group
	// can name a destination.
	groupStart bool
}

// parseRTF reads Rich Text Format: paragraphs, headings (from outline levels),
// tables, and text in the document's code pages and Unicode escapes. The file is
// streamed; the paragraph and table being read are charged to the memory budget.
func parseRTF(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	in := bufio.NewReaderSize(&ctxReader{r: io.NewSectionReader(r, 0, max(size, 0)), b: b}, 64<<10)
	p := &rtfParser{s: newSink(b), in: in, ansiCP: 1252, fonts: map[int]int{}}
	defer func() { b.release(p.held) }()
	p.state.uc = 1
	if err := p.run(); err != nil {
		return nil, err
	}
	return &Document{Title: collapseSpace(p.title.String()), Blocks: p.s.blocks}, nil
}

// peek returns the next byte without consuming it; ok is false at the end.
func (p *rtfParser) peek() (byte, bool) {
	b, err := p.in.Peek(1)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			p.err = err
		}
		return 0, false
	}
	return b[0], true
}

func (p *rtfParser) run() error {
	for {
		if err := p.s.tick(); err != nil {
			return err
		}
		c, err := p.in.ReadByte()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			break
		}
		switch c {
		case '{':
			p.flushBytes()
			p.skipN = 0
			if len(p.stack) >= maxRTFGroups {
				p.extra++
			} else {
				p.stack = append(p.stack, p.state)
			}
			p.groupStart = true
			continue
		case '}':
			p.flushBytes()
			p.skipN = 0
			switch {
			case p.extra > 0:
				p.extra--
			case len(p.stack) > 0:
				p.state = p.stack[len(p.stack)-1]
				p.stack = p.stack[:len(p.stack)-1]
			}
			p.star = false
		case '\\':
			if err := p.control(); err != nil {
				return err
			}
		case '\r', '\n':
			// Line breaks in RTF source are not text.
		default:
			p.char(c)
		}
		if p.err != nil {
			return p.err
		}
		p.groupStart = false
	}
	p.flushBytes()
	return p.endPara(true)
}

// grow makes room for n more bytes of paragraph, charging the growth first
// (see heldText.write); a failure stops the parse at the next byte.
func (p *rtfParser) grow(n int) bool {
	if p.err != nil {
		return false
	}
	if p.para.Cap()-p.para.Len() >= n {
		return true
	}
	size := 2*p.para.Cap() + n
	if err := p.retain(int64(size-p.paraHeld), memParagraph); err != nil {
		p.err = err
		return false
	}
	p.paraHeld = size
	p.para.Grow(n)
	return true
}

func (p *rtfParser) retain(n int64, what memUse) error {
	p.held += n
	return p.s.b.retain(n, what)
}

func (p *rtfParser) unretain(n int64) {
	p.held -= n
	p.s.b.release(n)
}

// takePara returns the paragraph's text and starts a new one.
func (p *rtfParser) takePara() string {
	text := p.para.String()
	p.para = strings.Builder{}
	p.unretain(int64(p.paraHeld))
	p.paraHeld = 0
	return text
}

// control reads the control word or symbol after a backslash.
func (p *rtfParser) control() error {
	c, ok := p.peek()
	if !ok {
		return nil
	}
	if !isASCIILetter(c) {
		p.in.Discard(1)
		switch c {
		case '\'':
			if h, _ := p.in.Peek(2); len(h) == 2 {
				if v, ok := hexByte(h[0], h[1]); ok {
					p.in.Discard(2)
					p.byteOut(v)
				}
			}
		case '*':
			p.star = true
		case '\\', '{', '}':
			p.char(c)
		case '~':
			p.runeOut('\u00A0')
		case '_':
			p.runeOut('-')
		case '\n', '\r':
			return p.endPara(false)
		case '\t':
			p.runeOut('\t')
		}
		return nil
	}
	var buf [32]byte
	word := buf[:0]
	for len(word) < len(buf) {
		c, ok := p.peek()
		if !ok || !isASCIILetter(c) {
			break
		}
		word = append(word, c)
		p.in.Discard(1)
	}
	arg, hasArg := 0, false
	neg := false
	if h, _ := p.in.Peek(2); len(h) == 2 && h[0] == '-' && isDigit(h[1]) {
		neg = true
		p.in.Discard(1)
	}
	for digits := 0; ; digits++ {
		c, ok := p.peek()
		if !ok || !isDigit(c) {
			break
		}
		if digits < 10 {
			arg = arg*10 + int(c-'0')
		}
		hasArg = true
		p.in.Discard(1)
	}
	if neg {
		arg = -arg
	}
	if c, ok := p.peek(); ok && c == ' ' {
		p.in.Discard(1)
	}
	return p.word(string(word), arg, hasArg)
}

// word applies one control word.
func (p *rtfParser) word(word string, arg int, hasArg bool) error {
	star := p.star
	p.star = false
	if p.state.dest == destSkip {
		if word == "bin" && hasArg {
			p.in.Discard(max(arg, 0))
		}
		return nil
	}
	if p.groupStart || star {
		if dest, ok := rtfDestination(word, p.state.dest); ok {
			p.flushBytes()
			p.state.dest = dest
			return nil
		}
		if star {
			p.flushBytes()
			p.state.dest = destSkip
			return nil
		}
	}
	if p.skipN > 0 && word != "u" {
		// A control word stands for one character of an \uN fallback.
		p.skipN--
		return nil
	}
	if p.state.dest == destFontTbl || p.state.dest == destInfo {
		// Only the font table's numbers and charsets matter outside the text.
		switch word {
		case "f", "fcharset", "bin", "uc":
		default:
			return nil
		}
	}
	switch word {
	case "par", "sect", "page":
		return p.endPara(false)
	case "line":
		p.runeOut('\n')
	case "tab":
		p.runeOut('\t')
	case "cell", "nestcell":
		p.flushBytes()
		cell := collapseSpace(p.takePara())
		p.cells = append(p.cells, cell)
		return p.retain(stringCost(len(cell)), memTable)
	case "row", "nestrow":
		p.flushBytes()
		if len(p.cells) > 0 {
			p.rows = append(p.rows, p.cells)
			if err := p.retain(costSlice, memTable); err != nil {
				return err
			}
		}
		p.cells = nil
	case "pard":
		p.state.inTable = false
		p.state.outline = 0
	case "intbl":
		p.state.inTable = true
	case "outlinelevel":
		if arg >= 0 && arg < 9 {
			p.state.outline = arg + 1
		}
	case "ansicpg":
		p.flushBytes()
		if hasArg && rtfCodePage(arg) != nil {
			p.ansiCP = arg
			p.state.cp = 0
		}
	case "mac":
		p.ansiCP = 10000
	case "pc":
		p.ansiCP = 437
	case "pca":
		p.ansiCP = 850
	case "f":
		if p.state.dest == destFontTbl {
			p.curFont = arg
			return nil
		}
		p.flushBytes()
		p.state.cp = p.fonts[arg]
	case "fcharset":
		if p.state.dest == destFontTbl {
			if cp := fontCharsetCP(arg); cp != 0 && (len(p.fonts) < rtfMaxFonts || p.fonts[p.curFont] != 0) {
				p.fonts[p.curFont] = cp
			}
		}
	case "uc":
		if arg >= 0 && arg <= 10 {
			p.state.uc = arg
		}
	case "u":
		p.skipN = 0
		if arg < 0 {
			arg += 65536
		}
		p.unicodeOut(rune(arg))
		p.skipN = p.state.uc
	case "bin":
		if hasArg {
			p.in.Discard(max(arg, 0))
		}
	case "emdash":
		p.runeOut('—')
	case "endash":
		p.runeOut('–')
	case "bullet":
		p.runeOut('•')
	case "lquote":
		p.runeOut('‘')
	case "rquote":
		p.runeOut('’')
	case "ldblquote":
		p.runeOut('“')
	case "rdblquote":
		p.runeOut('”')
	case "emspace", "enspace", "qmspace":
		p.runeOut(' ')
	}
	return nil
}

// rtfDestination maps a destination control word to what happens to its group.
func rtfDestination(word string, cur rtfDest) (rtfDest, bool) {
	switch word {
	case "fonttbl":
		return destFontTbl, true
	case "info":
		return destInfo, true
	case "title":
		if cur == destInfo {
			return destTitle, true
		}
		return destSkip, true
	case "colortbl", "stylesheet", "pict", "object", "objdata", "header", "headerl", "headerr",
		"headerf", "footer", "footerl", "footerr", "footerf", "footnote", "annotation", "atnid",
		"atnauthor", "listtable", "listoverridetable", "rsidtbl", "generator", "xmlnstbl",
		"themedata", "colorschememapping", "datastore", "latentstyles", "filetbl", "revtbl",
		"pgdsctbl", "fldinst", "listtext", "pntext", "pntxta", "pntxtb", "ftnsep", "ftnsepc",
		"aftnsep", "aftnsepc", "template", "userprops", "docvar", "nonshppict", "shppict",
		"sp", "sn", "sv", "blipuid", "bkmkstart", "bkmkend", "xe", "tc", "txe", "private",
		"mmathPr", "passwordhash", "wgrffmtfilter", "author", "operator", "company", "comment",
		"subject", "keywords", "doccomm", "category", "manager", "hlinkbase", "falt", "panose":
		return destSkip, true
	}
	return 0, false
}

// char handles one literal byte of the source.
func (p *rtfParser) char(c byte) {
	if p.state.dest == destSkip || p.state.dest == destFontTbl || p.state.dest == destInfo {
		return
	}
	if p.skipN > 0 {
		p.skipN--
		return
	}
	if c < 0x80 {
		p.flushBytes()
		p.writeByte(c)
		return
	}
	p.byteOut(c)
}

// byteOut queues a byte in the current code page; multi-byte code pages need
// the bytes together, so they are decoded on the next flush.
func (p *rtfParser) byteOut(c byte) {
	if p.state.dest == destSkip || p.state.dest == destFontTbl || p.state.dest == destInfo {
		return
	}
	if p.skipN > 0 {
		p.skipN--
		return
	}
	cp := p.codePage()
	if len(p.pending) > 0 && cp != p.pendCP {
		p.flushBytes()
	}
	p.pendCP = cp
	p.pending = append(p.pending, c)
	if len(p.pending) >= rtfMaxPending {
		p.flushBytes()
	}
}

func (p *rtfParser) codePage() int {
	if p.state.cp != 0 {
		return p.state.cp
	}
	return p.ansiCP
}

// flushBytes decodes queued code page bytes.
func (p *rtfParser) flushBytes() {
	if len(p.pending) == 0 {
		return
	}
	enc := rtfCodePage(p.pendCP)
	if enc == nil {
		enc = charmap.Windows1252
	}
	out, err := enc.NewDecoder().Bytes(p.pending)
	if err == nil {
		p.write(string(out))
	}
	p.pending = p.pending[:0]
}

// unicodeOut writes a \uN character, pairing UTF-16 surrogates.
func (p *rtfParser) unicodeOut(r rune) {
	if p.state.dest == destSkip || p.state.dest == destFontTbl || p.state.dest == destInfo {
		return
	}
	p.flushBytes()
	switch {
	case utf16.IsSurrogate(r) && r < 0xDC00:
		p.hiSurr = r
		return
	case utf16.IsSurrogate(r):
		if p.hiSurr != 0 {
			r = utf16.DecodeRune(p.hiSurr, r)
		}
		p.hiSurr = 0
	}
	p.write(string(r))
}

func (p *rtfParser) runeOut(r rune) {
	if p.state.dest == destText || p.state.dest == destTitle {
		p.flushBytes()
		p.write(string(r))
	}
}

func (p *rtfParser) writeByte(c byte) {
	switch p.state.dest {
	case destText:
		if p.grow(1) {
			p.para.WriteByte(c)
		}
	case destTitle:
		if p.title.Len() < 1024 {
			p.title.WriteByte(c)
		}
	}
}

func (p *rtfParser) write(s string) {
	switch p.state.dest {
	case destText:
		if p.grow(len(s)) {
			p.para.WriteString(s)
		}
	case destTitle:
		if p.title.Len() < 1024 {
			p.title.WriteString(s)
		}
	}
}

// endPara closes a paragraph. Table rows collect until a paragraph outside the
// table (or the end) closes the table.
func (p *rtfParser) endPara(final bool) error {
	if p.state.dest != destText && !final {
		return nil
	}
	p.flushBytes()
	if p.state.inTable && !final {
		// \par inside a cell is a line break within the cell.
		if p.grow(1) {
			p.para.WriteByte('\n')
		}
		return p.err
	}
	text := cleanText(p.takePara())
	if len(p.cells) > 0 {
		p.rows = append(p.rows, p.cells)
		p.cells = nil
	}
	if len(p.rows) > 0 && (strings.TrimSpace(text) != "" || final) {
		rows := p.rows
		p.rows = nil
		if err := addTable(p.s, rows, 0); err != nil {
			return err
		}
		// The table's blocks hold the rows now.
		p.unretain(p.held - int64(p.paraHeld))
	}
	if p.state.outline > 0 {
		return p.s.add(Block{Kind: KindHeading, Level: p.state.outline, Text: collapseSpace(text)})
	}
	return p.s.paragraph(text)
}

// rtfCodePage returns the decoder of a Windows code page, or nil when unknown.
func rtfCodePage(cp int) encoding.Encoding {
	switch cp {
	case 1250:
		return charmap.Windows1250
	case 1251:
		return charmap.Windows1251
	case 1252:
		return charmap.Windows1252
	case 1253:
		return charmap.Windows1253
	case 1254:
		return charmap.Windows1254
	case 1255:
		return charmap.Windows1255
	case 1256:
		return charmap.Windows1256
	case 1257:
		return charmap.Windows1257
	case 1258:
		return charmap.Windows1258
	case 874:
		return charmap.Windows874
	case 437:
		return charmap.CodePage437
	case 850:
		return charmap.CodePage850
	case 866:
		return charmap.CodePage866
	case 10000:
		return charmap.Macintosh
	case 932:
		return japanese.ShiftJIS
	case 936:
		return simplifiedchinese.GBK
	case 949:
		return korean.EUCKR
	case 950:
		return traditionalchinese.Big5
	}
	return nil
}

// fontCharsetCP maps an RTF \fcharset to its Windows code page (0 = use \ansicpg).
func fontCharsetCP(cs int) int {
	switch cs {
	case 77:
		return 10000
	case 128:
		return 932
	case 129:
		return 949
	case 134:
		return 936
	case 136:
		return 950
	case 161:
		return 1253
	case 162:
		return 1254
	case 163:
		return 1258
	case 177:
		return 1255
	case 178:
		return 1256
	case 186:
		return 1257
	case 204:
		return 1251
	case 222:
		return 874
	case 238:
		return 1250
	case 255:
		return 437
	}
	return 0
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hexByte(a, b byte) (byte, bool) {
	hi, ok1 := hexVal(a)
	lo, ok2 := hexVal(b)
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
