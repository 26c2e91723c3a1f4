package parse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

const (
	// maxMIMEDepth bounds nested multiparts and attached messages.
	maxMIMEDepth = 8
	// maxMIMEParts bounds the parts of one message, all levels together.
	maxMIMEParts = 1000
	// emlMaxHeader bounds the header block of a message, which is read whole.
	emlMaxHeader = 1 << 20
)

// parseEML reads an RFC 822 / MIME message: a header block (From, To, Cc, Date,
// Subject), the body (text/plain preferred over HTML), attached messages, and the
// names of attachments. The message is streamed; only the text parts that may be
// read and attached messages are held, and charged, until they are.
func parseEML(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	p := &emlParser{s: newSink(b), dec: newWordDecoder()}
	defer func() { b.release(p.held) }()
	title, err := p.message(io.NewSectionReader(r, 0, max(size, 0)), 0)
	if err != nil {
		return nil, err
	}
	return &Document{Title: title, Blocks: p.s.blocks}, nil
}

// emlParser walks one message and the messages attached to it.
type emlParser struct {
	s     *sink
	dec   *mime.WordDecoder
	parts int
	// held is what the bodies kept for reading are charged.
	held int64
}

// mimeLeaf is one non-multipart part of a message.
type mimeLeaf struct {
	mediaType string
	charset   string
	// body is kept for the text parts only: attachments are named, not read.
	body     []byte
	filename string
	// attachment is set for parts the sender attached rather than wrote.
	attachment bool
}

// message adds the blocks of one message and returns its subject.
func (p *emlParser) message(src io.Reader, depth int) (string, error) {
	guard := &headerGuard{r: src, left: emlMaxHeader}
	br := bufio.NewReader(guard)
	skipMessageLead(br)
	header, err := readMailHeader(br)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return "", pe
		}
		return "", &Error{Code: CodeCorrupt, Message: "the message headers could not be read", Err: err}
	}
	guard.left = -1
	msg := &mail.Message{Header: mail.Header(header), Body: br}
	var head []string
	for _, key := range []string{"From", "To", "Cc", "Date", "Subject"} {
		if v := p.header(msg.Header.Get(key)); v != "" {
			head = append(head, key+": "+v)
		}
	}
	subject := p.header(msg.Header.Get("Subject"))
	if err := p.s.paragraph(strings.Join(head, "\n")); err != nil {
		return "", err
	}
	var leaves []mimeLeaf
	var attached [][]byte
	if err := p.part(textproto.MIMEHeader(msg.Header), msg.Body, depth, &leaves, &attached); err != nil {
		return "", err
	}
	if err := p.body(leaves); err != nil {
		return "", err
	}
	var names []string
	for _, l := range leaves {
		if l.attachment {
			names = append(names, l.filename)
		}
	}
	if len(names) > 0 {
		if err := p.s.paragraph("Attachments: " + strings.Join(names, ", ")); err != nil {
			return "", err
		}
	}
	for _, m := range attached {
		if _, err := p.message(bytes.NewReader(m), depth+1); err != nil && CodeOf(err) != CodeCorrupt {
			return "", err
		}
	}
	return subject, nil
}

// skipMessageLead drops white space and byte order marks before the headers, and
// the mbox separator line that precedes the headers of messages saved from Unix
// mail.
func skipMessageLead(br *bufio.Reader) {
	for {
		head, _ := br.Peek(3)
		switch {
		case bytes.HasPrefix(head, []byte("\uFEFF")):
			br.Discard(3)
		case len(head) > 0 && strings.IndexByte("\r\n\t ", head[0]) >= 0:
			br.Discard(1)
		default:
			if head, _ := br.Peek(5); string(head) == "From " {
				for {
					if _, err := br.ReadSlice('\n'); !errors.Is(err, bufio.ErrBufferFull) {
						break
					}
				}
			}
			return
		}
	}
}

// headerGuard fails a read once a message's header block passes its bound; left
// is negative once the headers were read.
type headerGuard struct {
	r    io.Reader
	left int64
}

func (g *headerGuard) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, Errorf(CodeTooLarge, "the message headers are larger than %s", byteSize(emlMaxHeader))
	}
	if g.left > 0 && int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, err := g.r.Read(p)
	if g.left > 0 {
		g.left -= int64(n)
	}
	return n, err
}

// part collects the leaves under one MIME part, decoding transfer encodings.
// Attached messages (message/rfc822) are collected for reading after the body.
func (p *emlParser) part(h textproto.MIMEHeader, body io.Reader, depth int, leaves *[]mimeLeaf, attached *[][]byte) error {
	p.parts++
	if p.parts > maxMIMEParts {
		return Errorf(CodeTooLarge, "the message has more than %d parts", maxMIMEParts)
	}
	if err := p.s.tick(); err != nil {
		return err
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mediaType, params = "text/plain", nil
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	filename := p.header(dparams["filename"])
	if filename == "" {
		filename = p.header(params["name"])
	}
	if strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" {
		if depth >= maxMIMEDepth {
			return nil
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			child, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				// A truncated or malformed multipart keeps what was read so far.
				return nil
			}
			if err := p.part(child.Header, child, depth+1, leaves, attached); err != nil {
				return err
			}
		}
	}
	isText := mediaType == "text/plain" || mediaType == "text/html"
	if mediaType == "message/rfc822" && depth < maxMIMEDepth {
		decoded, err := p.keep(transferDecoder(h.Get("Content-Transfer-Encoding"), body))
		if err != nil {
			return err
		}
		*attached = append(*attached, decoded)
		return nil
	}
	leaf := mimeLeaf{mediaType: mediaType, charset: params["charset"], filename: filename}
	leaf.attachment = strings.EqualFold(disposition, "attachment") || (filename != "" && !isText) ||
		(!isText && !strings.HasPrefix(mediaType, "text/"))
	if leaf.attachment && leaf.filename == "" {
		leaf.filename = "unnamed " + mediaType
	}
	if isText && !leaf.attachment {
		if leaf.body, err = p.keep(transferDecoder(h.Get("Content-Transfer-Encoding"), body)); err != nil {
			return err
		}
	}
	*leaves = append(*leaves, leaf)
	return nil
}

// keep reads a decoded part body that is read later, charging it as it grows.
// A damaged encoding keeps what decoded before the damage.
func (p *emlParser) keep(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if len(out)+n > cap(out) {
				// Charged by capacity, before it doubles: old and new while copied.
				size := max(2*cap(out), len(out)+n)
				if err := p.s.b.retain(int64(size), memMessageParts); err != nil {
					return nil, err
				}
				grown := make([]byte, len(out), size)
				copy(grown, out)
				p.s.b.release(int64(cap(out)))
				p.held += int64(cap(grown) - cap(out))
				out = grown
			}
			out = append(out, buf[:n]...)
		}
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				return nil, pe
			}
			return out, nil
		}
	}
}

// transferDecoder undoes a Content-Transfer-Encoding.
func transferDecoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		// The standard decoder skips line breaks; other white space ends it early,
		// and whatever decoded until then is kept.
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}

// body adds the message text: the plain-text parts when there are any, else the
// HTML parts through the HTML extractor. Mail clients send both as alternatives
// of the same text, so using one kind avoids reading the body twice.
func (p *emlParser) body(leaves []mimeLeaf) error {
	want := "text/plain"
	found := false
	for _, l := range leaves {
		if !l.attachment && l.mediaType == "text/plain" && len(bytes.TrimSpace(l.body)) > 0 {
			found = true
		}
	}
	if !found {
		want = "text/html"
	}
	for _, l := range leaves {
		if l.attachment || l.mediaType != want {
			continue
		}
		body := bytes.NewReader(l.body)
		if want == "text/html" {
			if _, err := extractHTML(p.s, body, int64(len(l.body)), l.charset); err != nil {
				return err
			}
			continue
		}
		if err := readParagraphs(p.s, body, int64(len(l.body)), l.charset); err != nil {
			return err
		}
	}
	return nil
}

// header decodes RFC 2047 encoded words; undecodable values are kept as written.
func (p *emlParser) header(v string) string {
	if v == "" {
		return ""
	}
	out, err := p.dec.DecodeHeader(v)
	if err != nil {
		out = v
	}
	return collapseSpace(cleanText(out))
}

// newWordDecoder returns an RFC 2047 decoder that knows every charset the
// WHATWG encoding index does, not only UTF-8, ISO-8859-1 and US-ASCII.
func newWordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(charset)
		if err != nil {
			return nil, fmt.Errorf("unknown charset %q: %w", charset, err)
		}
		return enc.NewDecoder().Reader(input), nil
	}}
}
