package pdf

import (
	"bytes"
	"errors"
	"strconv"
)

// maxNesting bounds nesting of arrays and dictionaries: hostile files nest deep
// to exhaust the stack.
const maxNesting = 64

var errSyntax = errors.New("pdf syntax error")

// errTooBig reports an object whose parsed form would pass the lexer's limit.
var errTooBig = errors.New("pdf object too big")

// lexer reads PDF tokens and objects from a byte slice.
type lexer struct {
	data []byte
	pos  int
	// limit, when set, bounds the heap the objects read may take (see
	// sizeOf): a parsed array takes eight times its source, and a hostile
	// file must not get that for free. cost is what was read so far.
	limit, cost int64
}

// spend counts n bytes of parsed objects against the limit.
func (l *lexer) spend(n int) error {
	l.cost += int64(n)
	if l.limit > 0 && l.cost > l.limit {
		return errTooBig
	}
	return nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() {
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		if isSpace(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.data) && l.data[l.pos] != '\n' && l.data[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

// regular reads a run of regular characters (a number or keyword).
func (l *lexer) regular() []byte {
	start := l.pos
	for l.pos < len(l.data) && !isSpace(l.data[l.pos]) && !isDelim(l.data[l.pos]) {
		l.pos++
	}
	return l.data[start:l.pos]
}

// object reads the next object. Keywords (obj, R, stream, content operators) come
// back as keyword; the caller decides what they mean.
func (l *lexer) object(depth int) (any, error) {
	if depth > maxNesting {
		return nil, errSyntax
	}
	l.skipSpace()
	if l.pos >= len(l.data) {
		return nil, errSyntax
	}
	c := l.data[l.pos]
	switch c {
	case '/':
		l.pos++
		name := name(decodeName(l.regular()))
		return name, l.spend(costString + len(name))
	case '(':
		l.pos++
		str := l.literalString()
		return str, l.spend(costSlice + len(str))
	case '<':
		if l.pos+1 < len(l.data) && l.data[l.pos+1] == '<' {
			l.pos += 2
			return l.dict(depth)
		}
		l.pos++
		str := l.hexString()
		return str, l.spend(costSlice + len(str))
	case '[':
		l.pos++
		arr := array{}
		for {
			l.skipSpace()
			if l.pos >= len(l.data) {
				return arr, nil
			}
			if l.data[l.pos] == ']' {
				l.pos++
				return arr, nil
			}
			o, err := l.object(depth + 1)
			if err != nil {
				return nil, err
			}
			if kw, ok := o.(keyword); ok && kw == "R" && len(arr) >= 2 {
				if ref, ok := makeRef(arr[len(arr)-2], arr[len(arr)-1]); ok {
					arr = append(arr[:len(arr)-2], ref)
					continue
				}
			}
			// An element costs its interface value, twice while the array grows.
			if err := l.spend(32); err != nil {
				return nil, err
			}
			arr = append(arr, o)
		}
	case ']', '>', ')', '{', '}':
		l.pos++
		return keyword(string(c)), nil
	}
	tok := l.regular()
	if len(tok) == 0 {
		l.pos++
		return nil, errSyntax
	}
	if (tok[0] >= '0' && tok[0] <= '9') || tok[0] == '-' || tok[0] == '+' || tok[0] == '.' {
		if i, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(string(tok), 64); err == nil {
			return f, nil
		}
		// Malformed numbers such as "--5" or "0.0.1" occur; read them leniently.
		return lenientNumber(tok), nil
	}
	switch string(tok) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	return keyword(tok), nil
}

func lenientNumber(tok []byte) float64 {
	neg := bytes.Count(tok, []byte("-"))%2 == 1
	clean := make([]byte, 0, len(tok))
	dot := false
	for _, c := range tok {
		switch {
		case c >= '0' && c <= '9':
			clean = append(clean, c)
		case c == '.' && !dot:
			dot = true
			clean = append(clean, c)
		}
	}
	f, _ := strconv.ParseFloat(string(clean), 64)
	if neg {
		f = -f
	}
	return f
}

func makeRef(a, b any) (ref, bool) {
	n, ok1 := a.(int64)
	g, ok2 := b.(int64)
	if !ok1 || !ok2 || n < 0 || n > 1<<24 || g < 0 || g > 65535 {
		return ref{}, false
	}
	return ref{int(n), int(g)}, true
}

func (l *lexer) dict(depth int) (dict, error) {
	d := dict{}
	for {
		l.skipSpace()
		if l.pos >= len(l.data) {
			return d, nil
		}
		if l.data[l.pos] == '>' {
			l.pos++
			if l.pos < len(l.data) && l.data[l.pos] == '>' {
				l.pos++
			}
			return d, nil
		}
		k, err := l.object(depth + 1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(name)
		if !ok {
			// A stray token inside a dictionary: skip it and go on.
			if kw, isKw := k.(keyword); isKw && (kw == "endobj" || kw == "stream") {
				l.pos -= len(kw)
				return d, nil
			}
			continue
		}
		v, err := l.object(depth + 1)
		if err != nil {
			return nil, err
		}
		if kw, ok := v.(keyword); ok && kw == ">" {
			// "/Key >>": a key without a value; let the loop see the end.
			l.pos--
			continue
		}
		if err := l.spend(costEntry + len(key)); err != nil {
			return nil, err
		}
		// "n g R" arrives as two integers then R: fold them into a reference.
		if n, ok := v.(int64); ok {
			save := l.pos
			g, err := l.object(depth + 1)
			if gi, isInt := g.(int64); err == nil && isInt {
				l.skipSpace()
				if l.pos < len(l.data) && l.data[l.pos] == 'R' &&
					(l.pos+1 >= len(l.data) || isSpace(l.data[l.pos+1]) || isDelim(l.data[l.pos+1])) {
					l.pos++
					if ref, ok := makeRef(n, gi); ok {
						d[key] = ref
						continue
					}
				}
			}
			l.pos = save
		}
		d[key] = v
	}
}

func decodeName(b []byte) string {
	if bytes.IndexByte(b, '#') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

func (l *lexer) literalString() str {
	var out []byte
	depth := 1
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\\':
			if l.pos >= len(l.data) {
				return out
			}
			e := l.data[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.data) && l.data[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.pos < len(l.data) && l.data[l.pos] >= '0' && l.data[l.pos] <= '7'; k++ {
						v = v*8 + int(l.data[l.pos]-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return out
}

func (l *lexer) hexString() str {
	var out []byte
	var hi byte
	half := false
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		if c == '>' {
			break
		}
		v, ok := hexVal(c)
		if !ok {
			continue
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
