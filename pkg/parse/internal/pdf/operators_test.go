package pdf

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// helvetica is a resource dictionary with Helvetica as /F1. Without /Widths
// every glyph is half an em wide: at 10 points a character advances 5.
const helvetica = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >> >> >>"

// runContent interprets content with the given resources and returns the
// runs of text it placed.
func runContent(t *testing.T, d *doc, resources any, content string) []textRun {
	t.Helper()
	res, _ := resources.(dict)
	in := newInterpreter(d)
	require.NoError(t, in.run([]byte(content), res, graphicsState{ctm: identity(), th: 1}, 0))
	return in.runs
}

// place is a run reduced to what the tests compare, rounded to 1/100.
type place struct {
	text         string
	x, y, ex, sz float64
}

func places(runs []textRun) []place {
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	var out []place
	for _, r := range runs {
		out = append(out, place{r.text, round(r.x), round(r.y), round(r.ex), round(r.size)})
	}
	return out
}

func TestTextOperators(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content string
		want    []place
	}{
		{"Tj at the Td position", "BT /F1 10 Tf 72 700 Td (Hi) Tj ET",
			[]place{{"Hi", 72, 700, 82, 10}}},
		{"Td moves from the start of the line, not the end of the text", "BT /F1 10 Tf 72 700 Td (abc) Tj 0 -12 Td (d) Tj ET",
			[]place{{"abc", 72, 700, 87, 10}, {"d", 72, 688, 77, 10}}},
		{"TD sets the leading T* then uses", "BT /F1 10 Tf 72 700 Td 0 -14 TD (a) Tj T* (b) Tj ET",
			[]place{{"a", 72, 686, 77, 10}, {"b", 72, 672, 77, 10}}},
		{"TL and T*", "BT /F1 10 Tf 12 TL 72 700 Td (a) Tj T* (b) Tj ET",
			[]place{{"a", 72, 700, 77, 10}, {"b", 72, 688, 77, 10}}},
		{"Tm places the line and scales the text", "BT /F1 10 Tf 2 0 0 2 100 200 Tm (a) Tj ET",
			[]place{{"a", 100, 200, 110, 20}}},
		{"Tm is absolute, Td after it relative", "BT /F1 10 Tf 1 0 0 1 300 300 Tm 72 700 Td 1 0 0 1 50 60 Tm 10 0 Td (a) Tj ET",
			[]place{{"a", 60, 60, 65, 10}}},
		{"' is T* then Tj", "BT /F1 10 Tf 12 TL 72 700 Td (a) Tj (b) ' ET",
			[]place{{"a", 72, 700, 77, 10}, {"b", 72, 688, 77, 10}}},
		{"\" sets word and character spacing first", "BT /F1 10 Tf 12 TL 72 700 Td 3 1 (a b) \" ET",
			// a: 5 + 1; the space: 5 + 1 + 3, wide enough to cut the run.
			[]place{{"a", 72, 688, 78, 10}, {"b", 87, 688, 93, 10}}},
		{"TJ numbers move the next string back in thousandths of the size", "BT /F1 10 Tf 72 700 Td [(ab) -1000 (cd) 500 (e)] TJ ET",
			[]place{{"ab", 72, 700, 82, 10}, {"cd", 92, 700, 102, 10}, {"e", 97, 700, 102, 10}}},
		{"BT starts text at the origin again", "BT /F1 10 Tf 72 700 Td (a) Tj ET BT (b) Tj ET",
			[]place{{"a", 72, 700, 77, 10}, {"b", 0, 0, 5, 10}}},
		{"Tc and Tw widen characters and spaces", "BT /F1 10 Tf 0.5 Tc 1 Tw 72 700 Td (ab c) Tj ET",
			[]place{{"ab c", 72, 700, 95, 10}}},
		// poppler's word break: a gap past a tenth of the font size.
		{"character spacing past a tenth of the size sets glyphs apart", "BT /F1 10 Tf 2 Tc 72 700 Td (ab) Tj ET",
			[]place{{"a", 72, 700, 79, 10}, {"b", 79, 700, 86, 10}}},
		{"Tz scales horizontally", "BT /F1 10 Tf 50 Tz 72 700 Td (ab) Tj ET",
			[]place{{"ab", 72, 700, 77, 10}}},
		{"Ts raises text off the baseline", "BT /F1 10 Tf 3 Ts 72 700 Td (a) Tj ET",
			[]place{{"a", 72, 703, 77, 10}}},
		{"cm applies to text", "1 0 0 1 100 50 cm BT /F1 10 Tf 72 700 Td (a) Tj ET",
			[]place{{"a", 172, 750, 177, 10}}},
		{"Q restores the matrix and the font q saved", "BT /F1 10 Tf ET q 1 0 0 1 100 0 cm BT /F1 20 Tf (a) Tj ET Q BT (b) Tj ET",
			[]place{{"a", 100, 0, 110, 20}, {"b", 0, 0, 5, 10}}},
		{"a Q without q is ignored", "Q Q BT /F1 10 Tf (a) Tj ET",
			[]place{{"a", 0, 0, 5, 10}}},
		{"no text before a font is set", "BT 72 700 Td (lost) Tj /F1 10 Tf (kept) Tj ET",
			[]place{{"kept", 72, 700, 92, 10}}},
		{"an unknown font shows nothing", "BT /F9 10 Tf (lost) Tj ET", nil},
		{"operators short of operands are skipped", "BT /F1 10 Tf 72 700 Td 5 Tm 1 2 cm (a) Tj ET",
			[]place{{"a", 72, 700, 77, 10}}},
		{"operands of other operators are dropped", "BT /F1 10 Tf 1 0 0 rg 0 0 10 10 re f 72 700 Td (a) Tj ET",
			[]place{{"a", 72, 700, 77, 10}}},
		{"inline image data is skipped", "BT /F1 10 Tf 72 700 Td (a) Tj ET BI /W 4 /H 1 /BPC 8 /CS /G ID 1EIx BT /F1 10 Tf (bad) Tj ET\nEI BT /F1 10 Tf 72 600 Td (b) Tj ET",
			[]place{{"a", 72, 700, 77, 10}, {"b", 72, 600, 77, 10}}},
		{"an image that never ends ends the stream", "BT /F1 10 Tf (a) Tj ET BI /W 1 ID (bad) Tj", []place{{"a", 0, 0, 5, 10}}},
		{"syntax errors lose the operands, not the stream", "BT /F1 10 Tf 72 700 Td ) (a) Tj ET",
			[]place{{"a", 72, 700, 77, 10}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDoc(nil)
			require.Equal(t, tc.want, places(runContent(t, d, parseObject(t, helvetica), tc.content)))
		})
	}
}

// TestKerningBecomesSpace: a TJ gap wider than a word space reads as one,
// a kerning adjustment does not.
func TestKerningBecomesSpace(t *testing.T) {
	t.Parallel()
	for content, want := range map[string]string{
		"BT /F1 10 Tf 72 700 Td [(kerned) -250 (words)] TJ ET": "kerned words",
		"BT /F1 10 Tf 72 700 Td [(ker) -50 (ning)] TJ ET":      "kerning",
		"BT /F1 10 Tf 72 700 Td [(tight) 80 (er)] TJ ET":       "tighter",
	} {
		runs := runContent(t, newTestDoc(nil), parseObject(t, helvetica), content)
		lines := pageLines(runs)
		require.Len(t, lines, 1, content)
		require.Equal(t, want, lines[0].text, content)
	}
}

// TestFormXObjects: Do draws a form's content with its matrix, and a form
// that draws itself is drawn once.
func TestFormXObjects(t *testing.T) {
	t.Parallel()
	d := newTestDoc(nil)
	res := parseObject(t, helvetica).(dict)
	form := &stream{dict: dict{"Subtype": name("Form"), "Matrix": array{int64(1), int64(0), int64(0), int64(1), int64(50), int64(60)}},
		raw: []byte("BT /F1 10 Tf (form) Tj ET /Self Do")}
	d.cache[9] = form
	res["XObject"] = dict{"Fm": form, "Self": ref{num: 9}, "Img": &stream{dict: dict{"Subtype": name("Image")}, raw: []byte("BT (no) Tj ET")}}
	got := places(runContent(t, d, res, "/Img Do /Fm Do BT /F1 10 Tf 72 700 Td (page) Tj ET"))
	require.Equal(t, []place{
		{"form", 50, 60, 70, 10},    // Fm
		{"form", 100, 120, 120, 10}, // Fm draws Self, which draws itself no more
		{"page", 72, 700, 92, 10},
	}, got)
}
