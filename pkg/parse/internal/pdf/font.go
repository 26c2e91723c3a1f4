package pdf

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// font knows how to split a shown string into codes, map codes to text, and
// how wide each code is, which is all text extraction needs from a font.
type font struct {
	composite bool
	toUni     *cmap
	encoding  *cmap // composite fonts: code → CID; nil means Identity
	simple    [256]string
	widths    map[uint32]float64 // simple: by code; composite: by CID (glyph units)
	dw        float64
	scale     float64 // glyph units → text space (1/1000, or Type 3 FontMatrix)
	// ucs2 marks predefined Unicode CMaps whose codes are UTF-16 already.
	ucs2 bool
	// legacy decodes predefined CJK CMaps (EUC, Shift-JIS, Big5) without ToUnicode.
	legacy encoding.Encoding
}

// glyph is one shown code: its text and advance in text space units.
type glyph struct {
	text  string
	width float64
	space bool // single-byte code 32, which word spacing applies to
}

// costFont is the heap of a font besides its maps: the struct, with its table
// of 256 glyph strings.
const costFont = 8 << 10

// loadFont reads a font dictionary: its ToUnicode map, encoding and widths. held
// is what the font is charged: its maps can be large.
func (d *doc) loadFont(v any) (f *font, held int64) {
	f = &font{scale: 0.001, dw: 1000, widths: map[uint32]float64{}}
	held = costFont
	if !d.retain(held, UseFonts) {
		return f, 0
	}
	defer func() {
		// Widths were added freely (bounded per font): charge them now.
		w := int64(len(f.widths)) * 40
		if d.retain(w, UseFonts) {
			held += w
		}
	}()
	fd, _ := v.(dict)
	if fd == nil {
		return f, held
	}
	subtype, _ := fd["Subtype"].(name)
	if tu, ok := d.resolve(fd["ToUnicode"]).(*stream); ok {
		if data, dataHeld, err := d.decodeStream(tu); err == nil {
			var cmapHeld int64
			f.toUni, cmapHeld = d.parseCMap(data)
			held += cmapHeld
			d.release(dataHeld)
		}
	}
	if subtype == "Type0" {
		f.composite = true
		held += d.loadComposite(f, fd)
		return f, held
	}
	if subtype == "Type3" {
		if m, ok := d.resolve(fd["FontMatrix"]).(array); ok && len(m) > 0 {
			if s, ok := toFloat(m[0]); ok && s != 0 {
				f.scale = s
			}
		}
	}
	first, _ := toInt(d.resolve(fd["FirstChar"]))
	if ws, ok := d.resolve(fd["Widths"]).(array); ok {
		for i, w := range ws {
			if i > 256 {
				break
			}
			if n, ok := toFloat(d.resolve(w)); ok {
				f.widths[uint32(first+i)] = n
			}
		}
	}
	f.dw = 500
	if desc, ok := d.resolve(fd["FontDescriptor"]).(dict); ok {
		if mw, ok := toFloat(d.resolve(desc["MissingWidth"])); ok && mw > 0 {
			f.dw = mw
		}
	}
	base, _ := fd["BaseFont"].(name)
	if strings.Contains(string(base), "Courier") {
		f.dw = 600
	}
	// The base encoding, then Differences on top of it.
	baseEnc := name("StandardEncoding")
	if subtype == "TrueType" {
		baseEnc = "WinAnsiEncoding"
	}
	var diffs array
	var builtin map[int]string
	if fd["Encoding"] == nil || subtype == "Type1" {
		builtin = d.type1Encoding(fd)
	}
	switch e := d.resolve(fd["Encoding"]).(type) {
	case name:
		baseEnc = e
	case dict:
		if be, ok := e["BaseEncoding"].(name); ok {
			baseEnc = be
		}
		diffs, _ = d.resolve(e["Differences"]).(array)
	}
	for c := range 256 {
		if r := baseRune(baseEnc, byte(c)); r != 0 {
			f.simple[c] = string(r)
		}
	}
	if fd["Encoding"] == nil || len(diffs) > 0 {
		// The font program's own encoding is the base when the dictionary names none.
		for c, name := range builtin {
			if t, ok := glyphText(name); ok && (fd["Encoding"] == nil || f.simple[c] == "") {
				f.simple[c] = t
			}
		}
	}
	code := 0
	for _, x := range diffs {
		switch t := d.resolve(x).(type) {
		case int64:
			code = int(t)
		case float64:
			code = int(t)
		case name:
			if code >= 0 && code < 256 {
				s, _ := glyphText(string(t))
				f.simple[code] = s
			}
			code++
		}
	}
	return f, held
}

// type1Encoding reads the built-in encoding of an embedded Type 1 font program
// ("dup 12 /fi put" lines in its clear-text part). TeX fonts rely on it for
// ligatures and symbols.
func (d *doc) type1Encoding(fd dict) map[int]string {
	desc, _ := d.resolve(fd["FontDescriptor"]).(dict)
	ff, _ := d.resolve(desc["FontFile"]).(*stream)
	if ff == nil {
		return nil
	}
	data, held, err := d.decodeStream(ff)
	if err != nil {
		return nil
	}
	defer d.release(held)
	if n, ok := toInt(d.resolve(ff.dict["Length1"])); ok && n > 0 && n < len(data) {
		data = data[:n]
	}
	if i := bytes.Index(data[:min(len(data), 1<<16)], []byte("eexec")); i >= 0 {
		data = data[:i]
	}
	if !bytes.Contains(data, []byte("/Encoding")) || bytes.Contains(data, []byte("StandardEncoding def")) {
		return nil
	}
	// Fields are walked four at a time rather than split out: the clear text may
	// be large, and a slice of its fields would take many times its size.
	out := map[int]string{}
	var win [4][]byte
	n := 0
	for rest := data; ; {
		rest = bytes.TrimLeftFunc(rest, unicode.IsSpace)
		if len(rest) == 0 {
			break
		}
		end := bytes.IndexFunc(rest, unicode.IsSpace)
		if end < 0 {
			end = len(rest)
		}
		copy(win[:], win[1:])
		win[3], rest = rest[:end], rest[end:]
		if n++; n < 4 {
			continue
		}
		if string(win[0]) != "dup" || string(win[3]) != "put" || !bytes.HasPrefix(win[2], []byte("/")) {
			continue
		}
		var c int
		if _, err := fmt.Sscanf(string(win[1]), "%d", &c); err == nil && c >= 0 && c < 256 {
			out[c] = string(win[2][1:])
		}
	}
	return out
}

// loadComposite reads what a Type0 font adds; it returns what that is charged.
func (d *doc) loadComposite(f *font, fd dict) (held int64) {
	switch e := d.resolve(fd["Encoding"]).(type) {
	case name:
		name := string(e)
		switch {
		case strings.HasPrefix(name, "Identity"):
		case strings.Contains(name, "UCS2") || strings.Contains(name, "UTF16"):
			f.ucs2 = true
		default:
			f.legacy = legacyEncoding(name)
		}
	case *stream:
		if data, dataHeld, err := d.decodeStream(e); err == nil {
			f.encoding, held = d.parseCMap(data)
			d.release(dataHeld)
		}
	}
	descs, _ := d.resolve(fd["DescendantFonts"]).(array)
	if len(descs) == 0 {
		return held
	}
	desc, _ := d.resolve(descs[0]).(dict)
	if desc == nil {
		return held
	}
	if dw, ok := toFloat(d.resolve(desc["DW"])); ok {
		f.dw = dw
	}
	// W: [c [w1 w2 ...]] or [cFirst cLast w].
	w, _ := d.resolve(desc["W"]).(array)
	for i := 0; i < len(w) && len(f.widths) < 1<<17; {
		c0, ok := toInt(d.resolve(w[i]))
		if !ok || i+1 >= len(w) {
			break
		}
		if arr, ok := d.resolve(w[i+1]).(array); ok {
			for j, x := range arr {
				if n, ok := toFloat(d.resolve(x)); ok {
					f.widths[uint32(c0+j)] = n
				}
			}
			i += 2
			continue
		}
		if i+2 >= len(w) {
			break
		}
		c1, ok1 := toInt(d.resolve(w[i+1]))
		n, ok2 := toFloat(d.resolve(w[i+2]))
		if ok1 && ok2 && c1 >= c0 && c1-c0 < 1<<16 {
			for c := c0; c <= c1; c++ {
				f.widths[uint32(c)] = n
			}
		}
		i += 3
	}
	return held
}

// legacyEncoding picks the text encoding behind a predefined CJK CMap name.
func legacyEncoding(name string) encoding.Encoding {
	switch {
	case strings.Contains(name, "RKSJ"), strings.Contains(name, "90ms"), strings.HasPrefix(name, "EUC-") && strings.Contains(name, "JIS"):
		if strings.Contains(name, "EUC") {
			return japanese.EUCJP
		}
		return japanese.ShiftJIS
	case strings.Contains(name, "KSC"), strings.Contains(name, "KSCms"):
		return korean.EUCKR
	case strings.Contains(name, "GB"):
		return simplifiedchinese.GBK
	case strings.Contains(name, "B5"), strings.Contains(name, "ETen"), strings.Contains(name, "CNS"):
		return traditionalchinese.Big5
	}
	return nil
}

// decode splits a shown string into glyphs.
func (f *font) decode(s []byte) []glyph {
	if f.legacy != nil && f.toUni == nil {
		text, err := f.legacy.NewDecoder().Bytes(s)
		if err != nil {
			text = nil
		}
		// Widths are per CID, which we cannot know here: the default width per character.
		out := make([]glyph, 0, len(text))
		for _, r := range string(text) {
			out = append(out, glyph{text: string(r), width: f.dw * f.scale})
		}
		return out
	}
	out := make([]glyph, 0, len(s))
	for i := 0; i < len(s); {
		n := 1
		if f.composite {
			// Identity and the predefined Unicode CMaps use two-byte codes.
			n = 2
			if f.encoding != nil {
				n = f.encoding.codeLen(s[i:], 2)
			}
		}
		if i+n > len(s) {
			n = len(s) - i
		}
		code := bigEndian(s[i : i+n])
		i += n
		g := glyph{space: !f.composite && code == 32}
		var ok bool
		if g.text, ok = f.toUni.text(code); !ok {
			switch {
			case !f.composite:
				g.text = f.simple[code&0xFF]
			case f.ucs2:
				g.text = utf16String([]uint16{uint16(code)})
			}
		}
		g.text = cleanGlyph(g.text)
		w, ok := f.widths[f.cid(code)]
		if !ok {
			w = f.dw
		}
		g.width = w * f.scale
		out = append(out, g)
	}
	return out
}

func (f *font) cid(code uint32) uint32 {
	if f.composite && f.encoding != nil {
		if c, ok := f.encoding.cidOf(code); ok {
			return c
		}
	}
	return code
}

// cleanGlyph drops control characters and invalid text some fonts map to.
func cleanGlyph(s string) string {
	if s == "" {
		return s
	}
	clean := true
	for _, r := range s {
		if r < 0x20 || r == utf8.RuneError || (r >= 0xE000 && r <= 0xF8FF) || r == 0xFFFE || (r >= 0xFB00 && r <= 0xFB06) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			sb.WriteByte(' ')
		case r < 0x20 || r == utf8.RuneError || r == 0xFFFE:
		case r >= 0xE000 && r <= 0xF8FF:
			// Private-use code points (symbol fonts) carry no text we can show.
		case r >= 0xFB00 && r <= 0xFB06:
			// Typographic ligatures: spelled out, so "ﬁle" is found by "file".
			sb.WriteString([]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}[r-0xFB00])
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
