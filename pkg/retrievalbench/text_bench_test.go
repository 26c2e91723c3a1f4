package retrievalbench

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// source is one corpus file and the text the benchmark reads from it by itself.
// The queries are built from that text, not from what the platform's parsers
// produced, so a parser that drops or garbles text shows up as misses instead of
// being measured against its own output.
type source struct {
	name string // base file name: the document's identity in questions and reports
	path string
	// text is the file's text as read here, or "" for formats not read here.
	text string
	// how says which reader produced text: "text", "html", "pdftotext" or "".
	how string
	// crude is whatever words the file holds, markup and all, even for formats
	// not read here. It only rules out ambiguous targets: a phrase or rare word
	// that may also be in another document is not a fair known-item query.
	crude string
}

// findCorpus returns the default corpus folder: YW_TEST_CORPUS when set (as the
// tests use), else ../shared/corpus beside the repository holding the working
// directory. It returns "" when neither exists.
func findCorpus(getenv func(string) string) string {
	if dir := getenv("YW_TEST_CORPUS"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			corpus := filepath.Join(filepath.Dir(dir), "shared", "corpus")
			if st, err := os.Stat(corpus); err == nil && st.IsDir() {
				return corpus
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// listCorpus returns the files under dirs, sorted by name. Hidden files are
// skipped; a name seen twice keeps its first folder, since names identify the
// documents in questions.json and in the report.
func listCorpus(dirs []string) (files []source, dupes []string, err error) {
	seen := map[string]bool{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if strings.HasPrefix(name, ".") && path != dir {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if seen[name] {
				dupes = append(dupes, path)
				return nil
			}
			seen[name] = true
			files = append(files, source{name: name, path: path})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("corpus %s: %w", dir, err)
		}
	}
	slices.SortFunc(files, func(a, b source) int { return strings.Compare(a.name, b.name) })
	return files, dupes, nil
}

// readSource fills in the text of one file. pdftotext is the path of poppler's
// tool, or "" when it is not installed (PDFs then give no text).
func readSource(ctx context.Context, s *source, pdftotext string) error {
	data, err := os.ReadFile(s.path)
	if err != nil {
		return err
	}
	switch strings.ToLower(filepath.Ext(s.name)) {
	case ".txt", ".md", ".markdown", ".csv", ".tsv":
		s.text, s.how = decodeText(data), "text"
	case ".html", ".htm":
		s.text, s.how = htmlText(decodeText(data)), "html"
	case ".pdf":
		if pdftotext != "" {
			text, err := pdfText(ctx, pdftotext, s.path)
			if err == nil {
				s.text, s.how = text, "pdftotext"
			}
		}
	}
	switch {
	case s.text != "":
		s.crude = s.text
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		s.crude = zipText(data)
	default:
		s.crude = decodeText(data)
	}
	return nil
}

// decodeText turns the bytes of a text file into a string: UTF-32 and UTF-16 by
// their byte-order mark (or, for UTF-16, by the zero bytes of Latin text when the
// mark is missing), UTF-8, and otherwise Windows-1252, the usual legacy encoding.
func decodeText(b []byte) string {
	var dec *encoding.Decoder
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0, 0}):
		dec = utf32.UTF32(utf32.LittleEndian, utf32.UseBOM).NewDecoder()
	case bytes.HasPrefix(b, []byte{0, 0, 0xFE, 0xFF}):
		dec = utf32.UTF32(utf32.BigEndian, utf32.UseBOM).NewDecoder()
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		dec = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		dec = unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return string(b[3:])
	default:
		if order, ok := bomlessUTF16(b); ok {
			dec = unicode.UTF16(order, unicode.IgnoreBOM).NewDecoder()
		} else if utf8.Valid(b) {
			return string(b)
		} else {
			dec = charmap.Windows1252.NewDecoder()
		}
	}
	out, err := dec.Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(out)
}

// bomlessUTF16 recognises UTF-16 without a byte-order mark by the zero high
// bytes of mostly-ASCII text.
func bomlessUTF16(b []byte) (unicode.Endianness, bool) {
	n := min(len(b), 2048) &^ 1
	if n < 8 {
		return unicode.BigEndian, false
	}
	var evenZero, oddZero int
	for i := 0; i < n; i += 2 {
		if b[i] == 0 {
			evenZero++
		}
		if b[i+1] == 0 {
			oddZero++
		}
	}
	pairs := n / 2
	switch {
	case oddZero*10 >= pairs*4 && evenZero*20 < pairs:
		return unicode.LittleEndian, true
	case evenZero*10 >= pairs*4 && oddZero*20 < pairs:
		return unicode.BigEndian, true
	}
	return unicode.BigEndian, false
}

// inlineTags do not separate words: <b>bo</b>ld is one word.
var inlineTags = map[string]bool{
	"a": true, "abbr": true, "b": true, "bdi": true, "bdo": true, "cite": true, "code": true,
	"data": true, "dfn": true, "em": true, "font": true, "i": true, "kbd": true, "mark": true,
	"q": true, "s": true, "samp": true, "small": true, "span": true, "strong": true,
	"sub": true, "sup": true, "time": true, "u": true, "var": true, "wbr": true,
}

// hiddenTags hold no visible text: their content is skipped up to the end tag.
var hiddenTags = map[string]bool{"script": true, "style": true, "template": true, "noscript": true}

// htmlText is the visible text of an HTML page by a deliberately simple reading:
// tags and comments removed (block tags leave a line break, inline tags nothing),
// script and style content dropped, entities decoded.
func htmlText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		rest := s[i+1:]
		if strings.HasPrefix(rest, "!--") {
			end := strings.Index(rest[3:], "-->")
			if end < 0 {
				break
			}
			i += 1 + 3 + end + 3
			b.WriteByte(' ')
			continue
		}
		if rest == "" || !(isASCIILetter(rest[0]) || rest[0] == '/' || rest[0] == '!' || rest[0] == '?') {
			b.WriteByte('<') // a lone "<" in text, as in "a < b"
			i++
			continue
		}
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			break
		}
		name, closing := tagName(rest[:end])
		i += 1 + end + 1
		if !closing && hiddenTags[name] {
			stop := indexFold(s[i:], "</"+name)
			if stop < 0 {
				break
			}
			i += stop
			continue
		}
		if !inlineTags[name] {
			b.WriteByte('\n')
		}
	}
	return html.UnescapeString(b.String())
}

// tagName is the lower-cased element name of the inside of a tag, and whether
// the tag closes an element.
func tagName(tag string) (name string, closing bool) {
	if strings.HasPrefix(tag, "/") {
		closing, tag = true, tag[1:]
	}
	end := strings.IndexFunc(tag, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '/' })
	if end >= 0 {
		tag = tag[:end]
	}
	return strings.ToLower(tag), closing
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// indexFold is strings.Index ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// zipText is the text of the XML and HTML members of a ZIP container (Office,
// OpenDocument, EPUB), tags removed. Words split across formatting runs come out
// split, which is harmless: it only serves to rule out ambiguous targets.
func zipText(data []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return decodeText(data)
	}
	var b strings.Builder
	for _, f := range zr.File {
		switch strings.ToLower(filepath.Ext(f.Name)) {
		case ".xml", ".html", ".htm", ".xhtml":
		default:
			continue
		}
		rc, err := f.Open()
		if err != nil {
			continue
		}
		member, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		_ = rc.Close()
		if err != nil {
			continue
		}
		b.WriteString(htmlText(decodeText(member)))
		b.WriteByte('\n')
	}
	return b.String()
}

// pdfText runs poppler's pdftotext in reading order (no -layout, which would
// interleave the columns of a two-column page).
func pdfText(ctx context.Context, tool, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, "-q", "-enc", "UTF-8", path, "-")
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pdftotext %s: %w", filepath.Base(path), err)
	}
	text := stdout.String()
	if strings.TrimSpace(strings.ReplaceAll(text, "\f", "")) == "" {
		return "", errors.New("pdftotext: no text")
	}
	return text, nil
}
