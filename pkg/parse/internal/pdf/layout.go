package pdf

import (
	"math"
	"sort"
	"strings"
)

// PDF content streams place text anywhere in any order. Layout rebuilds reading
// order: runs on one baseline merge into line fragments, fragments are split into
// columns and bands by recursive XY cuts on whitespace, and consecutive lines
// with normal leading are joined into paragraphs.

// fragment is a horizontal piece of one line: merged runs without a wide gap.
type fragment struct {
	x0, x1, y float64
	size      float64
	text      string
}

func (f fragment) top() float64    { return f.y + 0.8*f.size }
func (f fragment) bottom() float64 { return f.y - 0.25*f.size }

// maxCutFragments bounds the fragments XY-cut works on; past it a page is read
// top to bottom, which is cheaper and still readable.
const maxCutFragments = 6000

// maxWordGap is the widest gap, in font sizes, ever read as a word space;
// wider gaps separate columns or table cells.
const maxWordGap = 1.2

// pageLines orders a page's runs into lines in reading order. Text in each
// direction is laid out on its own, the dominant direction first, so a rotated
// margin note does not cut through the body's lines.
func pageLines(runs []textRun) []fragment {
	var lines []fragment
	for _, group := range byDirection(runs) {
		frags := fragmentsOf(group)
		if len(frags) == 0 {
			continue
		}
		minX, maxX := math.Inf(1), math.Inf(-1)
		for _, f := range frags {
			minX, maxX = math.Min(minX, f.x0), math.Max(maxX, f.x1)
		}
		var regions [][]fragment
		if len(frags) > maxCutFragments {
			regions = [][]fragment{frags}
		} else {
			regions = xyCut(frags, maxX-minX, 0)
		}
		for _, r := range regions {
			lines = append(lines, joinLines(r)...)
		}
	}
	return lines
}

// byDirection groups runs by writing direction (0°, 90°, 180°, 270°), each
// group rotated to read left to right, the group with the most text first.
func byDirection(runs []textRun) [][]textRun {
	var groups [4][]textRun
	var weight [4]int
	for _, r := range runs {
		dx, dy := r.ex-r.x, r.ey-r.y
		dir := 0
		switch {
		case math.Abs(dx) >= math.Abs(dy) && dx < 0:
			dir = 2
		case math.Abs(dx) < math.Abs(dy) && dy > 0:
			dir = 1
		case math.Abs(dx) < math.Abs(dy):
			dir = 3
		}
		rot := func(x, y float64) (float64, float64) {
			switch dir {
			case 1: // reads upward: turn clockwise
				return y, -x
			case 2:
				return -x, -y
			case 3:
				return -y, x
			}
			return x, y
		}
		r.x, r.y = rot(r.x, r.y)
		r.ex, r.ey = rot(r.ex, r.ey)
		groups[dir] = append(groups[dir], r)
		weight[dir] += len(r.text)
	}
	order := []int{0, 1, 2, 3}
	sort.SliceStable(order, func(i, j int) bool { return weight[order[i]] > weight[order[j]] })
	var out [][]textRun
	for _, d := range order {
		if len(groups[d]) > 0 {
			out = append(out, groups[d])
		}
	}
	return out
}

// fragmentsOf merges runs sharing a baseline into fragments, splitting where the
// gap is wider than word spacing could be.
func fragmentsOf(runs []textRun) []fragment {
	rs := make([]textRun, 0, len(runs))
	for _, r := range runs {
		if r.size <= 0.1 || math.IsNaN(r.x+r.y+r.ex+r.ey+r.size) {
			r.size = math.Max(r.size, 1)
		}
		if strings.TrimSpace(r.text) == "" && r.ex-r.x < r.size {
			// A lone space run carries no text; gaps decide spacing.
			continue
		}
		if r.ex < r.x {
			r.x, r.ex = r.ex, r.x
		}
		rs = append(rs, r)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if math.Abs(rs[i].y-rs[j].y) > 0.01 {
			return rs[i].y > rs[j].y
		}
		return rs[i].x < rs[j].x
	})
	wordGap := wordGapOf(rs)
	var frags []fragment
	for _, line := range baselines(rs) {
		sort.SliceStable(line, func(a, b int) bool { return line[a].x < line[b].x })
		var cur *fragment
		var sb strings.Builder
		var last textRun
		flush := func() {
			if cur != nil {
				cur.text = sb.String()
				if strings.TrimSpace(cur.text) != "" {
					frags = append(frags, *cur)
				}
			}
			sb.Reset()
			cur = nil
		}
		for _, r := range line {
			if cur != nil {
				size := math.Max(cur.size, r.size)
				// Fake bold and shadows draw the same text again almost on top of itself.
				if r.text == last.text && math.Abs(r.x-last.x) < 0.2*size && math.Abs(r.y-last.y) < 0.2*size {
					continue
				}
				gap := r.x - cur.x1
				if gap <= wordGap*size {
					spaced := gap > 0.12*size || last.spaceAfter || r.spaceBefore
					if spaced && !strings.HasSuffix(sb.String(), " ") && !strings.HasPrefix(r.text, " ") {
						sb.WriteByte(' ')
					}
					sb.WriteString(r.text)
					cur.x1 = math.Max(cur.x1, r.ex)
					cur.size = size
					last = r
					continue
				}
				flush()
			}
			cur = &fragment{x0: r.x, x1: r.ex, y: r.y, size: r.size}
			sb.WriteString(r.text)
			last = r
		}
		flush()
	}
	return frags
}

// baselines groups runs, sorted top to bottom, into lines. Runs share a line
// when their baselines are within a fifth of the smaller font size; a short
// group of smaller type (a superscript, a footnote mark) then joins the
// nearest line of larger type within half that line's font size. Letting a
// line's tolerance grow with the largest type on it would let a big heading in
// one column swallow several body lines of the next, read interleaved.
func baselines(rs []textRun) [][]textRun {
	type group struct {
		runs  []textRun
		y     float64
		size  float64
		chars int
	}
	var groups []group
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[i].y-rs[j].y <= 0.2*math.Min(rs[i].size, rs[j].size) {
			j++
		}
		g := group{runs: rs[i:j], y: rs[i].y}
		for _, r := range g.runs {
			g.size = math.Max(g.size, r.size)
			g.chars += len(r.text)
		}
		groups = append(groups, g)
		i = j
	}
	const maxMarkChars = 12
	into := make([]int, len(groups))
	for i, g := range groups {
		into[i] = i
		if g.chars > maxMarkChars {
			continue
		}
		best, bestDY := -1, math.Inf(1)
		for _, k := range []int{i - 1, i + 1} {
			if k < 0 || k >= len(groups) || groups[k].chars <= maxMarkChars {
				continue
			}
			n := groups[k]
			dy := math.Abs(n.y - g.y)
			if n.size >= 1.2*g.size && dy <= 0.5*n.size && dy < bestDY {
				best, bestDY = k, dy
			}
		}
		if best >= 0 {
			into[i] = best
		}
	}
	var lines [][]textRun
	for i, g := range groups {
		if into[i] != i {
			continue
		}
		line := append([]textRun{}, g.runs...)
		for k := i - 1; k <= i+1; k += 2 {
			if k >= 0 && k < len(groups) && into[k] == i {
				line = append(line, groups[k].runs...)
			}
		}
		lines = append(lines, line)
	}
	return lines
}

// wordGapOf estimates, in font sizes, the widest gap on this page that is still
// a word space: three times the typical word gap between runs, within bounds. A
// fixed threshold cannot tell a narrow gutter from the spaces of loose text.
func wordGapOf(rs []textRun) float64 {
	var ratios []float64
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1], rs[i]
		if math.Abs(a.y-b.y) > 0.1*a.size || a.size <= 0 {
			continue
		}
		if r := (b.x - a.ex) / a.size; r > 0.12 && r < maxWordGap {
			ratios = append(ratios, r)
		}
	}
	if len(ratios) < 8 {
		return 0.9
	}
	sort.Float64s(ratios)
	return math.Min(maxWordGap, math.Max(0.6, 3*ratios[len(ratios)/2]))
}

// xyCut orders fragments by recursive XY cuts: columns (vertical whitespace
// running the full height of the region) first, else bands split at the widest
// horizontal whitespace.
func xyCut(frags []fragment, pageWidth float64, depth int) [][]fragment {
	if len(frags) <= 1 || depth > 200 {
		return [][]fragment{frags}
	}
	if cols := splitColumns(frags, pageWidth); len(cols) > 1 {
		var out [][]fragment
		for _, c := range cols {
			out = append(out, xyCut(c, pageWidth, depth+1)...)
		}
		return out
	}
	bands := splitBands(frags)
	if len(bands) <= 1 {
		return [][]fragment{frags}
	}
	var out [][]fragment
	for _, b := range bands {
		out = append(out, xyCut(b, pageWidth, depth+1)...)
	}
	return out
}

// splitColumns splits frags at vertical gaps wide enough to be gutters, when each
// side is wide enough to be a column (narrow pieces are table cells, read by rows).
func splitColumns(frags []fragment, pageWidth float64) [][]fragment {
	sorted := append([]fragment{}, frags...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].x0 < sorted[j].x0 })
	sizes := make([]float64, len(frags))
	for i, f := range frags {
		sizes[i] = f.size
	}
	sort.Float64s(sizes)
	med := sizes[len(sizes)/2]
	minGap := math.Max(0.8*med, 4)
	minWidth := 0.18 * pageWidth
	var cols [][]fragment
	start, right := 0, sorted[0].x1
	for i := 1; i <= len(sorted); i++ {
		if i < len(sorted) && sorted[i].x0-right < minGap {
			right = math.Max(right, sorted[i].x1)
			continue
		}
		if i == len(sorted) && len(cols) == 0 {
			return nil
		}
		cols = append(cols, sorted[start:i])
		if i < len(sorted) {
			start, right = i, sorted[i].x1
		}
	}
	// Merge pieces too narrow to be columns into their left neighbour.
	var out [][]fragment
	for _, c := range cols {
		x0, x1 := math.Inf(1), math.Inf(-1)
		lines := map[int]bool{}
		for _, f := range c {
			x0, x1 = math.Min(x0, f.x0), math.Max(x1, f.x1)
			lines[int(f.y)] = true
		}
		if len(out) > 0 && (x1-x0 < minWidth || len(lines) < 2) {
			out[len(out)-1] = append(out[len(out)-1], c...)
			continue
		}
		out = append(out, append([]fragment{}, c...))
	}
	if len(out) > 1 {
		// The first piece may itself be narrow: fold it into the next.
		x0, x1 := math.Inf(1), math.Inf(-1)
		for _, f := range out[0] {
			x0, x1 = math.Min(x0, f.x0), math.Max(x1, f.x1)
		}
		if x1-x0 < minWidth {
			out[1] = append(out[0], out[1]...)
			out = out[1:]
		}
	}
	return out
}

// splitBands splits frags at the widest horizontal gaps (and those nearly as wide).
func splitBands(frags []fragment) [][]fragment {
	sorted := append([]fragment{}, frags...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].top() > sorted[j].top() })
	type gap struct {
		at   int
		size float64
	}
	var gaps []gap
	low := sorted[0].bottom()
	best := 0.0
	for i := 1; i < len(sorted); i++ {
		if g := low - sorted[i].top(); g > 0 {
			gaps = append(gaps, gap{i, g})
			best = math.Max(best, g)
		}
		low = math.Min(low, sorted[i].bottom())
	}
	if len(gaps) == 0 {
		return nil
	}
	var out [][]fragment
	start := 0
	for _, g := range gaps {
		if g.size >= 0.8*best {
			out = append(out, sorted[start:g.at])
			start = g.at
		}
	}
	return append(out, sorted[start:])
}

// joinLines turns a region's fragments into lines, top to bottom.
func joinLines(frags []fragment) []fragment {
	sort.SliceStable(frags, func(i, j int) bool {
		if math.Abs(frags[i].y-frags[j].y) > 0.35*math.Min(frags[i].size, frags[j].size) {
			return frags[i].y > frags[j].y
		}
		return frags[i].x0 < frags[j].x0
	})
	var lines []fragment
	for _, f := range frags {
		if n := len(lines); n > 0 && math.Abs(lines[n-1].y-f.y) <= 0.35*math.Min(lines[n-1].size, f.size) && f.x0 >= lines[n-1].x0 {
			l := &lines[n-1]
			l.text += " " + f.text
			l.x1 = math.Max(l.x1, f.x1)
			l.size = math.Max(l.size, f.size)
			continue
		}
		lines = append(lines, f)
	}
	return lines
}
