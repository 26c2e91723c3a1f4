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
	// runsHeld is what the page's runs are charged until the page is laid out.
	runsHeld int64
	fonts    map[any]*font
	forms    map[ref]bool
	ops      int
	chars    int
	maxOps   int
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

// dropRuns lets go of the page's runs once it is laid out.
func (in *interpreter) dropRuns() {
	in.runs = in.runs[:0]
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
