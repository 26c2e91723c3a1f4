package pdf

import (
	"bytes"
	"math"
	"strings"
)

// show places the glyphs of one shown string as runs of text, advancing the
// text matrix past each. Runs are cut at spaces and trimmed of them: justified
// text and tables stretch spaces across gutters, and only the inked extent
// tells columns apart.
func (c *contentRun) show(s str) {
	in, gs := c.in, &c.gs
	if gs.font == nil || len(in.runs) >= maxPageRuns {
		return
	}
	glyphs := gs.font.decode(s)
	if len(glyphs) == 0 {
		return
	}
	var (
		sb      []byte
		started bool
		run     textRun
	)
	// An explicit space glyph always ends a word, however the glyphs are
	// placed: poppler breaks words at space characters too. Runs are trimmed of
	// spaces, so the run remembers them for layout.
	spaceBefore := false
	flush := func() {
		if trimmed := len(bytes.TrimRight(sb, " ")); trimmed < len(sb) {
			sb, run.spaceAfter = sb[:trimmed], true
		}
		if started && len(sb) > 0 && in.d.retain(costRun+int64(len(sb)), UseText) {
			in.runsHeld += costRun + int64(len(sb))
			run.text = string(sb)
			in.chars += len(sb)
			in.runs = append(in.runs, run)
		}
		sb, started = sb[:0], false
		spaceBefore = run.spaceAfter
	}
	for _, g := range glyphs {
		trm := matrix{gs.size * gs.th, 0, 0, gs.size, 0, gs.rise}.mul(c.tm).mul(gs.ctm)
		tx := g.width*gs.size + gs.tc
		if g.space {
			tx += gs.tw
		}
		blank := strings.TrimSpace(g.text) == ""
		if blank && tx*gs.th > 0.8*gs.size {
			run.spaceAfter = started
			flush()
		}
		if !blank && !in.box.visible(glyphBounds(trm, tx*gs.th/(gs.size*gs.th))) {
			// Outside the page's visible box, as when two pages of a spread
			// draw the same content shifted: viewers and poppler show none of it.
			flush()
			c.tm = matrix{1, 0, 0, 1, tx * gs.th, 0}.mul(c.tm)
			continue
		}
		if !blank && started && spreadApart(gs.tc*gs.th, gs.size) {
			// Character spacing this wide sets every glyph apart: poppler reads
			// each as a word of its own, and so does this reader.
			run.spaceAfter = true
			flush()
		}
		if !blank {
			if !started {
				run = textRun{x: trm[4], y: trm[5], size: math.Hypot(trm[2], trm[3]), spaceBefore: spaceBefore}
				started = true
			}
			sb = append(sb, g.text...)
		} else if started {
			sb = append(sb, ' ')
		} else {
			spaceBefore = true
		}
		c.tm = matrix{1, 0, 0, 1, tx * gs.th, 0}.mul(c.tm)
		if !blank {
			end := matrix{1, 0, 0, 1, 0, gs.rise}.mul(c.tm).mul(gs.ctm)
			run.ex, run.ey = end[4], end[5]
		}
	}
	flush()
}

// glyphBounds is the box, in user space, of a glyph whose rendering matrix is
// trm and whose advance is adv in units of the font size: its advance along the
// baseline and one font size up.
func glyphBounds(trm matrix, adv float64) (x0, y0, x1, y1 float64) {
	if math.IsNaN(adv) || math.IsInf(adv, 0) {
		adv = 0
	}
	ox, oy := trm[4], trm[5]
	ax, ay := adv*trm[0], adv*trm[1]
	ux, uy := trm[2], trm[3]
	xs := [4]float64{ox, ox + ax, ox + ux, ox + ax + ux}
	ys := [4]float64{oy, oy + ay, oy + uy, oy + ay + uy}
	x0, y0, x1, y1 = xs[0], ys[0], xs[0], ys[0]
	for i := 1; i < 4; i++ {
		x0, x1 = math.Min(x0, xs[i]), math.Max(x1, xs[i])
		y0, y1 = math.Min(y0, ys[i]), math.Max(y1, ys[i])
	}
	return x0, y0, x1, y1
}

// Word breaks between glyphs, as fractions of the font size: poppler's
// minWordBreakSpace and minDupBreakOverlap, so word boundaries fall where the
// reference tool puts them.
const (
	wordBreakSpace   = 0.1
	wordBreakOverlap = 0.2
)

// spreadApart reports whether glyphs set gap apart (in text space, beyond
// their advance) read as separate words at this font size.
func spreadApart(gap, size float64) bool {
	size = math.Abs(size)
	return size > 0 && (gap > wordBreakSpace*size || gap < -wordBreakOverlap*size)
}
