package retrievalbench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeText(t *testing.T) {
	t.Parallel()
	utf16le := func(s string, bom bool) []byte {
		var b []byte
		if bom {
			b = append(b, 0xFF, 0xFE)
		}
		for _, r := range s {
			b = append(b, byte(r), byte(r>>8))
		}
		return b
	}
	utf16be := []byte{0xFE, 0xFF, 0, 'H', 0, 'i', 0, '!'}
	utf32le := []byte{0xFF, 0xFE, 0, 0, 'O', 0, 0, 0, 'k', 0, 0, 0}
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"utf-8":             {[]byte("Grüße"), "Grüße"},
		"utf-8 with BOM":    {append([]byte{0xEF, 0xBB, 0xBF}, "Grüße"...), "Grüße"},
		"utf-16le with BOM": {utf16le("I love fuzzy blankets", true), "I love fuzzy blankets"},
		"utf-16le, no BOM":  {utf16le("This is a test document", false), "This is a test document"},
		"utf-16be with BOM": {utf16be, "Hi!"},
		"utf-32le with BOM": {utf32le, "Ok"},
		"windows-1252":      {[]byte("## k\xf6nnen \x80"), "## können €"},
	} {
		require.Equal(t, tc.want, decodeText(tc.in), name)
	}
}

func TestHTMLText(t *testing.T) {
	t.Parallel()
	page := `<!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style>
<SCRIPT>var s = "<p>not text</p>";</SCRIPT></head>
<body><h1>Hel<b>lo</b></h1><p>fish &amp; chips</p><!-- a <p>comment</p> --><p>a < b</p><div>x</div>y</body></html>`
	got := strings.Join(words(tokenize(htmlText(page))), " ")
	require.Equal(t, "T Hello fish chips a b x y", got)
	require.Contains(t, htmlText(page), "fish & chips")
	require.NotContains(t, htmlText(page), "color")
}

func TestListCorpus(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	for dir, names := range map[string][]string{a: {"z.txt", "m.md", ".hidden"}, b: {"m.md", "c.csv"}} {
		for _, n := range names {
			require.NoError(t, writeFile(dir, n, "text"))
		}
	}
	files, dupes, err := listCorpus([]string{a, b})
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.name)
	}
	require.Equal(t, []string{"c.csv", "m.md", "z.txt"}, names)
	require.Len(t, dupes, 1, "a second m.md is skipped: names identify documents")
	require.True(t, strings.HasPrefix(files[1].path, a))
}

func writeFile(dir, name, text string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600)
}
