package parse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
)

// readMailHeader reads a message's header block, up to the blank line that ends
// it or the end of the input, repairing the damage mail programs leave, the way
// widely used mail libraries do, instead of failing the whole message as
// net/mail does:
//   - a line without a colon continues the field before it, as if it were
//     folded: long subjects and address lists broken by a careless writer;
//   - a space before the colon ("Subject :") is dropped;
//   - a line starting with a colon, or whose name has characters a field name
//     cannot have, is dropped;
//   - a folded line (starting with space or tab) with no field before it is
//     dropped.
//
// Lines are bounded by the reader's header guard. A block without a single
// field is not a message header: that is an error.
func readMailHeader(br *bufio.Reader) (textproto.MIMEHeader, error) {
	h := textproto.MIMEHeader{}
	var key string // the field being read, "" before the first
	var value []byte
	flush := func() {
		if key != "" {
			h.Add(key, string(bytes.TrimSpace(value)))
		}
		key, value = "", nil
	}
	for {
		line, err := readHeaderLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break // the blank line that ends the header, or the end of input
		}
		colon := bytes.IndexByte(line, ':')
		switch {
		case line[0] == ' ' || line[0] == '\t' || colon < 0:
			// A folded line, or a line that should have been one.
			if key != "" {
				value = append(append(value, ' '), bytes.TrimSpace(line)...)
			}
		case colon == 0:
			// No name to file the value under.
		default:
			name := bytes.TrimRight(line[:colon], " \t")
			if !validFieldName(name) {
				continue
			}
			flush()
			key = textproto.CanonicalMIMEHeaderKey(string(name))
			value = append(value, line[colon+1:]...)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	flush()
	if len(h) == 0 {
		return nil, errors.New("no header field")
	}
	return h, nil
}

// readHeaderLine returns one line with its line break, however long: the
// header guard below the reader bounds the whole block.
func readHeaderLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		piece, err := br.ReadSlice('\n')
		line = append(line, piece...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// validFieldName reports a header field name of printable ASCII without
// spaces or colons (RFC 5322, section 2.2).
func validFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}
