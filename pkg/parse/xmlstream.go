package parse

import (
	"encoding/xml"
	"io"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

const (
	// xmlMaxToken bounds one XML token (a text run, a tag with its attributes,
	// a comment): encoding/xml holds a token whole, twice, while it reads it. An
	// eighth of the memory budget is the bound when that is smaller.
	xmlMaxToken = 16 << 20
	// xmlMaxDepth bounds element nesting: the decoder and our walkers keep state
	// per open element. Office documents nest a few dozen levels at most.
	xmlMaxDepth = 1000
)

// xmlDecoder is a streaming decoder tolerant of what real office files contain
// (HTML entities, unknown namespaces, encodings other than UTF-8) that also
// bounds what reading costs: one token may not pass xmlMaxToken, elements may
// not nest deeper than xmlMaxDepth.
type xmlDecoder struct {
	*xml.Decoder
	guard *xmlGuard
	depth int
}

// newXMLDecoder returns a decoder for r within the budget's working limits.
func newXMLDecoder(r io.Reader, b *budget) *xmlDecoder {
	g := &xmlGuard{r: r, max: b.workingLimit(xmlMaxToken)}
	d := xml.NewDecoder(g)
	d.Strict = false
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(label)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(input), nil
	}
	return &xmlDecoder{Decoder: d, guard: g}
}

// Token returns the next token, failing with CodeTooLarge past the bounds.
func (d *xmlDecoder) Token() (xml.Token, error) {
	d.guard.arm()
	tok, err := d.Decoder.Token()
	if err != nil {
		return nil, err
	}
	switch tok.(type) {
	case xml.StartElement:
		d.depth++
		if d.depth > xmlMaxDepth {
			return nil, Errorf(CodeTooLarge, "the document nests elements more than %d deep", xmlMaxDepth)
		}
	case xml.EndElement:
		d.depth--
	}
	return tok, nil
}

// Skip reads tokens up to the end of the element just started, as
// xml.Decoder.Skip does, within the same bounds.
func (d *xmlDecoder) Skip() error {
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// xmlGuard feeds the decoder and fails a read once one Token call has read
// more than max bytes: a token is only that large when the bytes belong to it.
type xmlGuard struct {
	r         io.Reader
	read, max int64
}

func (g *xmlGuard) arm() { g.read = 0 }

func (g *xmlGuard) Read(p []byte) (int, error) {
	if g.read > g.max {
		return 0, Errorf(CodeTooLarge, "the document has a single run of text or markup larger than %s", byteSize(g.max))
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// heldText is a text being gathered (a paragraph, a cell) whose growth is
// charged to the budget before it happens and credited when it is taken. The
// builder's capacity is what is charged, and it is made to double: growing a
// large text by a quarter at a time, as append does, leaves four times its size
// in garbage.
type heldText struct {
	sb      strings.Builder
	charged int
}

func (h *heldText) write(b *budget, s string, what memUse) error {
	if h.sb.Cap()-h.sb.Len() < len(s) {
		size := 2*h.sb.Cap() + len(s) // what Grow makes
		if err := b.retain(int64(size-h.charged), what); err != nil {
			return err
		}
		h.charged = size
		h.sb.Grow(len(s))
	}
	h.sb.WriteString(s)
	return nil
}

func (h *heldText) Len() int { return h.sb.Len() }

func (h *heldText) String() string { return h.sb.String() }

// take returns the text, empties h and credits its charge.
func (h *heldText) take(b *budget) string {
	s, held := h.detach()
	b.release(held)
	return s
}

// detach returns the text and what it is charged, which the caller now owns,
// and empties h.
func (h *heldText) detach() (string, int64) {
	s, held := h.sb.String(), int64(h.charged)
	h.sb = strings.Builder{}
	h.charged = 0
	return s, held
}
