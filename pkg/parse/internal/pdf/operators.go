package pdf

import (
	"bytes"
	"math"
)

// operator is what one content-stream operator does to text. Its handler runs
// only when at least minOperands operands came before it, and gets them all:
// most read the last ones, as a well-formed stream has exactly those.
type operator struct {
	minOperands int
	run         func(c *contentRun, args []any) error
}

// operatorTable maps the operators that show text or move where it goes to
// their handlers. Every other operator (paths, colours, images) puts no text
// on the page and is skipped with its operands.
func operatorTable() map[keyword]operator {
	return map[keyword]operator{
		"q":  {0, (*contentRun).saveState},
		"Q":  {0, (*contentRun).restoreState},
		"cm": {6, (*contentRun).concatMatrix},
		"BT": {0, (*contentRun).beginText},
		"Tf": {2, (*contentRun).setFont},
		"Tc": {0, (*contentRun).setCharSpacing},
		"Tw": {0, (*contentRun).setWordSpacing},
		"Tz": {0, (*contentRun).setHorizontalScale},
		"TL": {0, (*contentRun).setLeading},
		"Ts": {0, (*contentRun).setRise},
		"Td": {0, (*contentRun).moveLine},
		"TD": {0, (*contentRun).moveLineSetLeading},
		"Tm": {6, (*contentRun).setTextMatrix},
		"T*": {0, (*contentRun).nextLine},
		"Tj": {1, (*contentRun).showString},
		"'":  {0, (*contentRun).nextLineShow},
		`"`:  {3, (*contentRun).nextLineShowSpaced},
		"TJ": {1, (*contentRun).showArray},
		"Do": {1, (*contentRun).drawXObject},
		"BI": {0, (*contentRun).skipInlineImage},
	}
}

// number reads operand i as a number; 0 when it is missing or not a finite number.
func number(args []any, i int) float64 {
	if i < len(args) {
		v, _ := toFloat(args[i])
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	return 0
}

// lastString reads the last operand as a string; nil when it is not one.
func lastString(args []any) str {
	if len(args) == 0 {
		return nil
	}
	s, _ := args[len(args)-1].(str)
	return s
}

// saveState is q. The stack is bounded: saves past it are dropped.
func (c *contentRun) saveState([]any) error {
	if len(c.stack) < maxStateStack {
		c.stack = append(c.stack, c.gs)
	}
	return nil
}

// restoreState is Q. A Q without its q is ignored.
func (c *contentRun) restoreState([]any) error {
	if n := len(c.stack); n > 0 {
		c.gs = c.stack[n-1]
		c.stack = c.stack[:n-1]
	}
	return nil
}

// concatMatrix is cm: the matrix applies before the current transformation.
func (c *contentRun) concatMatrix(args []any) error {
	m, _ := matrixOf(array(args[len(args)-6:]))
	c.gs.ctm = m.mul(c.gs.ctm)
	return nil
}

// beginText is BT, which starts text at the origin.
func (c *contentRun) beginText([]any) error {
	c.tm, c.tlm = identity(), identity()
	return nil
}

// setFont is Tf: a font resource name and a size.
func (c *contentRun) setFont(args []any) error {
	fontName, _ := args[len(args)-2].(name)
	c.gs.size = number(args, len(args)-1)
	fonts, _ := c.in.d.resolve(c.res["Font"]).(dict)
	c.gs.font = c.in.fontNamed(fonts, fontName)
	return nil
}

// setCharSpacing is Tc.
func (c *contentRun) setCharSpacing(args []any) error {
	c.gs.tc = number(args, 0)
	return nil
}

// setWordSpacing is Tw.
func (c *contentRun) setWordSpacing(args []any) error {
	c.gs.tw = number(args, 0)
	return nil
}

// setHorizontalScale is Tz, a percentage.
func (c *contentRun) setHorizontalScale(args []any) error {
	c.gs.th = number(args, 0) / 100
	return nil
}

// setLeading is TL, the distance T*, ' and " move down.
func (c *contentRun) setLeading(args []any) error {
	c.gs.tl = number(args, 0)
	return nil
}

// setRise is Ts, which raises text off its baseline (superscripts).
func (c *contentRun) setRise(args []any) error {
	c.gs.rise = number(args, 0)
	return nil
}

// moveLine is Td: the start of the next line, relative to this one's.
func (c *contentRun) moveLine(args []any) error {
	c.startLine(number(args, 0), number(args, 1))
	return nil
}

// moveLineSetLeading is TD: Td that also sets the leading to the move down.
func (c *contentRun) moveLineSetLeading(args []any) error {
	c.gs.tl = -number(args, 1)
	c.startLine(number(args, 0), number(args, 1))
	return nil
}

// setTextMatrix is Tm, which places the line anew, not relative to the last.
func (c *contentRun) setTextMatrix(args []any) error {
	c.tlm, _ = matrixOf(array(args[len(args)-6:]))
	c.tm = c.tlm
	return nil
}

// nextLine is T*: down by the leading.
func (c *contentRun) nextLine([]any) error {
	c.startLine(0, -c.gs.tl)
	return nil
}

// showString is Tj.
func (c *contentRun) showString(args []any) error {
	c.show(lastString(args))
	return nil
}

// nextLineShow is ': T* then Tj. The line moves even without a string.
func (c *contentRun) nextLineShow(args []any) error {
	c.startLine(0, -c.gs.tl)
	if len(args) > 0 {
		c.show(lastString(args))
	}
	return nil
}

// nextLineShowSpaced is ": word and character spacing, then '.
func (c *contentRun) nextLineShowSpaced(args []any) error {
	c.gs.tw, c.gs.tc = number(args, 0), number(args, 1)
	c.startLine(0, -c.gs.tl)
	s, _ := args[2].(str)
	c.show(s)
	return nil
}

// showArray is TJ: strings, and numbers that move the next one back (or,
// negative, forward) in thousandths of the font size. Layout reads a wide
// enough forward move as a space.
func (c *contentRun) showArray(args []any) error {
	arr, _ := args[len(args)-1].(array)
	for _, x := range arr {
		switch t := x.(type) {
		case str:
			c.show(t)
		default:
			if n, ok := toFloat(t); ok && !math.IsNaN(n) && math.Abs(n) < 1e6 {
				c.tm = matrix{1, 0, 0, 1, -n / 1000 * c.gs.size * c.gs.th, 0}.mul(c.tm)
			}
		}
	}
	return nil
}

// drawXObject is Do. Form XObjects hold text, pictures may (a scanned page);
// nesting is bounded.
func (c *contentRun) drawXObject(args []any) error {
	if c.depth >= maxFormDepth {
		return nil
	}
	xobject, _ := args[len(args)-1].(name)
	return c.in.xobject(c.res, xobject, c.gs, c.depth)
}

// skipInlineImage is BI. Inline image data is binary, not operators: skip to
// the EI that ends it, one standing alone between white space. A stream whose
// image never ends has nothing more to read.
func (c *contentRun) skipInlineImage([]any) error {
	content := c.lx.data
	i := bytes.Index(content[c.lx.pos:], []byte("ID"))
	if i < 0 {
		c.lx.pos = len(content)
		return nil
	}
	p := c.lx.pos + i + 2
	for {
		j := bytes.Index(content[p:], []byte("EI"))
		if j < 0 {
			c.lx.pos = len(content)
			return nil
		}
		p += j + 2
		if isSpace(content[p-3]) && (p >= len(content) || isSpace(content[p]) || isDelim(content[p])) {
			break
		}
	}
	c.lx.pos = p
	return nil
}

// startLine moves to the start of a line, relative to the current line's.
func (c *contentRun) startLine(tx, ty float64) {
	c.tlm = matrix{1, 0, 0, 1, tx, ty}.mul(c.tlm)
	c.tm = c.tlm
}
