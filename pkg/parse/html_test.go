package parse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseHTMLStructure(t *testing.T) {
	t.Parallel()
	src := `<!doctype html><html><head><title> The  Title </title><style>p{color:red}</style>
<script>var secret = "script text";</script></head><body>
<header><a href="/">Home</a> <a href="/about">About</a></header>
<nav><a href="/x">Menu entry</a></nav>
<form action="/search"><input name="q"><button>Search</button></form>
<h2>Intro <small>part</small></h2>
<p>First <b>bold</b>
   paragraph.<br>Second line.</p>
<ol><li>one<ul><li>one.a</li></ul></li><li>two</li></ol>
<table><caption>Prices</caption><tr><th>Item</th><th>Price</th></tr>
<tr><td>Tea | green</td><td>3</td></tr><tr><td colspan="2">total 3</td></tr></table>
<pre>  code
    indented &lt;x&gt;</pre>
<div hidden>hidden text</div><div style="display: none">invisible</div>
<svg><text>svg text</text></svg><noscript>enable js</noscript><template>tpl</template>
<footer>Copyright footer</footer>
</body></html>`
	doc, err := parseString(t, FormatHTML, src)
	require.NoError(t, err)
	require.Equal(t, "The Title", doc.Title)
	require.Equal(t, []shapedBlock{
		{KindHeading, 2, "Intro part"},
		{KindParagraph, 0, "First bold paragraph.\nSecond line."},
		{KindListItem, 1, "one"},
		{KindListItem, 2, "one.a"},
		{KindListItem, 1, "two"},
		{KindParagraph, 0, "Prices"},
		{KindTable, 0, "| Item | Price |\n| --- | --- |\n| Tea \\| green | 3 |\n| total 3 |  |"},
		{KindCode, 0, "  code\n    indented <x>"},
	}, blockShapes(doc))
	all := docText(doc)
	for _, absent := range []string{"script text", "color:red", "Menu entry", "Home", "Search", "hidden text",
		"invisible", "svg text", "enable js", "tpl", "Copyright footer"} {
		require.NotContains(t, all, absent)
	}
}

func TestParseHTMLLayoutTableAndMain(t *testing.T) {
	t.Parallel()
	src := `<html><body><div class="menu"><a href="/">Site menu</a></div>
<main><table><tr><td><h1>Article</h1><p>Body text in a layout table.</p></td></tr></table>
<header><h3>Inner header kept</h3></header></main>
<aside>Sidebar links</aside></body></html>`
	doc, err := parseString(t, FormatHTML, src)
	require.NoError(t, err)
	require.Equal(t, "Article", doc.Title)
	require.Equal(t, []string{"Article", "Inner header kept"}, blockTexts(doc, KindHeading))
	require.Empty(t, blockTexts(doc, KindTable))
	all := docText(doc)
	require.Contains(t, all, "Body text in a layout table.")
	require.NotContains(t, all, "Site menu")
	require.NotContains(t, all, "Sidebar links")
}

func TestParseHTMLCharsets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src, want string
	}{
		{"meta charset", `<meta charset="windows-1251"><p>` + "\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"},
		{"http-equiv", `<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2"><p>` + "\xb1", "ą"},
		{"no declaration, invalid utf-8", "<p>caf\xe9</p>", "café"},
		{"declared utf-8 but latin-1", `<meta charset="utf-8"><p>caf` + "\xe9", "café"},
		{"utf-16 bom beats meta", "\xFF\xFE" + utf16le(`<meta charset="utf-8"><p>hé`), "hé"},
		{"bom-less utf-16", utf16le("<html><body><p>plain words here</p></body></html>"), "plain words here"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := parseString(t, FormatHTML, tc.src)
			require.NoError(t, err)
			require.Equal(t, tc.want, docText(doc)[:len(docText(doc))-1])
		})
	}
}

func TestParseHTMLDeepNesting(t *testing.T) {
	t.Parallel()
	// Deeper than the tree builder accepts: the tokenizer fallback reads it.
	src := strings.Repeat("<div>", 5000) + "deep text" + strings.Repeat("</div>", 5000)
	doc, err := parseString(t, FormatHTML, src)
	require.NoError(t, err)
	require.Contains(t, docText(doc), "deep text")
	// Deep but accepted by the tree builder: the walker flattens past its limit.
	src = strings.Repeat("<span>", 450) + "still here" + strings.Repeat("</span>", 450)
	doc, err = parseString(t, FormatHTML, src)
	require.NoError(t, err)
	require.Contains(t, docText(doc), "still here")
}

// TestParseHTMLTreeRules checks the HTML5 tree construction rules the tree
// builder keeps, because they decide where text lands; the expectations are
// what html.Parse made of these pages.
func TestParseHTMLTreeRules(t *testing.T) {
	t.Parallel()
	table := func(rows ...[]string) shapedBlock {
		return shapedBlock{KindTable, 0, renderTable(rows)}
	}
	cases := []struct {
		name, src string
		want      []shapedBlock
	}{
		{"text in a table shows before it", `<table>before<tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>after`,
			[]shapedBlock{{KindParagraph, 0, "before"}, table([]string{"a", "b"}, []string{"c", "d"}), {KindParagraph, 0, "after"}}},
		{"end tags left out", `<ul><li>one<li>two</ul><p>a<p>b<dl><dt>key<dd>value</dl>`,
			[]shapedBlock{{KindListItem, 1, "one"}, {KindListItem, 1, "two"}, {KindParagraph, 0, "a"},
				{KindParagraph, 0, "b"}, {KindParagraph, 0, "key"}, {KindParagraph, 0, "value"}}},
		{"formatting closed inside a block", `<b><p>x</b>y</p><i>z`,
			[]shapedBlock{{KindParagraph, 0, "xy"}, {KindParagraph, 0, "z"}}},
		{"stray end of paragraph", `text</p>more`, []shapedBlock{{KindParagraph, 0, "text"}, {KindParagraph, 0, "more"}}},
		{"cells without rows", `<table><td>1<td>2<tr><td>3<td>4</table>`, []shapedBlock{table([]string{"1", "2"}, []string{"3", "4"})}},
		{"select hides its options", `<p>a<select><option>hidden<option>also</select>shown</p>`, []shapedBlock{{KindParagraph, 0, "ashown"}}},
		{"html ends svg", `<svg><text>no</text><p>yes</p>`, []shapedBlock{{KindParagraph, 0, "yes"}}},
		{"heading ends heading", `<h1>a<h2>b</h2>c`, []shapedBlock{{KindHeading, 1, "a"}, {KindHeading, 2, "b"}, {KindParagraph, 0, "c"}}},
		{"noframes in the head", `<html><head><title>T</title><noframes>nf</noframes></head><body>body</body></html>`,
			[]shapedBlock{{KindParagraph, 0, "body"}}},
		{"table ends paragraph", `<!DOCTYPE html><p>intro<table><tr><th>h1</th><th>h2</th></tr><tr><td>v1</td><td>v2</td></tr></table>tail</p>`,
			[]shapedBlock{{KindParagraph, 0, "intro"}, table([]string{"h1", "h2"}, []string{"v1", "v2"}), {KindParagraph, 0, "tail"}}},
		{"nested form ignored", `<form><p>in form</p><form><p>nested</p></form></form>after`,
			[]shapedBlock{{KindParagraph, 0, "in form"}, {KindParagraph, 0, "nested"}, {KindParagraph, 0, "after"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := parseString(t, FormatHTML, tc.src)
			require.NoError(t, err)
			require.Equal(t, tc.want, blockShapes(doc))
		})
	}
}

// utf16le encodes ASCII/Latin-1 s as UTF-16LE without BOM.
func utf16le(s string) string {
	var sb strings.Builder
	for _, r := range s {
		sb.WriteByte(byte(r))
		sb.WriteByte(byte(r >> 8))
	}
	return sb.String()
}

func FuzzParseHTML(f *testing.F) {
	f.Add([]byte(`<html><head><title>t</title></head><body><h1>x</h1><ul><li>a</li></ul><table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table></body></html>`))
	f.Add([]byte(`<meta charset="shift_jis"><pre>a<br>b</pre><script>x</script>`))
	f.Add([]byte("\xFF\xFE<\x00p\x00>\x00"))
	f.Fuzz(func(t *testing.T, data []byte) { checkFuzzParse(t, FormatHTML, data) })
}
