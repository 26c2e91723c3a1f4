package parse

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"path"
	"strings"
)

// maxSniffEntries bounds the central directory sniffZip is willing to read: detection
// runs before limits apply, so it must stay cheap on hostile archives.
const maxSniffEntries = 1 << 16

// ole2Magic starts every OLE2 compound file; an OOXML file encrypted with a password
// is such a file, not a ZIP.
const ole2Magic = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"

// zipArchive is a defensive view of a ZIP container. Every byte read from an entry
// is counted against the document's budget as it is inflated, because the sizes an
// archive declares are chosen by whoever made it.
type zipArchive struct {
	zr    *zip.Reader
	b     *budget
	files map[string]*zip.File
}

// openZip opens r as a ZIP archive within the limits of b. A password-encrypted
// OOXML file (an OLE2 container) is reported as CodeEncrypted.
func openZip(r io.ReaderAt, size int64, b *budget) (*zipArchive, error) {
	head := make([]byte, len(ole2Magic))
	if n, _ := r.ReadAt(head, 0); n == len(head) && string(head) == ole2Magic {
		return nil, Errorf(CodeEncrypted, "the document is encrypted with a password")
	}
	maxEntries := b.limits.MaxEntries
	n, dirSize, ok := zipDirectory(r, size)
	if ok && maxEntries > 0 && n > uint64(maxEntries) {
		return nil, Errorf(CodeTooLarge, "the archive has %d entries, more than the %d allowed", n, maxEntries)
	}
	// archive/zip holds the whole central directory: charge it before it is read,
	// from what the end record declares (a lie only makes the read fail).
	charged := int64(0)
	if ok {
		charged = int64(min(n, 1<<32))*costZipEntry + int64(min(dirSize, uint64(size)))*2
		if err := b.retain(charged, memParts); err != nil {
			return nil, err
		}
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &Error{Code: CodeCorrupt, Message: "the file is not a readable ZIP archive", Err: err}
	}
	if maxEntries > 0 && len(zr.File) > maxEntries {
		return nil, Errorf(CodeTooLarge, "the archive has %d entries, more than the %d allowed", len(zr.File), maxEntries)
	}
	if actual := int64(len(zr.File)) * (costZipEntry + costEntry); actual > charged {
		if err := b.retain(actual-charged, memParts); err != nil {
			return nil, err
		}
	}
	z := &zipArchive{zr: zr, b: b, files: make(map[string]*zip.File, len(zr.File))}
	for _, f := range zr.File {
		key := zipKey(f.Name)
		if _, dup := z.files[key]; !dup {
			z.files[key] = f
		}
	}
	return z, nil
}

// zipKey normalises a part name: OPC part names are case-insensitive, and some
// writers use backslashes or a leading slash.
func zipKey(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	return strings.ToLower(strings.TrimLeft(name, "/"))
}

// has reports whether the archive holds the named entry.
func (z *zipArchive) has(name string) bool {
	_, ok := z.files[zipKey(name)]
	return ok
}

// names lists the entries in archive order.
func (z *zipArchive) names() []string {
	out := make([]string, 0, len(z.zr.File))
	for _, f := range z.zr.File {
		out = append(out, f.Name)
	}
	return out
}

// open returns a reader over the inflated bytes of the named entry. Reading past the
// document's inflation budget, or far past the entry's declared size, fails with
// CodeTooLarge; a missing entry is an *Error with CodeCorrupt naming it.
func (z *zipArchive) open(name string) (io.ReadCloser, error) {
	f, ok := z.files[zipKey(name)]
	if !ok {
		return nil, Errorf(CodeCorrupt, "the archive has no part %q", name)
	}
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, &Error{Code: CodeCorrupt, Message: fmt.Sprintf("part %q cannot be read", name), Err: err}
	}
	var src io.ReadCloser
	switch f.Method {
	case zip.Store:
		src = io.NopCloser(raw)
	case zip.Deflate:
		src = flate.NewReader(raw)
	default:
		return nil, Errorf(CodeCorrupt, "part %q uses unsupported compression method %d", name, f.Method)
	}
	return &entryReader{src: src, b: z.b, name: name, declared: f.UncompressedSize64,
		crc: f.CRC32, hash: crc32.NewIEEE()}, nil
}

// entryReader counts inflated bytes as they are produced.
type entryReader struct {
	src      io.ReadCloser
	b        *budget
	name     string
	declared uint64
	read     uint64
	crc      uint32
	hash     hash.Hash32
}

func (e *entryReader) Read(p []byte) (int, error) {
	if err := e.b.check(); err != nil {
		return 0, err
	}
	n, err := e.src.Read(p)
	if n > 0 {
		e.read += uint64(n)
		e.hash.Write(p[:n])
		if e.read > bombBound(e.declared) {
			return 0, Errorf(CodeTooLarge, "part %q inflates far past its declared size of %d bytes (decompression bomb)", e.name, e.declared)
		}
		if berr := e.b.addInflated(n); berr != nil {
			return 0, berr
		}
	}
	if errors.Is(err, io.EOF) && e.crc != 0 && e.hash.Sum32() != e.crc && e.read == e.declared {
		return n, Errorf(CodeCorrupt, "part %q fails its checksum", e.name)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		var pe *Error
		if !errors.As(err, &pe) {
			err = &Error{Code: CodeCorrupt, Message: fmt.Sprintf("part %q is damaged", e.name), Err: err}
		}
	}
	return n, err
}

func (e *entryReader) Close() error { return e.src.Close() }

// bombBound is how far an entry may inflate past its declared size before we call
// it a bomb: a little slack tolerates sloppy writers, never a large factor.
func bombBound(declared uint64) uint64 {
	return declared + declared/8 + 64<<10
}

// costZipEntry is the heap archive/zip spends on one entry besides its name.
const costZipEntry = 512

// zipEntryCount reads the entry count from the end-of-central-directory record so an
// archive with millions of entries is refused before archive/zip allocates them.
func zipEntryCount(r io.ReaderAt, size int64) (uint64, bool) {
	n, _, ok := zipDirectory(r, size)
	return n, ok
}

// zipDirectory reads the entry count and the size of the central directory from
// the end-of-central-directory record (or its Zip64 version).
func zipDirectory(r io.ReaderAt, size int64) (entries, dirSize uint64, ok bool) {
	const eocdLen = 22
	if size < eocdLen {
		return 0, 0, false
	}
	tail := int64(eocdLen + 65535)
	if tail > size {
		tail = size
	}
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, false
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || i+eocdLen > len(buf) {
		return 0, 0, false
	}
	n := uint64(binary.LittleEndian.Uint16(buf[i+10:]))
	dir := uint64(binary.LittleEndian.Uint32(buf[i+12:]))
	if (n != 0xFFFF && dir != 0xFFFFFFFF) || i < 20 || !bytes.Equal(buf[i-20:i-16], []byte("PK\x06\x07")) {
		return n, dir, true
	}
	// Zip64: the locator points at the zip64 end record holding the real count.
	off := int64(binary.LittleEndian.Uint64(buf[i-20+8:]))
	rec := make([]byte, 48)
	if off < 0 || off > size-48 {
		return n, dir, true
	}
	if _, err := r.ReadAt(rec, off); err != nil || !bytes.Equal(rec[:4], []byte("PK\x06\x06")) {
		return n, dir, true
	}
	return binary.LittleEndian.Uint64(rec[32:]), binary.LittleEndian.Uint64(rec[40:]), true
}

// sniffZip inspects a ZIP container and reports which OOXML/ODF/EPUB format it is,
// or ok=false for any other ZIP.
func sniffZip(r io.ReaderAt, size int64) (f Format, ok bool) {
	defer func() {
		// archive/zip is robust, but detection must never take the process down.
		if recover() != nil {
			f, ok = "", false
		}
	}()
	if n, known := zipEntryCount(r, size); known && n > maxSniffEntries {
		return "", false
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return "", false
	}
	if len(zr.File) > maxSniffEntries {
		return "", false
	}
	names := make(map[string]*zip.File, len(zr.File))
	for _, zf := range zr.File {
		names[zipKey(zf.Name)] = zf
	}
	if mt, ok := names["mimetype"]; ok {
		switch strings.TrimSpace(string(sniffEntry(mt, 256))) {
		case "application/vnd.oasis.opendocument.text":
			return FormatODT, true
		case "application/epub+zip":
			return FormatEPUB, true
		}
	}
	if _, ok := names["[content_types].xml"]; ok {
		switch {
		case names["word/document.xml"] != nil:
			return FormatDOCX, true
		case names["ppt/presentation.xml"] != nil:
			return FormatPPTX, true
		case names["xl/workbook.xml"] != nil:
			return FormatXLSX, true
		}
	}
	return "", false
}

// sniffEntry reads at most max inflated bytes of an entry, ignoring errors: the
// caller only compares the prefix.
func sniffEntry(f *zip.File, max int64) []byte {
	rc, err := f.Open()
	if err != nil {
		return nil
	}
	defer rc.Close()
	data, _ := io.ReadAll(io.LimitReader(rc, max))
	return data
}

// zipResolve resolves a relationship target relative to the part that refers to it.
func zipResolve(fromPart, target string) string {
	target = strings.ReplaceAll(target, "\\", "/")
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/")
	}
	return strings.TrimPrefix(path.Clean(path.Join(path.Dir(fromPart), target)), "/")
}
