package parse

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"strings"
)

// detectHeadBytes is how much of a file Detect reads to decide.
const detectHeadBytes = 8 << 10

// Detect decides the format of a file from its content and its name. It never trusts
// a client-declared content type. A file we cannot parse returns an *Error with
// CodeUnsupported whose message names the detected type (CodeEncrypted for a
// password-protected Office file). Empty files are text, so that Parse reports them
// as empty rather than unsupported.
//
// Magic bytes win over the name: a PDF named .txt is a PDF. The name decides
// among text formats (Markdown, CSV, HTML, mail) only when the content is text.
func Detect(r io.ReaderAt, size int64, filename string) (Format, error) {
	if size <= 0 {
		return FormatText, nil
	}
	head, err := readHead(r, size, detectHeadBytes)
	if err != nil {
		return "", fmt.Errorf("detect format: %w", err)
	}
	if len(head) == 0 {
		return FormatText, nil
	}
	ext := fileExt(filename)
	if f, err, ok := detectMagic(r, size, head, ext); ok {
		return f, err
	}
	if !looksLikeText(head) {
		return "", unsupported(binaryName(head, ext))
	}
	return detectText(head, ext)
}

// unsupported builds the error for a type we recognise but cannot parse.
func unsupported(name string) *Error {
	return Errorf(CodeUnsupported, "%s is not supported", name)
}

// fileExt returns the lower-case extension of the base name of filename, which
// may be a Windows path.
func fileExt(filename string) string {
	if i := strings.LastIndexAny(filename, `/\`); i >= 0 {
		filename = filename[i+1:]
	}
	return strings.ToLower(path.Ext(filename))
}

// detectMagic recognises formats by their signature. ok=false means no
// signature matched and the content should be examined as text.
func detectMagic(r io.ReaderAt, size int64, head []byte, ext string) (Format, error, bool) {
	has := func(prefix string) bool { return bytes.HasPrefix(head, []byte(prefix)) }
	switch {
	case bytes.Contains(head[:min(len(head), 1024)], []byte("%PDF-")):
		return FormatPDF, nil, true
	case has("PK\x03\x04") || has("PK\x05\x06") || has("PK\x07\x08"):
		if f, ok := sniffZip(r, size); ok {
			return f, nil, true
		}
		return "", zipError(ext), true
	case has("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"):
		return "", oleError(r, size, head, ext), true
	case bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n\xEF\xBB\xBF"), []byte(`{\rtf`)):
		return FormatRTF, nil, true
	case has("%!PS"):
		return "", unsupported("PostScript document"), true
	case has("\x89PNG\r\n\x1a\n"):
		return FormatPNG, nil, true
	case has("\xFF\xD8\xFF"):
		return FormatJPEG, nil, true
	case has("II*\x00") || has("MM\x00*"):
		return FormatTIFF, nil, true
	case has("RIFF") && len(head) >= 12 && string(head[8:12]) == "WEBP":
		return FormatWebP, nil, true
	}
	if name := binaryName(head, ext); name != "" && !looksLikeText(head) {
		return "", unsupported(name), true
	}
	return "", nil, false
}

// zipError names a ZIP file that is not one of our container formats.
func zipError(ext string) *Error {
	switch ext {
	case ".docx", ".xlsx", ".pptx", ".odt", ".epub", ".docm", ".xlsm", ".pptm":
		// The name promises a document but the archive lacks its parts: damaged.
		return Errorf(CodeCorrupt, "the file is named %s but is not a valid %s document (ZIP archive)", ext, strings.TrimPrefix(ext, "."))
	case ".ods", ".odp", ".odg", ".xps", ".oxps", ".key", ".pages", ".numbers", ".jar", ".apk", ".vsdx":
		return unsupported(fmt.Sprintf("ZIP-based %s file", ext))
	}
	return unsupported("ZIP archive")
}

// oleError names an OLE2 compound file from the names of its streams, which tell
// Word, Excel, PowerPoint, Outlook and encrypted OOXML apart; the extension is the
// fallback when the directory is not where the header says.
func oleError(r io.ReaderAt, size int64, head []byte, ext string) *Error {
	dir := oleDirectory(r, size, head)
	contains := func(name string) bool {
		var u16 []byte
		for _, c := range []byte(name) {
			u16 = append(u16, c, 0)
		}
		return bytes.Contains(dir, u16)
	}
	switch {
	case contains("EncryptedPackage"):
		return Errorf(CodeEncrypted, "the Office document is password-protected")
	case contains("WordDocument"):
		return unsupported("legacy Word .doc (OLE2)")
	case contains("Workbook") || contains("Book"):
		return unsupported("legacy Excel .xls (OLE2)")
	case contains("PowerPoint Document"):
		return unsupported("legacy PowerPoint .ppt (OLE2)")
	case contains("__substg1.0_") || contains("__properties_version1.0"):
		return unsupported("Outlook .msg message (OLE2)")
	}
	switch ext {
	case ".doc", ".dot":
		return unsupported("legacy Word .doc (OLE2)")
	case ".xls", ".xlt":
		return unsupported("legacy Excel .xls (OLE2)")
	case ".ppt", ".pps", ".pot":
		return unsupported("legacy PowerPoint .ppt (OLE2)")
	case ".msg":
		return unsupported("Outlook .msg message (OLE2)")
	case ".docx", ".xlsx", ".pptx":
		return Errorf(CodeEncrypted, "the Office document is password-protected")
	}
	return unsupported("password-protected or legacy Office file (OLE2)")
}

// oleDirectory reads the first sectors of an OLE2 directory: the stream names
// stored there (UTF-16) identify the application.
func oleDirectory(r io.ReaderAt, size int64, head []byte) []byte {
	if len(head) < 0x40 {
		return nil
	}
	shift := binary.LittleEndian.Uint16(head[0x1E:])
	if shift < 7 || shift > 16 {
		return nil
	}
	sector := int64(1) << shift
	off := (int64(binary.LittleEndian.Uint32(head[0x30:])) + 1) * sector
	if off <= 0 || off >= size {
		return nil
	}
	buf := make([]byte, min(size-off, 4*sector))
	n, _ := r.ReadAt(buf, off)
	return buf[:n]
}

// binaryName names well-known binary formats by signature, or by extension for
// binary content; "" when the content matches nothing we know.
func binaryName(head []byte, ext string) string {
	has := func(prefix string) bool { return bytes.HasPrefix(head, []byte(prefix)) }
	at := func(off int, s string) bool {
		return len(head) >= off+len(s) && string(head[off:off+len(s)]) == s
	}
	switch {
	case has("\x89PNG\r\n\x1a\n"):
		return "PNG image"
	case has("\xFF\xD8\xFF"):
		return "JPEG image"
	case has("GIF87a") || has("GIF89a"):
		return "GIF image"
	case has("II*\x00") || has("MM\x00*"):
		return "TIFF image"
	case has("RIFF") && at(8, "WEBP"):
		return "WebP image"
	case has("RIFF") && at(8, "WAVE"):
		return "WAV audio"
	case has("RIFF") && at(8, "AVI "):
		return "AVI video"
	case at(4, "ftyp"):
		return ftypName(head)
	case has("ID3") || (ext == ".mp3" && len(head) > 1 && head[0] == 0xFF && head[1]&0xE0 == 0xE0):
		return "MP3 audio"
	case has("OggS"):
		return "Ogg audio or video"
	case has("fLaC"):
		return "FLAC audio"
	case has("\x1A\x45\xDF\xA3"):
		return "Matroska or WebM video"
	case has("MThd"):
		return "MIDI audio"
	case has("8BPS"):
		return "Photoshop image"
	case has("BM") && len(head) > 14 && at(6, "\x00\x00\x00\x00"):
		return "BMP image"
	case has("\x00\x00\x01\x00") && ext == ".ico":
		return "icon image"
	case has("\x7FELF") || has("MZ") || has("\xFE\xED\xFA\xCE") || has("\xFE\xED\xFA\xCF") ||
		has("\xCE\xFA\xED\xFE") || has("\xCF\xFA\xED\xFE") || has("\xCA\xFE\xBA\xBE") || has("\x00asm"):
		return "executable"
	case has("\x1F\x8B"):
		return "gzip archive"
	case has("BZh"):
		return "bzip2 archive"
	case has("\xFD7zXZ\x00"):
		return "xz archive"
	case has("7z\xBC\xAF\x27\x1C"):
		return "7-Zip archive"
	case has("Rar!\x1A\x07"):
		return "RAR archive"
	case has("\x28\xB5\x2F\xFD"):
		return "Zstandard archive"
	case has("MSCF"):
		return "Windows cabinet archive"
	case at(257, "ustar"):
		return "tar archive"
	case has("SQLite format 3\x00"):
		return "SQLite database"
	case has("wOFF") || has("wOF2") || has("OTTO") || has("\x00\x01\x00\x00\x00"):
		return "font file"
	}
	switch ext {
	case ".doc", ".xls", ".ppt":
		return "legacy Office " + ext + " file"
	case ".mp3", ".wav", ".m4a", ".aac", ".flac", ".ogg", ".wma":
		return strings.ToUpper(ext[1:]) + " audio"
	case ".mp4", ".mov", ".avi", ".mkv", ".webm", ".wmv":
		return strings.ToUpper(ext[1:]) + " video"
	case ".exe", ".dll", ".so", ".dylib", ".bin":
		return "executable"
	case "":
		return "binary file"
	}
	return "binary " + ext + " file"
}

// ftypName names ISO media files (MP4 family, HEIF) by their major brand.
func ftypName(head []byte) string {
	brand := ""
	if len(head) >= 12 {
		brand = string(head[8:12])
	}
	switch brand {
	case "heic", "heix", "hevc", "heim", "heis", "mif1", "msf1":
		return "HEIC image"
	case "avif", "avis":
		return "AVIF image"
	case "M4A ", "M4B ":
		return "M4A audio"
	case "qt  ":
		return "QuickTime video"
	case "3gp4", "3gp5", "3gp6", "3g2a":
		return "3GP video"
	}
	return "MP4 video"
}

// detectText chooses among the text formats for content that decodes as text.
func detectText(head []byte, ext string) (Format, error) {
	switch ext {
	case ".md", ".markdown", ".mdown", ".mkd", ".mkdn":
		return FormatMarkdown, nil
	case ".csv", ".tsv", ".tab":
		return FormatCSV, nil
	case ".html", ".htm", ".xhtml", ".shtml":
		return FormatHTML, nil
	case ".eml", ".mht", ".mhtml":
		return FormatEML, nil
	case ".svg":
		return "", unsupported("SVG image")
	case ".ps", ".eps":
		return "", unsupported("PostScript document")
	}
	text := cleanText(sniffSampleEncoding(head).decode(head))
	explicitText := textExtension(ext)
	if !explicitText && looksLikeHTML(text) {
		// Covers extension-less pages and legacy ".doc"/".xls" exports that are HTML.
		return FormatHTML, nil
	}
	if !explicitText && looksLikeEmail(text) {
		return FormatEML, nil
	}
	switch {
	case explicitText || ext == "":
		return FormatText, nil
	case ext == ".doc" || ext == ".rtf" || ext == ".xls":
		// Text saved under a word-processor name is still worth reading.
		return FormatText, nil
	case ext == ".pdf" || ext == ".docx" || ext == ".xlsx" || ext == ".pptx" || ext == ".odt" || ext == ".epub":
		return "", Errorf(CodeUnsupported, "the file is named %s but its content is text, not a %s document", ext, strings.TrimPrefix(ext, "."))
	}
	return "", unsupported(fmt.Sprintf("text file of type %s", ext))
}

// textExtension reports extensions of files that are plain text to read as is:
// prose, data and configuration formats, subtitles, and source code.
func textExtension(ext string) bool {
	switch ext {
	case ".txt", ".text", ".log", ".xml", ".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".toml",
		".ini", ".cfg", ".conf", ".properties", ".rst", ".adoc", ".asciidoc", ".tex", ".org",
		".srt", ".vtt", ".nfo", ".me", ".1st", ".diff", ".patch", ".sql", ".ics", ".vcf",
		".go", ".py", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java", ".kt", ".c", ".h", ".cc",
		".cpp", ".hpp", ".cs", ".rs", ".rb", ".php", ".pl", ".sh", ".bash", ".ps1", ".bat",
		".css", ".scss", ".swift", ".scala", ".r", ".lua", ".dart", ".proto", ".graphql",
		".gradle", ".mk", ".tf", ".hcl":
		return true
	}
	return false
}

// looksLikeHTML reports markup at the start of text, after any XML declaration
// and comments: a doctype, or an html, head or body element.
func looksLikeHTML(text string) bool {
	s := strings.TrimSpace(text)
	for range 32 {
		switch {
		case strings.HasPrefix(s, "<?"):
			end := strings.Index(s, "?>")
			if end < 0 {
				return false
			}
			s = strings.TrimSpace(s[end+2:])
		case strings.HasPrefix(s, "<!--"):
			end := strings.Index(s, "-->")
			if end < 0 {
				return false
			}
			s = strings.TrimSpace(s[end+3:])
		default:
			low := strings.ToLower(s[:min(len(s), 16)])
			for _, p := range []string{"<!doctype html", "<html", "<head", "<body"} {
				if strings.HasPrefix(low, p) && (len(low) == len(p) || !isASCIILetter(low[len(p)])) {
					return true
				}
			}
			return false
		}
	}
	return false
}

// looksLikeEmail reports an RFC 822 header block at the start of text: only
// header lines up to the first blank line, at least two of them well-known
// message headers.
func looksLikeEmail(text string) bool {
	known, lines := 0, 0
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		lines++
		if lines == 1 && strings.HasPrefix(line, "From ") {
			continue // mbox separator
		}
		if line == "" {
			break
		}
		if lines > 64 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if lines == 1 {
				return false
			}
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return false
		}
		switch strings.ToLower(name) {
		case "from", "to", "cc", "subject", "date", "message-id", "mime-version", "received",
			"return-path", "delivered-to", "reply-to", "in-reply-to", "references", "sender":
			known++
		}
	}
	return known >= 2
}
