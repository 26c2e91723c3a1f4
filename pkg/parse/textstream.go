package parse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// Text formats are read as streams: the bytes are decoded and cleaned as they are
// read, so that what a parser holds depends on what it keeps, not on the size of
// the file. The encoding is decided first, from the head of the file and one
// cheap validation pass over it all: a file with a single byte that is not UTF-8
// is Windows-1252 throughout, which only the whole file can tell.

// textSniffBytes is how much of the head sniffUnicode looks at.
const textSniffBytes = 4096

// openText returns the content of r as clean UTF-8 text (see cleanText) in the
// encoding sniffStream decides; charset is a declaration from outside the text
// (a MIME part header, an HTML meta tag), or "".
func openText(r io.ReaderAt, size int64, charset string, b *budget) (io.Reader, error) {
	e, err := sniffStream(r, size, charset, b)
	if err != nil {
		return nil, err
	}
	bom := min(int64(e.bom), max(size, 0))
	src := io.NewSectionReader(r, bom, max(size-bom, 0))
	var t transform.Transformer = &cleaner{}
	if e.enc != nil {
		t = transform.Chain(e.enc.NewDecoder(), &cleaner{})
	}
	return &ctxReader{r: transform.NewReader(src, t), b: b}, nil
}

// sniffStream decides the encoding of r: a BOM or UTF-16/32 pattern first, then
// the declaration (a declared UTF-8 that is not valid UTF-8 is taken for the
// mislabelled legacy text it usually is), then UTF-8 when the whole stream is
// valid UTF-8, else Windows-1252, the superset of ISO-8859-1 that most legacy
// Western text really is.
func sniffStream(r io.ReaderAt, size int64, charset string, b *budget) (textEncoding, error) {
	head, err := readHead(r, size, textSniffBytes)
	if err != nil {
		return textEncoding{}, err
	}
	if e, ok := sniffUnicode(head); ok {
		return e, nil
	}
	if charset != "" {
		if e, ok := encodingByName(charset); ok && e.enc != nil {
			return e, nil
		}
	}
	valid, err := validUTF8Stream(r, size, b)
	if err != nil {
		return textEncoding{}, err
	}
	if valid {
		return textEncoding{name: "utf-8"}, nil
	}
	return textEncoding{enc: charmap.Windows1252, name: "windows-1252"}, nil
}

// validUTF8Stream reports whether the first size bytes of r are valid UTF-8,
// reading them in chunks.
func validUTF8Stream(r io.ReaderAt, size int64, b *budget) (bool, error) {
	buf := make([]byte, min(64<<10, max(size, utf8.UTFMax)+utf8.UTFMax))
	carry := 0 // bytes of a rune cut by the previous chunk, moved to buf's front
	for off := int64(0); off < size; {
		if err := b.check(); err != nil {
			return false, err
		}
		n, err := r.ReadAt(buf[carry:min(int64(len(buf)), int64(carry)+size-off)], off)
		if n == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return false, fmt.Errorf("read input: %w", err)
		}
		off += int64(n)
		chunk := buf[:carry+n]
		end := len(chunk)
		if off < size {
			// Keep back a rune that may continue in the next chunk.
			for i := 1; i <= utf8.UTFMax-1 && i <= end; i++ {
				if utf8.RuneStart(chunk[end-i]) {
					if !utf8.FullRune(chunk[end-i:]) {
						end -= i
					}
					break
				}
			}
		}
		if !utf8.Valid(chunk[:end]) {
			return false, nil
		}
		carry = copy(buf, chunk[end:])
	}
	return carry == 0 || utf8.Valid(buf[:carry]), nil
}

// ctxReader stops a stream once the parse is cancelled: loops that read without
// emitting (a file of empty lines) must notice a timeout too.
type ctxReader struct {
	r io.Reader
	b *budget
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.b.check(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// cleaner is cleanText as a transform, for streams; it also replaces each run of
// invalid UTF-8 with one U+FFFD, as strings.ToValidUTF8 does before cleanText.
type cleaner struct {
	transform.NopResetter
	invalid bool // the last byte seen was invalid UTF-8
}

// Transform implements transform.Transformer.
func (c *cleaner) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		ch := src[nSrc]
		if ch < utf8.RuneSelf {
			c.invalid = false
			out, size := ch, 1
			switch {
			case ch == '\r':
				if nSrc+1 == len(src) && !atEOF {
					return nDst, nSrc, transform.ErrShortSrc
				}
				if nSrc+1 < len(src) && src[nSrc+1] == '\n' {
					size = 2
				}
				out = '\n'
			case ch == '\n' || ch == '\t':
			case ch == '\f' || ch == '\v':
				out = '\n'
			case ch < 0x20 || ch == 0x7F:
				nSrc++
				continue
			}
			if nDst == len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = out
			nDst++
			nSrc += size
			continue
		}
		if !atEOF && !utf8.FullRune(src[nSrc:]) {
			return nDst, nSrc, transform.ErrShortSrc
		}
		r, size := utf8.DecodeRune(src[nSrc:])
		invalid := r == utf8.RuneError && size == 1
		switch {
		case invalid && c.invalid:
			nSrc++
			continue
		case r == '\u2028' || r == '\u2029' || r == '\u0085':
			r = '\n'
		case (r >= 0x80 && r < 0xA0) || r == '\uFEFF':
			c.invalid = false
			nSrc += size
			continue
		}
		if len(dst)-nDst < utf8.RuneLen(r) {
			return nDst, nSrc, transform.ErrShortDst
		}
		c.invalid = invalid
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc += size
	}
	return nDst, nSrc, nil
}

// lineReader splits a text stream into lines without their "\n". A line longer
// than max comes in pieces of at most max bytes, cut between runes, all but the
// last with more set, so that no line is ever held whole.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	max        int
	eof        bool
}

// newLineReader reads lines from r; size, the size of the input, keeps the
// buffer of a small file small (decoding may triple it).
func newLineReader(r io.Reader, limit int, size int64) *lineReader {
	return &lineReader{r: r, buf: make([]byte, min(2*limit, int(max(size, 0))*3+16)), max: limit}
}

// next returns the next line or piece of a line; ok is false at the end.
func (l *lineReader) next() (line string, more, ok bool, err error) {
	for {
		data := l.buf[l.start:l.end]
		if i := bytes.IndexByte(data[:min(len(data), l.max+1)], '\n'); i >= 0 {
			l.start += i + 1
			return string(data[:i]), false, true, nil
		}
		if len(data) > l.max {
			cut := l.max
			for k := 0; k < utf8.UTFMax-1 && cut > 1 && !utf8.RuneStart(data[cut]); k++ {
				cut--
			}
			l.start += cut
			return string(data[:cut]), true, true, nil
		}
		if l.eof {
			if len(data) == 0 {
				return "", false, false, nil
			}
			l.start = l.end
			return string(data), false, true, nil
		}
		l.end = copy(l.buf, data)
		l.start = 0
		if l.end == len(l.buf) {
			// The buffer of a small file is full: double it, up to two pieces.
			grown := make([]byte, min(2*len(l.buf), 2*l.max))
			copy(grown, l.buf[:l.end])
			l.buf = grown
		}
		n, rerr := io.ReadAtLeast(l.r, l.buf[l.end:], 1)
		l.end += n
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
				return "", false, false, rerr
			}
			l.eof = true
		}
	}
}
