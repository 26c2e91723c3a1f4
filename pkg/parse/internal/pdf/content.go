package pdf

import (
	"bytes"
	"errors"
	"math"
	"strings"
)

// matrix is a PDF transformation matrix [a b c d e f].
type matrix [6]float64

func identity() matrix { return matrix{1, 0, 0, 1, 0, 0} }

// mul returns m × n: m applied first, then n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func matrixOf(a array) (matrix, bool) {
	if len(a) < 6 {
		return identity(), false
	}
	var m matrix
	for i := range 6 {
		v, ok := toFloat(a[i])
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return identity(), false
		}
		m[i] = v
	}
	return m, true
}

// textRun is a piece of text shown by one string operand, positioned in user space.
type textRun struct {
	x, y   float64 // start of the baseline
	ex, ey float64 // end of the baseline
	size   float64 // font size in user space
	text   string
}

type graphicsState struct {
	ctm        matrix
	font       *font
	size       float64
	tc, tw, tl float64
	th, rise   float64
}

// interpreter runs content streams and collects the text they show.
type interpreter struct {
	d    *doc
	runs []textRun
	// runsHeld is what the page's runs are charged until the page is laid out.
	runsHeld int64
	fonts    map[any]*font
	forms    map[ref]bool
	ops      int
	chars    int
	maxOps   int
}

func newInterpreter(d *doc) *interpreter {
	return &interpreter{d: d, fonts: map[any]*font{}, forms: map[ref]bool{}, maxOps: maxOps}
}

// maxFormDepth bounds nested form XObjects; maxStateStack bounds q nesting.
const (
	maxFormDepth  = 12
	maxStateStack = 256
	maxPageRuns   = 200_000
)

// costRun is the heap of one run besides its text.
const costRun = 64

// dropRuns lets go of the page's runs once it is laid out.
func (in *interpreter) dropRuns() {
	in.runs = in.runs[:0]
	in.d.release(in.runsHeld)
	in.runsHeld = 0
}

// run interprets one content stream with the given resources.
func (in *interpreter) run(content []byte, res dict, gs graphicsState, depth int) error {
	lx := in.d.newLexer(content, 0)
	var (
		stack    []graphicsState
		operands []any
		tm, tlm  = identity(), identity()
	)
	fontsOf := func() dict {
		f, _ := in.d.resolve(res["Font"]).(dict)
		return f
	}
	show := func(s str) {
		if gs.font == nil || len(in.runs) >= maxPageRuns {
			return
		}
		glyphs := gs.font.decode(s)
		if len(glyphs) == 0 {
			return
		}
		// Runs are cut at spaces and trimmed of them: justified text and tables
		// stretch spaces across gutters, and only the inked extent tells columns apart.
		var (
			sb      []byte
			started bool
			run     textRun
		)
		flush := func() {
			if started && len(sb) > 0 && in.d.retain(costRun+int64(len(sb)), UseText) {
				in.runsHeld += costRun + int64(len(sb))
				run.text = string(sb)
				in.chars += len(sb)
				in.runs = append(in.runs, run)
			}
			sb, started = sb[:0], false
		}
		for _, g := range glyphs {
			trm := matrix{gs.size * gs.th, 0, 0, gs.size, 0, gs.rise}.mul(tm).mul(gs.ctm)
			tx := g.width*gs.size + gs.tc
			if g.space {
				tx += gs.tw
			}
			blank := strings.TrimSpace(g.text) == ""
			if blank && tx*gs.th > 0.8*gs.size {
				flush()
			}
			if !blank {
				if !started {
					run = textRun{x: trm[4], y: trm[5], size: math.Hypot(trm[2], trm[3])}
					started = true
				}
				sb = append(sb, g.text...)
			} else if started {
				sb = append(sb, ' ')
			}
			tm = matrix{1, 0, 0, 1, tx * gs.th, 0}.mul(tm)
			if !blank {
				end := matrix{1, 0, 0, 1, 0, gs.rise}.mul(tm).mul(gs.ctm)
				run.ex, run.ey = end[4], end[5]
			}
		}
		sb = []byte(strings.TrimRight(string(sb), " "))
		flush()
	}
	num := func(i int) float64 {
		if i < len(operands) {
			v, _ := toFloat(operands[i])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0
			}
			return v
		}
		return 0
	}
	td := func(tx, ty float64) {
		tlm = matrix{1, 0, 0, 1, tx, ty}.mul(tlm)
		tm = tlm
	}
	for lx.pos < len(content) {
		o, err := lx.object(0)
		if err != nil {
			if errors.Is(err, errTooBig) {
				in.d.noteErr(err)
				return in.d.over
			}
			operands, lx.cost = operands[:0], 0
			continue
		}
		op, isOp := o.(keyword)
		if !isOp {
			if len(operands) < 64 {
				operands = append(operands, o)
			}
			continue
		}
		in.ops++
		if in.ops%4096 == 0 {
			if err := in.d.failed(); err != nil {
				return err
			}
		}
		if in.ops > in.maxOps {
			return nil
		}
		switch op {
		case "q":
			if len(stack) < maxStateStack {
				stack = append(stack, gs)
			}
		case "Q":
			if n := len(stack); n > 0 {
				gs = stack[n-1]
				stack = stack[:n-1]
			}
		case "cm":
			if len(operands) >= 6 {
				m, _ := matrixOf(array(operands[len(operands)-6:]))
				gs.ctm = m.mul(gs.ctm)
			}
		case "BT":
			tm, tlm = identity(), identity()
		case "Tf":
			if len(operands) >= 2 {
				name, _ := operands[len(operands)-2].(name)
				gs.size = num(len(operands) - 1)
				gs.font = in.fontNamed(fontsOf(), name)
			}
		case "Tc":
			gs.tc = num(0)
		case "Tw":
			gs.tw = num(0)
		case "Tz":
			gs.th = num(0) / 100
		case "TL":
			gs.tl = num(0)
		case "Ts":
			gs.rise = num(0)
		case "Td":
			td(num(0), num(1))
		case "TD":
			gs.tl = -num(1)
			td(num(0), num(1))
		case "Tm":
			if len(operands) >= 6 {
				tlm, _ = matrixOf(array(operands[len(operands)-6:]))
				tm = tlm
			}
		case "T*":
			td(0, -gs.tl)
		case "Tj":
			if len(operands) > 0 {
				s, _ := operands[len(operands)-1].(str)
				show(s)
			}
		case "'":
			td(0, -gs.tl)
			if len(operands) > 0 {
				s, _ := operands[len(operands)-1].(str)
				show(s)
			}
		case "\"":
			if len(operands) >= 3 {
				gs.tw, gs.tc = num(0), num(1)
				td(0, -gs.tl)
				s, _ := operands[2].(str)
				show(s)
			}
		case "TJ":
			if len(operands) > 0 {
				arr, _ := operands[len(operands)-1].(array)
				for _, x := range arr {
					switch t := x.(type) {
					case str:
						show(t)
					default:
						if n, ok := toFloat(t); ok && !math.IsNaN(n) && math.Abs(n) < 1e6 {
							tm = matrix{1, 0, 0, 1, -n / 1000 * gs.size * gs.th, 0}.mul(tm)
						}
					}
				}
			}
		case "Do":
			if len(operands) > 0 && depth < maxFormDepth {
				name, _ := operands[len(operands)-1].(name)
				if err := in.form(res, name, gs, depth); err != nil {
					return err
				}
			}
		case "BI":
			// Inline image data is binary: skip to the EI that ends it.
			i := bytes.Index(content[lx.pos:], []byte("ID"))
			if i < 0 {
				return nil
			}
			p := lx.pos + i + 2
			for {
				j := bytes.Index(content[p:], []byte("EI"))
				if j < 0 {
					return nil
				}
				p += j + 2
				if isSpace(content[p-3]) && (p >= len(content) || isSpace(content[p]) || isDelim(content[p])) {
					break
				}
			}
			lx.pos = p
		}
		// Operands are transient: what the next operator's take is counted anew.
		operands, lx.cost = operands[:0], 0
	}
	return nil
}

// fontNamed resolves a font resource name, caching fonts by reference (and by
// name within these resources for fonts defined inline).
func (in *interpreter) fontNamed(fonts dict, name name) *font {
	v := fonts[name]
	if ref, ok := v.(ref); ok {
		if f, ok := in.fonts[ref]; ok {
			return f
		}
		// Cached fonts stay charged for the document.
		f, _ := in.d.loadFont(in.d.resolve(ref))
		in.fonts[ref] = f
		return f
	}
	// A font defined inline is used until the next Tf, then dropped.
	f, held := in.d.loadFont(in.d.resolve(v))
	in.d.release(held)
	return f
}

// form runs a form XObject, whose content is drawn as if inline.
func (in *interpreter) form(res dict, xobject name, gs graphicsState, depth int) error {
	xobjs, _ := in.d.resolve(res["XObject"]).(dict)
	r, isRef := xobjs[xobject].(ref)
	s, ok := in.d.resolve(xobjs[xobject]).(*stream)
	if !ok || s.dict["Subtype"] != name("Form") {
		return nil
	}
	if isRef {
		if in.forms[r] {
			return nil
		}
		in.forms[r] = true
		defer delete(in.forms, r)
	}
	data, held, err := in.d.decodeStream(s)
	if err != nil {
		if stopsDocument(err) {
			return err
		}
		return nil
	}
	defer in.d.release(held)
	if m, ok := matrixOf(asArray(in.d.resolve(s.dict["Matrix"]))); ok {
		gs.ctm = m.mul(gs.ctm)
	}
	formRes, _ := in.d.resolve(s.dict["Resources"]).(dict)
	if formRes == nil {
		formRes = res
	}
	return in.run(data, formRes, gs, depth+1)
}

func asArray(v any) array {
	a, _ := v.(array)
	return a
}
