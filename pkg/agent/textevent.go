package agent

import (
	"unicode/utf8"
)

// appendTextEvent appends the TextEvent of text to dst, byte for byte as
// encoding/json writes it (HTML characters and U+2028/U+2029 escaped, invalid
// UTF-8 replaced by U+FFFD). Every token of every turn is encoded: this spares
// the reflection and the copies of json.Marshal.
func appendTextEvent(dst, text []byte) []byte {
	dst = append(dst, `{"text":"`...)
	start := 0
	for i := 0; i < len(text); {
		if b := text[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, text[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default: // other control characters, and <, >, &
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, text[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, text[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, text[start:]...)
	return append(dst, `"}`...)
}

const hexDigits = "0123456789abcdef"
