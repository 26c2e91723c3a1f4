package parse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
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
)

// parseEML reads an RFC 822 / MIME message: a header block (From, To, Cc, Date,
// Subject), the body (text/plain preferred over HTML), attached messages, and the
// names of attachments.
func parseEML(ctx context.Context, r io.ReaderAt, size int64, b *budget) (*Document, error) {
	data, err := readAll(r, size)
	if err != nil {
		return nil, err
	}
	p := &emlParser{s: newSink(b), dec: newWordDecoder()}
	title, err := p.message(data, 0)
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
}

// mimeLeaf is one non-multipart part of a message.
type mimeLeaf struct {
	mediaType string
	charset   string
	body      []byte
	filename  string
	// attachment is set for parts the sender attached rather than wrote.
	attachment bool
}

// message adds the blocks of one message and returns its subject.
func (p *emlParser) message(data []byte, depth int) (string, error) {
	data = bytes.TrimLeft(data, "\r\n\t \uFEFF")
	if bytes.HasPrefix(data, []byte("From ")) {
		// An mbox separator line precedes the headers of messages saved from Unix mail.
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return "", &Error{Code: CodeCorrupt, Message: "the message headers could not be read", Err: err}
	}
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
		if _, err := p.message(m, depth+1); err != nil && CodeOf(err) != CodeCorrupt {
			return "", err
		}
	}
	return subject, nil
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
	decoded, err := io.ReadAll(transferDecoder(h.Get("Content-Transfer-Encoding"), body))
	if err != nil && len(decoded) == 0 {
		decoded = nil
	}
	if mediaType == "message/rfc822" && depth < maxMIMEDepth {
		*attached = append(*attached, decoded)
		return nil
	}
	leaf := mimeLeaf{mediaType: mediaType, charset: params["charset"], body: decoded, filename: filename}
	isText := mediaType == "text/plain" || mediaType == "text/html"
	leaf.attachment = strings.EqualFold(disposition, "attachment") || (filename != "" && !isText) ||
		(!isText && !strings.HasPrefix(mediaType, "text/"))
	if leaf.attachment && leaf.filename == "" {
		leaf.filename = "unnamed " + mediaType
	}
	*leaves = append(*leaves, leaf)
	return nil
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
		if !l.attachment && l.mediaType == "text/plain" && strings.TrimSpace(string(l.body)) != "" {
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
		if want == "text/html" {
			if _, err := extractHTML(p.s, l.body, l.charset); err != nil {
				return err
			}
			continue
		}
		if err := addParagraphs(p.s, decodeWithCharset(l.body, l.charset)); err != nil {
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
