package pdf

import (
	"errors"
	"math"
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
	// spaceBefore and spaceAfter mark space glyphs shown just before or after
	// the run's text, trimmed off it: a word break whatever the gap.
	spaceBefore, spaceAfter bool
}

// graphicsState is the part of the graphics state that decides where text
// goes and how wide it is; q and Q save and restore it.
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
	// box is the visible part of the page being read: glyphs outside it are
	// not shown.
	box pageBox
	// runsHeld is what the page's runs are charged until the page is laid out.
	runsHeld int64
	fonts    map[any]*font
	forms    map[ref]bool
	// images are the pictures drawn on the page, for a page without text.
	images []placedImage
	ops    int
	chars  int
	maxOps int
	// operators maps the operators that matter to text to what they do.
	operators map[keyword]operator
}

func newInterpreter(d *doc) *interpreter {
	return &interpreter{d: d, fonts: map[any]*font{}, forms: map[ref]bool{}, maxOps: maxOps,
		operators: operatorTable()}
}

// maxFormDepth bounds nested form XObjects; maxStateStack bounds q nesting.
const (
	maxFormDepth  = 12
	maxStateStack = 256
	maxPageRuns   = 200_000
)

// costRun is the heap of one run besides its text.
const costRun = 64

// dropRuns lets go of the page's runs (and the pictures it placed) once it is
// laid out.
func (in *interpreter) dropRuns() {
	in.runs = in.runs[:0]
	in.images = in.images[:0]
	in.d.release(in.runsHeld)
	in.runsHeld = 0
}

// contentRun is one content stream being interpreted: the state its
// operators read and change.
type contentRun struct {
	in      *interpreter
	lx      *lexer
	res     dict
	depth   int
	gs      graphicsState
	stack   []graphicsState
	tm, tlm matrix // the text matrix and the text line matrix
}

// maxOperands bounds the operands kept for one operator; no operator we run
// takes more than six, and a hostile stream may push millions.
const maxOperands = 64

// run interprets one content stream with the given resources. Operands pile
// up until an operator comes; the operator's handler, if it has one and
// enough operands came, runs with them all, and the pile starts anew.
func (in *interpreter) run(content []byte, res dict, gs graphicsState, depth int) error {
	c := &contentRun{in: in, lx: in.d.newLexer(content, 0), res: res, depth: depth, gs: gs,
		tm: identity(), tlm: identity()}
	var operands []any
	for c.lx.pos < len(content) {
		o, err := c.lx.object(0)
		if err != nil {
			if errors.Is(err, errTooBig) {
				in.d.noteErr(err)
				return in.d.over
			}
			operands, c.lx.cost = operands[:0], 0
			continue
		}
		op, isOp := o.(keyword)
		if !isOp {
			if len(operands) < maxOperands {
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
		if h, ok := in.operators[op]; ok && len(operands) >= h.minOperands {
			if err := h.run(c, operands); err != nil {
				return err
			}
		}
		// Operands are transient: what the next operator's take is counted anew.
		operands, c.lx.cost = operands[:0], 0
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

// xobject draws an XObject: a form's content as if inline, a picture is
// recorded where it goes.
func (in *interpreter) xobject(res dict, xobject name, gs graphicsState, depth int) error {
	xobjs, _ := in.d.resolve(res["XObject"]).(dict)
	v := xobjs[xobject]
	if s, ok := in.d.resolve(v).(*stream); ok && s.dict["Subtype"] == name("Image") {
		in.placeImage(v, gs.ctm)
		return nil
	}
	return in.formStream(v, res, gs, depth)
}

// formStream runs the form XObject v (a reference or a stream). A form drawn
// inside itself is skipped.
func (in *interpreter) formStream(v any, res dict, gs graphicsState, depth int) error {
	r, isRef := v.(ref)
	s, ok := in.d.resolve(v).(*stream)
	if !ok || (s.dict["Subtype"] != nil && s.dict["Subtype"] != name("Form")) {
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

// maxAnnots bounds the annotations drawn on one page.
const maxAnnots = 2000

// annotations draws the normal appearance of the page's visible annotations:
// form fields and buttons often hold their text only there, and poppler
// shows it as page text.
func (in *interpreter) annotations(page dict, res dict) error {
	annots, _ := in.d.resolve(page["Annots"]).(array)
	for i, a := range annots {
		if i >= maxAnnots {
			break
		}
		ad, _ := in.d.resolve(a).(dict)
		if ad == nil {
			continue
		}
		// Hidden (bit 2) and NoView (bit 6) annotations are not shown.
		if flags, _ := toInt(in.d.resolve(ad["F"])); flags&(1<<1|1<<5) != 0 {
			continue
		}
		ap, _ := in.d.resolve(ad["AP"]).(dict)
		normal := in.d.resolve(ap["N"])
		if states, ok := normal.(dict); ok {
			// An appearance per state: the one the annotation is in.
			as, _ := ad["AS"].(name)
			normal = states[as]
		}
		if normal == nil {
			continue
		}
		s, ok := in.d.resolve(normal).(*stream)
		if !ok {
			continue
		}
		rect := in.d.boxOf(ad["Rect"])
		bbox := in.d.boxOf(s.dict["BBox"])
		if !rect.ok || !bbox.ok {
			continue
		}
		// The form's bounding box, through its matrix, is fitted to Rect.
		m, _ := matrixOf(asArray(in.d.resolve(s.dict["Matrix"])))
		t := transformedBox(bbox, m)
		sx, sy := (rect.x1-rect.x0)/(t.x1-t.x0), (rect.y1-rect.y0)/(t.y1-t.y0)
		fit := matrix{sx, 0, 0, sy, rect.x0 - t.x0*sx, rect.y0 - t.y0*sy}
		gs := graphicsState{ctm: fit, th: 1}
		if err := in.formStream(normal, res, gs, 0); err != nil {
			return err
		}
	}
	return nil
}

// transformedBox is the bounding box of b's corners through m.
func transformedBox(b pageBox, m matrix) pageBox {
	out := pageBox{x0: math.Inf(1), y0: math.Inf(1), x1: math.Inf(-1), y1: math.Inf(-1), ok: true}
	for _, p := range [4][2]float64{{b.x0, b.y0}, {b.x0, b.y1}, {b.x1, b.y0}, {b.x1, b.y1}} {
		x := p[0]*m[0] + p[1]*m[2] + m[4]
		y := p[0]*m[1] + p[1]*m[3] + m[5]
		out.x0, out.x1 = math.Min(out.x0, x), math.Max(out.x1, x)
		out.y0, out.y1 = math.Min(out.y0, y), math.Max(out.y1, y)
	}
	if out.x1-out.x0 < 1e-6 || out.y1-out.y0 < 1e-6 {
		out.x0, out.y0, out.x1, out.y1 = b.x0, b.y0, b.x0+1, b.y0+1
	}
	return out
}

func asArray(v any) array {
	a, _ := v.(array)
	return a
}
