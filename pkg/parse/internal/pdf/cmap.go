package pdf

import (
	"errors"
	"sort"
	"unicode/utf16"
	"unicode/utf8"
)

// cmap is a parsed CMap: a ToUnicode map (code → text) or an encoding CMap
// (code → CID), with the codespace ranges that tell how long each code is.
type cmap struct {
	spaces    []codeSpace
	uni       map[uint32]string
	uniRanges []unicodeRange
	cid       map[uint32]uint32
	cidRanges []cidRange
}

type codeSpace struct {
	lo, hi []byte
}

type unicodeRange struct {
	lo, hi uint32
	dst    []uint16 // UTF-16 of lo; later codes increment the last unit
	arr    []string // explicit per-code strings, when the range maps to an array
}

type cidRange struct {
	lo, hi, cid uint32
}

// maxCMapEntries bounds the entries a CMap may define.
const maxCMapEntries = 1 << 20

func bigEndian(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

func utf16Units(b []byte) []uint16 {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	if len(b)%2 == 1 {
		u = append(u, uint16(b[len(b)-1]))
	}
	return u
}

func utf16String(u []uint16) string {
	return string(utf16.Decode(u))
}

// parseCMap parses a CMap within the memory budget; held is what it is charged.
func (d *doc) parseCMap(data []byte) (m *cmap, held int64) {
	m = parseCMapData(data, d.budget.Left(), func(n int64) bool {
		if !d.retain(n, UseFonts) {
			return false
		}
		held += n
		return true
	})
	return m, held
}

// parseCMapData reads the CMap operators we need; anything else is skipped. The
// objects read at once may take up to limit bytes (0: no limit), and every entry
// kept is passed to charge first (nil: free): parsing stops when it says no.
func parseCMapData(data []byte, limit int64, charge func(int64) bool) *cmap {
	m := &cmap{uni: map[uint32]string{}, cid: map[uint32]uint32{}}
	lx := &lexer{data: data, limit: limit}
	var ops []any
	entries := 0
	full := false
	keep := func(n int) bool {
		entries++
		full = full || (charge != nil && !charge(int64(n)))
		return !full
	}
	for lx.pos < len(data) && entries < maxCMapEntries && !full {
		o, err := lx.object(0)
		if errors.Is(err, errTooBig) {
			break
		}
		if err != nil {
			continue
		}
		kw, ok := o.(keyword)
		if !ok {
			ops = append(ops, o)
			if len(ops) > 1<<16 {
				ops, lx.cost = ops[:0], 0
			}
			continue
		}
		switch kw {
		case "endcodespacerange":
			for i := 0; i+1 < len(ops); i += 2 {
				lo, _ := ops[i].(str)
				hi, _ := ops[i+1].(str)
				if len(lo) > 0 && len(lo) == len(hi) && len(lo) <= 4 && keep(64) {
					m.spaces = append(m.spaces, codeSpace{lo: lo, hi: hi})
				}
			}
		case "endbfchar":
			for i := 0; i+1 < len(ops) && !full; i += 2 {
				src, _ := ops[i].(str)
				text, ok := "", false
				switch dst := ops[i+1].(type) {
				case str:
					text, ok = utf16String(utf16Units(dst)), true
				case name:
					text, ok = glyphText(string(dst))
				}
				if keep(costEntry+len(text)) && ok {
					m.uni[bigEndian(src)] = text
				}
			}
		case "endbfrange":
			for i := 0; i+2 < len(ops) && !full; i += 3 {
				lo, _ := ops[i].(str)
				hi, _ := ops[i+1].(str)
				r := unicodeRange{lo: bigEndian(lo), hi: bigEndian(hi)}
				if r.hi < r.lo || r.hi-r.lo > 1<<16 {
					continue
				}
				cost := 96
				switch dst := ops[i+2].(type) {
				case str:
					r.dst = utf16Units(dst)
					cost += 2 * len(r.dst)
				case array:
					for _, x := range dst {
						s, _ := x.(str)
						r.arr = append(r.arr, utf16String(utf16Units(s)))
						cost += costString + len(r.arr[len(r.arr)-1])
					}
				default:
					continue
				}
				if keep(cost) {
					m.uniRanges = append(m.uniRanges, r)
				}
			}
		case "endcidchar":
			for i := 0; i+1 < len(ops) && !full; i += 2 {
				src, _ := ops[i].(str)
				if cid, ok := toInt(ops[i+1]); keep(32) && ok && cid >= 0 {
					m.cid[bigEndian(src)] = uint32(cid)
				}
			}
		case "endcidrange":
			for i := 0; i+2 < len(ops) && !full; i += 3 {
				lo, _ := ops[i].(str)
				hi, _ := ops[i+1].(str)
				if cid, ok := toInt(ops[i+2]); keep(24) && ok && cid >= 0 {
					m.cidRanges = append(m.cidRanges, cidRange{lo: bigEndian(lo), hi: bigEndian(hi), cid: uint32(cid)})
				}
			}
		}
		ops, lx.cost = ops[:0], 0
	}
	sort.Slice(m.uniRanges, func(i, j int) bool { return m.uniRanges[i].lo < m.uniRanges[j].lo })
	sort.Slice(m.cidRanges, func(i, j int) bool { return m.cidRanges[i].lo < m.cidRanges[j].lo })
	return m
}

// codeLen returns how many bytes the code at the start of s takes, from the
// codespace ranges; fallback when they say nothing.
func (m *cmap) codeLen(s []byte, fallback int) int {
	if m == nil || len(m.spaces) == 0 {
		return fallback
	}
	for n := 1; n <= 4 && n <= len(s); n++ {
		for _, sp := range m.spaces {
			if len(sp.lo) != n {
				continue
			}
			in := true
			for i := range n {
				if s[i] < sp.lo[i] || s[i] > sp.hi[i] {
					in = false
					break
				}
			}
			if in {
				return n
			}
		}
	}
	return fallback
}

// text maps a code to Unicode text.
func (m *cmap) text(code uint32) (string, bool) {
	if m == nil {
		return "", false
	}
	if s, ok := m.uni[code]; ok {
		return s, true
	}
	// Ranges are sorted by start; overlapping ranges are rare, so look back a little.
	i := sort.Search(len(m.uniRanges), func(i int) bool { return m.uniRanges[i].lo > code }) - 1
	for k := 0; i >= 0 && k < 8; i, k = i-1, k+1 {
		r := m.uniRanges[i]
		if code > r.hi {
			continue
		}
		off := code - r.lo
		if r.arr != nil {
			if int(off) < len(r.arr) {
				return r.arr[off], true
			}
			return "", false
		}
		if len(r.dst) == 0 {
			return "", false
		}
		u := append([]uint16{}, r.dst...)
		u[len(u)-1] += uint16(off)
		return utf16String(u), true
	}
	return "", false
}

// cidOf maps a code to a CID through an encoding CMap.
func (m *cmap) cidOf(code uint32) (uint32, bool) {
	if cid, ok := m.cid[code]; ok {
		return cid, true
	}
	i := sort.Search(len(m.cidRanges), func(i int) bool { return m.cidRanges[i].lo > code }) - 1
	if i >= 0 && code <= m.cidRanges[i].hi {
		return m.cidRanges[i].cid + code - m.cidRanges[i].lo, true
	}
	return 0, false
}

// glyphText maps an Adobe glyph name to text: names from the glyph list we
// know, uniXXXX and uXXXX[XX] forms, and single-character names.
func glyphText(name string) (string, bool) {
	if name == "" || name == ".notdef" {
		return "", false
	}
	// Suffixes (a.sc, one.oldstyle) name variants of the same character.
	for i := 1; i < len(name); i++ {
		if name[i] == '.' {
			name = name[:i]
			break
		}
	}
	if r, ok := glyphRune(name); ok {
		return string(r), true
	}
	if len(name) == 1 && name[0] > ' ' && name[0] < 0x7F {
		return name, true
	}
	hex := func(s string) (rune, bool) {
		var v rune
		if len(s) < 4 || len(s) > 6 {
			return 0, false
		}
		for _, c := range []byte(s) {
			h, ok := hexVal(c)
			if !ok {
				return 0, false
			}
			v = v<<4 | rune(h)
		}
		return v, utf8.ValidRune(v)
	}
	if len(name) >= 7 && name[:3] == "uni" {
		var out []rune
		for i := 3; i+4 <= len(name); i += 4 {
			r, ok := hex(name[i : i+4])
			if !ok {
				return "", false
			}
			out = append(out, r)
		}
		return string(out), len(out) > 0
	}
	if len(name) >= 5 && name[0] == 'u' {
		if r, ok := hex(name[1:]); ok {
			return string(r), true
		}
	}
	return "", false
}
