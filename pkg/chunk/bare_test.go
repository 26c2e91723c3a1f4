package chunk

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/parse"
)

// A presentation whose two slides hold only their titles has text, so it
// chunks: it once failed as holding "no text to index".
func TestSplitTitleOnlyPresentation(t *testing.T) {
	t.Parallel()
	const rels = `http://schemas.openxmlformats.org/officeDocument/2006/relationships`
	slide := func(title string) string {
		return `<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr>` +
			`<p:txBody><a:p><a:r><a:t>` + title + `</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>`
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, part := range [][2]string{
		{"[Content_Types].xml", `<Types/>`},
		{"_rels/.rels", `<Relationships><Relationship Id="r1" Type="` + rels + `/officeDocument" Target="ppt/presentation.xml"/></Relationships>`},
		{"ppt/presentation.xml", `<p:presentation xmlns:p="p" xmlns:r="` + rels + `"><p:sldIdLst><p:sldId r:id="s1"/><p:sldId r:id="s2"/></p:sldIdLst></p:presentation>`},
		{"ppt/_rels/presentation.xml.rels", `<Relationships><Relationship Id="s1" Type="` + rels + `/slide" Target="slides/slide1.xml"/><Relationship Id="s2" Type="` + rels + `/slide" Target="slides/slide2.xml"/></Relationships>`},
		{"ppt/slides/slide1.xml", slide("Page 1")},
		{"ppt/slides/slide2.xml", slide("Page 2")},
	} {
		w, err := zw.Create(part[0])
		require.NoError(t, err)
		_, err = w.Write([]byte(part[1]))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	doc, err := parse.Parse(context.Background(), parse.FormatPPTX, bytes.NewReader(buf.Bytes()), int64(buf.Len()), parse.DefaultLimits())
	require.NoError(t, err)
	chunks, err := Split(doc, Options{})
	require.NoError(t, err)
	var texts []string
	for _, c := range chunks {
		texts = append(texts, c.Text)
	}
	require.Equal(t, []string{"Slide 1: Page 1", "Slide 2: Page 2"}, texts)
	require.Equal(t, 2, chunks[1].Page)
}
