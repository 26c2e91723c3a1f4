package parse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/youworker/youworker/pkg/corpustest"

	"github.com/stretchr/testify/require"
)

// detectFile runs Detect on a corpus file under the given name.
func detectFile(t *testing.T, path, name string) (Format, error) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	return Detect(f, st.Size(), name)
}

// requireCode asserts err is an *Error with the code whose message contains msg.
func requireCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	require.Error(t, err)
	var pe *Error
	require.True(t, errors.As(err, &pe), "want *Error, got %T: %v", err, err)
	require.Equal(t, code, pe.Code, "error: %v", err)
	require.Contains(t, pe.Message, msg)
}

func TestDetectCorpus(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	type want struct {
		format Format
		code   string // error code when the file is refused
		msg    string // part of the error message
	}
	byExt := map[string]want{
		".pdf": {format: FormatPDF}, ".docx": {format: FormatDOCX}, ".pptx": {format: FormatPPTX},
		".xlsx": {format: FormatXLSX}, ".odt": {format: FormatODT}, ".epub": {format: FormatEPUB},
		".txt": {format: FormatText}, ".xml": {format: FormatText}, ".md": {format: FormatMarkdown},
		".csv": {format: FormatCSV}, ".tsv": {format: FormatCSV}, ".html": {format: FormatHTML},
		".htm": {format: FormatHTML}, ".eml": {format: FormatEML}, ".rtf": {format: FormatRTF},
		".zip": {code: CodeUnsupported, msg: "ZIP archive"},
		".doc": {code: CodeUnsupported, msg: "legacy Word .doc (OLE2)"},
		".ppt": {code: CodeUnsupported, msg: "legacy PowerPoint .ppt (OLE2)"},
		".xls": {code: CodeUnsupported, msg: "legacy Excel .xls (OLE2)"},
	}
	byName := map[string]want{
		"password_protected.xlsx": {code: CodeEncrypted, msg: "password-protected"},
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		w, ok := byName[name]
		if !ok {
			w, ok = byExt[strings.ToLower(filepath.Ext(name))]
		}
		require.True(t, ok, "no expectation for corpus file %s: add one", name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := detectFile(t, filepath.Join(dir, name), name)
			if w.code != "" {
				requireCode(t, err, w.code, w.msg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, w.format, got)
		})
	}
}

// TestDetectCorpusContentWins renames corpus files: the content decides, the name
// only chooses among text formats.
func TestDetectCorpusContentWins(t *testing.T) {
	t.Parallel()
	dir := corpustest.Dir(t)
	cases := []struct {
		file, name string
		want       Format
		code, msg  string
	}{
		{file: "fake-html.html", name: "", want: FormatHTML},
		{file: "example-10k-1p.html", name: "filing", want: FormatHTML},
		{file: "example-steelJIS-datasheet-utf-16.html", name: "page", want: FormatHTML},
		{file: "family-day.eml", name: "message", want: FormatEML},
		{file: "fake-doc.rtf", name: "notes.txt", want: FormatRTF},
		{file: "fake-memo.pdf", name: "memo.txt", want: FormatPDF},
		{file: "fake-text-utf-16-le.txt", name: "", want: FormatText},
		{file: "fake-html.html", name: "page.txt", want: FormatText},
		{file: "fake.doc", name: "report.docx", code: CodeUnsupported, msg: "legacy Word .doc"},
		{file: "tests-example.xls", name: "data", code: CodeUnsupported, msg: "legacy Excel .xls"},
		{file: "fake-text.txt", name: "report.pdf", code: CodeUnsupported, msg: ".pdf"},
		{file: "fake-text.txt", name: "tool.xyz", code: CodeUnsupported, msg: ".xyz"},
	}
	for _, tc := range cases {
		t.Run(tc.file+"->"+tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := detectFile(t, filepath.Join(dir, tc.file), tc.name)
			if tc.code != "" {
				requireCode(t, err, tc.code, tc.msg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDetectSignatures(t *testing.T) {
	t.Parallel()
	pad := func(head string) []byte { return append([]byte(head), bytes.Repeat([]byte{0, 1, 2, 0xFF}, 64)...) }
	cases := []struct {
		name    string
		content []byte
		file    string
		want    Format
		msg     string
	}{
		{"empty", nil, "x.bin", FormatText, ""},
		{"pdf after junk", append(bytes.Repeat([]byte{'\n'}, 100), "%PDF-1.7\n"...), "a", FormatPDF, ""},
		{"rtf with BOM", []byte("\xEF\xBB\xBF{\\rtf1 hi}"), "", FormatRTF, ""},
		{"png", pad("\x89PNG\r\n\x1a\n"), "a.png", FormatPNG, ""},
		{"jpeg", pad("\xFF\xD8\xFF\xE0"), "a.jpg", FormatJPEG, ""},
		{"tiff", pad("MM\x00*"), "fax", FormatTIFF, ""},
		{"webp", pad("RIFF\x00\x00\x00\x00WEBPVP8L"), "a.webp", FormatWebP, ""},
		{"gif", pad("GIF89a"), "a.gif", "", "GIF image"},
		{"mp3", pad("ID3\x04\x00"), "a.mp3", "", "MP3 audio"},
		{"mp4", pad("\x00\x00\x00\x18ftypisom"), "a.mp4", "", "MP4 video"},
		{"heic", pad("\x00\x00\x00\x18ftypheic"), "a.heic", "", "HEIC image"},
		{"elf", pad("\x7FELF\x02\x01"), "tool", "", "executable"},
		{"pe", pad("MZ\x90\x00"), "setup.exe", "", "executable"},
		{"gzip", pad("\x1F\x8B\x08"), "a.gz", "", "gzip archive"},
		{"zip", []byte("PK\x05\x06" + strings.Repeat("\x00", 18)), "a.zip", "", "ZIP archive"},
		{"ole2 no directory", pad("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), "old.doc", "", "legacy Word .doc (OLE2)"},
		{"ole2 unknown", pad("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), "blob", "", "password-protected or legacy Office file (OLE2)"},
		{"random binary", pad("\x01\x02\x03"), "data.dat", "", "binary .dat file"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), "logo.svg", "", "SVG image"},
		{"html sniffed", []byte("<?xml version=\"1.0\"?>\n<!-- c -->\n<!DOCTYPE html><p>x"), "", FormatHTML, ""},
		{"html body", []byte("  <BODY>hello</BODY>"), "", FormatHTML, ""},
		{"not html", []byte("<htmlish>"), "", FormatText, ""},
		{"mail", []byte("Received: by x\r\nFrom: a@b\r\nSubject: hi\r\n\r\nbody"), "", FormatEML, ""},
		{"mbox mail", []byte("From a@b Mon Jan 1\nFrom: a@b\nTo: c@d\n\nbody"), "", FormatEML, ""},
		{"mail-like text", []byte("Note: this is text\nwith a colon line\n"), "", FormatText, ""},
		{"markdown", []byte("# Title\n"), "README.md", FormatMarkdown, ""},
		{"tsv", []byte("a\tb\n1\t2\n"), "x.TSV", FormatCSV, ""},
		{"csv utf16", []byte("\xFF\xFEa\x00,\x00b\x00"), "x.csv", FormatCSV, ""},
		{"latin-1 text", []byte("K\xf6nnen M\xe4dchen \xfcberall?\n"), "notes.txt", FormatText, ""},
		{"utf-32 text", []byte("\xFF\xFE\x00\x00h\x00\x00\x00i\x00\x00\x00"), "", FormatText, ""},
		{"windows path", []byte("# x"), `C:\docs\Notes.MD`, FormatMarkdown, ""},
		{"source code", []byte("package main\n"), "main.go", FormatText, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Detect(bytes.NewReader(tc.content), int64(len(tc.content)), tc.file)
			if tc.msg != "" {
				requireCode(t, err, CodeUnsupported, tc.msg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// FuzzDetect checks that Detect never panics and that every refusal is an *Error
// with a stable code.
func FuzzDetect(f *testing.F) {
	f.Add([]byte("%PDF-1.4\n"), "a.pdf")
	f.Add([]byte("PK\x03\x04\x14\x00"), "a.docx")
	f.Add([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), "a.doc")
	f.Add([]byte("<!doctype html><title>x</title>"), "")
	f.Add([]byte("From: a@b\nSubject: x\n\nhi"), "")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		format, err := Detect(bytes.NewReader(data), int64(len(data)), name)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Detect returned %T, want *Error: %v", err, err)
			}
			if pe.Code != CodeUnsupported && pe.Code != CodeEncrypted && pe.Code != CodeCorrupt {
				t.Fatalf("unexpected code %q", pe.Code)
			}
			return
		}
		if _, ok := parsers[format]; !ok {
			t.Fatalf("Detect returned unsupported format %q", format)
		}
	})
}
