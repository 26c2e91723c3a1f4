package pdf

import (
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
		trm := matrix{gs.size * gs.th, 0, 0, gs.size, 0, gs.rise}.mul(c.tm).mul(gs.ctm)
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
		c.tm = matrix{1, 0, 0, 1, tx * gs.th, 0}.mul(c.tm)
		if !blank {
			end := matrix{1, 0, 0, 1, 0, gs.rise}.mul(c.tm).mul(gs.ctm)
			run.ex, run.ey = end[4], end[5]
		}
	}
	sb = []byte(strings.TrimRight(string(sb), " "))
	flush()
}
