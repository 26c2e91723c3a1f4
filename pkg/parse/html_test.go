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
