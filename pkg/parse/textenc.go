package parse

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// readHead reads at most n bytes from the start of r, tolerating short files.
func readHead(r io.ReaderAt, size int64, n int) ([]byte, error) {
	if size < int64(n) {
		n = int(max(size, 0))
	}
	buf := make([]byte, n)
	got, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read head: %w", err)
	}
	return buf[:got], nil
}

// textEncoding is what we learnt about the encoding of a byte stream.
type textEncoding struct {
	// enc decodes the bytes after the BOM; nil means the bytes are UTF-8 already.
	enc encoding.Encoding
	// bom is the length of the byte order mark to drop.
	bom int
	// fromBOM reports that a BOM (or an unmistakable UTF-16/32 NUL pattern) decided
	// the encoding, so that in-band declarations (HTML meta charset) must not override it.
	fromBOM bool
	// name is a label for logs and tests.
	name string
}

// sniffSampleEncoding is sniffStream's decision for the head of a longer file,
// whose last rune may be cut off (Detect looks at the head only).
func sniffSampleEncoding(data []byte) textEncoding {
	if e, ok := sniffUnicode(data); ok {
		return e
	}
	if validUTF8Prefix(data) {
		return textEncoding{name: "utf-8"}
	}
	return textEncoding{enc: charmap.Windows1252, name: "windows-1252"}
}

// sniffUnicode recognises UTF-8/16/32 byte order marks and BOM-less UTF-16/32 text
// that is mostly ASCII (every other byte, or three bytes of four, are NUL).
func sniffUnicode(data []byte) (textEncoding, bool) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE, 0, 0}):
		return textEncoding{enc: utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), bom: 4, fromBOM: true, name: "utf-32le"}, true
	case bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}):
		return textEncoding{enc: utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), bom: 4, fromBOM: true, name: "utf-32be"}, true
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return textEncoding{bom: 3, fromBOM: true, name: "utf-8"}, true
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return textEncoding{enc: unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), bom: 2, fromBOM: true, name: "utf-16le"}, true
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return textEncoding{enc: unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), bom: 2, fromBOM: true, name: "utf-16be"}, true
	}
	sample := data[:min(len(data), 4096)]
	if len(sample) < 4 {
		return textEncoding{}, false
	}
	var zeros [4]int
	for i, c := range sample {
		if c == 0 {
			zeros[i%4]++
		}
	}
	quads := len(sample) / 4
	high := func(n int) bool { return n*10 >= quads*9 }
	low := func(n int) bool { return n*20 <= quads }
	switch {
	case low(zeros[0]) && high(zeros[1]) && high(zeros[2]) && high(zeros[3]):
		return textEncoding{enc: utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), fromBOM: true, name: "utf-32le"}, true
	case high(zeros[0]) && high(zeros[1]) && high(zeros[2]) && low(zeros[3]):
		return textEncoding{enc: utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), fromBOM: true, name: "utf-32be"}, true
	}
	pairs := len(sample) / 2
	even, odd := zeros[0]+zeros[2], zeros[1]+zeros[3]
	switch {
	case even*50 <= pairs && odd*10 >= pairs*7:
		return textEncoding{enc: unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), fromBOM: true, name: "utf-16le"}, true
	case odd*50 <= pairs && even*10 >= pairs*7:
		return textEncoding{enc: unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), fromBOM: true, name: "utf-16be"}, true
	}
	return textEncoding{}, false
}

// validUTF8Prefix reports whether data is valid UTF-8 except possibly for a rune cut
// off at the end, which happens when data is a head sample of a longer file.
func validUTF8Prefix(data []byte) bool {
	if utf8.Valid(data) {
		return true
	}
	for cut := 1; cut <= 3 && cut < len(data); cut++ {
		if utf8.RuneStart(data[len(data)-cut]) {
			return utf8.Valid(data[:len(data)-cut])
		}
	}
	return false
}

// decode turns data into a UTF-8 string with e. Decoders replace invalid input with
// U+FFFD, so the result is always valid UTF-8.
func (e textEncoding) decode(data []byte) string {
	data = data[min(e.bom, len(data)):]
	if e.enc == nil {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	out, err := e.enc.NewDecoder().Bytes(data)
	if err != nil {
		// x/text decoders only fail on broken transformer state; fall back to a
		// lossless single-byte view rather than losing the document.
		out, _ = charmap.Windows1252.NewDecoder().Bytes(data)
	}
	return string(out)
}

// encodingByName resolves a charset label (MIME, HTML meta, RTF code page name)
// to an encoding; ok=false for unknown labels. UTF-8 returns a nil encoding.
func encodingByName(label string) (textEncoding, bool) {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	if label == "" {
		return textEncoding{}, false
	}
	enc, err := htmlindex.Get(label)
	if err != nil {
		return textEncoding{}, false
	}
	name, _ := htmlindex.Name(enc)
	if name == "utf-8" {
		return textEncoding{name: name}, true
	}
	return textEncoding{enc: enc, name: name}, true
}

// cleanText normalises newlines to \n, turns form feeds and Unicode line
// separators into newlines, and drops NULs, other control characters, stray BOMs
// and C1 controls, which only confuse the chunker and the embedder.
func cleanText(s string) string {
	if isClean(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		switch {
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				i++
			}
			sb.WriteByte('\n')
		case r == '\n' || r == '\t':
			sb.WriteRune(r)
		case r == '\f' || r == '\v' || r == '\u2028' || r == '\u2029' || r == '\u0085':
			sb.WriteByte('\n')
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) || r == '\uFEFF':
			// dropped
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// isClean is the fast path of cleanText: most text needs no rewriting.
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7F {
			return false
		}
		if c >= 0x80 {
			// C1 controls, U+FEFF, U+2028/9 and U+0085 all need the slow path.
			if c == 0xC2 || c == 0xEF || c == 0xE2 {
				return false
			}
		}
	}
	return true
}

// looksLikeText reports whether a sample decodes to text: few control characters
// and few replacement characters. Binary formats fail this quickly.
func looksLikeText(sample []byte) bool {
	if len(sample) == 0 {
		return true
	}
	e := sniffSampleEncoding(sample)
	if !e.fromBOM && bytes.IndexByte(sample, 0) >= 0 {
		// NULs outside UTF-16/32 mean binary: no text format of ours contains them.
		nuls := bytes.Count(sample, []byte{0})
		if nuls*100 > len(sample) {
			return false
		}
	}
	if e.enc == nil && !utf8.Valid(sample) {
		// validUTF8Prefix accepted a rune cut off by the sample's end; drop it.
		for cut := len(sample) - 1; cut >= 0 && cut >= len(sample)-3; cut-- {
			if utf8.RuneStart(sample[cut]) {
				sample = sample[:cut]
				break
			}
		}
	}
	s := e.decode(sample)
	total, bad := 0, 0
	for _, r := range s {
		total++
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == '\f' || r == '\v' || r == 0x1B:
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) || r == utf8.RuneError:
			bad++
		}
	}
	return bad*50 <= total
}
