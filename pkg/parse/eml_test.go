package parse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEMLMultipart(t *testing.T) {
	t.Parallel()
	src := strings.Join([]string{
		"From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.com>",
		"To: a@example.com, b@example.com",
		"Cc: c@example.com",
		"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Bern",
		"Date: Mon, 2 Jan 2023 10:00:00 +0100",
		"MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="outer"`,
		"",
		"--outer",
		`Content-Type: multipart/alternative; boundary="inner"`,
		"",
		"--inner",
		"Content-Type: text/plain; charset=iso-8859-1",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"Hallo Z=FCrich,=",
		" soft break.",
		"",
		"Second paragraph.",
		"--inner",
		"Content-Type: text/html; charset=utf-8",
		"",
		"<p>HTML version should not be used</p>",
		"--inner--",
		"--outer",
		`Content-Type: application/pdf; name="report.pdf"`,
		"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
		"Content-Transfer-Encoding: base64",
		"",
		"JVBERi0xLjQK",
		"--outer",
		`Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name="b.xlsx"`,
		"",
		"xx",
		"--outer",
		"Content-Type: message/rfc822",
		"",
		"From: inner@example.com",
		"Subject: Forwarded",
		"",
		"Inner body text.",
		"--outer--",
		"",
	}, "\r\n")
	doc, err := parseString(t, FormatEML, src)
	require.NoError(t, err)
	require.Equal(t, "Grüße aus Bern", doc.Title)
	texts := blockTexts(doc, KindParagraph)
	require.Equal(t, []string{
		"From: Jürgen <j@example.com>\nTo: a@example.com, b@example.com\nCc: c@example.com\nDate: Mon, 2 Jan 2023 10:00:00 +0100\nSubject: Grüße aus Bern",
		"Hallo Zürich, soft break.",
		"Second paragraph.",
		"Attachments: résumé.pdf, b.xlsx",
		"From: inner@example.com\nSubject: Forwarded",
		"Inner body text.",
	}, texts)
}

func TestParseEMLHTMLOnlyBase64(t *testing.T) {
	t.Parallel()
	// "<h1>Hi</h1><p>Body <script>x()</script>text</p>" in base64, split over lines.
	src := "From: a@b\r\nSubject: html\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"PGgxPkhpPC9oMT48cD5Cb2R5IDxzY3JpcHQ+eCgpPC9zY3Jp\r\ncHQ+dGV4dDwvcD4=\r\n"
	doc, err := parseString(t, FormatEML, src)
	require.NoError(t, err)
	require.Equal(t, []string{"Hi"}, blockTexts(doc, KindHeading))
	require.Contains(t, docText(doc), "Body text")
	require.NotContains(t, docText(doc), "x()")
}

func TestParseEMLDeepNestingBounded(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	sb.WriteString("From: a@b\nSubject: deep\n")
	for i := range 50 {
		sb.WriteString("Content-Type: multipart/mixed; boundary=\"b" + strings.Repeat("x", i) + "\"\n\n--b" + strings.Repeat("x", i) + "\n")
	}
	sb.WriteString("Content-Type: text/plain\n\ntoo deep to read\n")
	doc, err := parseString(t, FormatEML, sb.String())
	require.NoError(t, err)
	require.Contains(t, docText(doc), "Subject: deep")
	require.NotContains(t, docText(doc), "too deep to read")
}

func TestParseEMLCorrupt(t *testing.T) {
	t.Parallel()
	_, err := parseString(t, FormatEML, "this is not\na mail header\n")
	require.Equal(t, CodeCorrupt, CodeOf(err))
}

func FuzzParseEML(f *testing.F) {
	f.Add([]byte("From: a@b\nSubject: s\n\nbody\n"))
	f.Add([]byte("Subject: =?utf-8?q?x?=\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n"))
	f.Add([]byte("From: a@b\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n8fPU\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkFuzzParse(t, FormatEML, data) })
}

// Malformed header lines are repaired rather than failing the message: a line
// without a colon continues the field before it, a space before the colon is
// dropped, and lines that cannot be a field are skipped.
func TestParseEMLRepairsMalformedHeader(t *testing.T) {
	t.Parallel()
	src := strings.Join([]string{
		"  folded line before any field",
		"From: Jürgen <j@example.com>",
		"Subject: Quarterly report on the",
		"new office in Bern",
		"To : a@example.com",
		": a value without a name",
		"Bad Name: a name with a space",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"The body survives.",
	}, "\r\n")
	doc, err := parseString(t, FormatEML, src)
	require.NoError(t, err)
	require.Equal(t, "Quarterly report on the new office in Bern", doc.Title)
	require.Equal(t, []shapedBlock{
		{KindParagraph, 0, "From: Jürgen <j@example.com>\nTo: a@example.com\nSubject: Quarterly report on the new office in Bern"},
		{KindParagraph, 0, "The body survives."},
	}, blockShapes(doc))
	require.NotContains(t, docText(doc), "a value without a name")
	require.NotContains(t, docText(doc), "a name with a space")
}

// A message that ends inside its header block keeps its header.
func TestParseEMLHeaderOnly(t *testing.T) {
	t.Parallel()
	doc, err := parseString(t, FormatEML, "From: a@example.com\nSubject: Only a header")
	require.NoError(t, err)
	require.Equal(t, "Only a header", doc.Title)
	require.Equal(t, []string{"From: a@example.com\nSubject: Only a header"}, blockTexts(doc, KindParagraph))
}
