package pdf

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// paragraph is a set of lines read as one block.
type paragraph struct {
	text string
	size float64
	page int
	list bool
}

// paragraphsOf joins consecutive lines that follow each other with normal
// leading, in the same column and font size, into paragraphs.
func paragraphsOf(lines []fragment, page int) []paragraph {
	var out []paragraph
	var cur *paragraph
	var prev fragment
	for _, l := range lines {
		text := strings.TrimSpace(l.text)
		if text == "" {
			continue
		}
		if cur != nil {
			lead := prev.y - l.y
			sameSize := math.Abs(prev.size-l.size) <= 0.15*math.Max(prev.size, l.size)
			overlap := l.x0 <= prev.x1 && l.x1 >= prev.x0
			if sameSize && overlap && lead > 0 && lead <= 1.6*math.Max(prev.size, l.size) && !startsListItem(text) {
				cur.text = joinLineText(cur.text, text)
				prev = l
				continue
			}
			out = append(out, *cur)
		}
		cur = &paragraph{text: text, size: l.size, page: page, list: startsListItem(text)}
		prev = l
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// joinLineText joins two lines, undoing end-of-line hyphenation of a word.
func joinLineText(a, b string) string {
	if strings.HasSuffix(a, "-") && len(a) > 1 {
		last, _ := utf8.DecodeLastRuneInString(a[:len(a)-1])
		first, _ := utf8.DecodeRuneInString(b)
		if unicode.IsLetter(last) && unicode.IsLower(first) {
			return a[:len(a)-1] + b
		}
	}
	return a + " " + b
}

// startsListItem reports whether a line starts like a list item.
func startsListItem(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	switch r {
	case '•', '◦', '▪', '‣', '●', '○', '■', '□', '–', '➢', '✓', '\uf0b7':
		return true
	case '-', '*':
		return n < len(s) && s[n] == ' '
	}
	// "1." "2)" "a)" followed by a space.
	i := 0
	for i < len(s) && i < 3 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 && len(s) > 1 && s[0] >= 'a' && s[0] <= 'z' && s[1] == ')' {
		i = 1
	}
	return i > 0 && i+1 < len(s) && (s[i] == '.' || s[i] == ')') && s[i+1] == ' '
}

// headingLevels returns a classifier that calls a short paragraph set in a
// clearly larger font than the body text a heading, ranked by size.
func headingLevels(paras []paragraph) func(paragraph) int {
	weight := map[float64]int{}
	for _, p := range paras {
		weight[math.Round(p.size*2)/2] += len(p.text)
	}
	body, best := 0.0, -1
	for s, w := range weight {
		if w > best || (w == best && s < body) {
			body, best = s, w
		}
	}
	isHeading := func(p paragraph) bool {
		return body > 0 && p.size >= 1.15*body && len(p.text) <= 200 && !p.list
	}
	var sizes []float64
	seen := map[float64]bool{}
	for _, p := range paras {
		s := math.Round(p.size*2) / 2
		if isHeading(p) && !seen[s] {
			seen[s] = true
			sizes = append(sizes, s)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(sizes)))
	return func(p paragraph) int {
		if !isHeading(p) {
			return 0
		}
		s := math.Round(p.size*2) / 2
		for i, v := range sizes {
			if v == s {
				return min(i+1, 3)
			}
		}
		return 3
	}
}
