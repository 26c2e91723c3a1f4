package pdf

import "bytes"

// decodeRunLength decodes PackBits-style runs up to the end-of-data byte 128.
// Output stops growing past limit: the caller charges it only once built.
func decodeRunLength(data []byte, limit int64) []byte {
	var out []byte
	for i := 0; i < len(data) && int64(len(out)) <= limit; {
		n := int(data[i])
		i++
		switch {
		case n < 128:
			end := min(len(data), i+n+1)
			out = append(out, data[i:end]...)
			i = end
		case n > 128:
			if i < len(data) {
				out = append(out, bytes.Repeat(data[i:i+1], 257-n)...)
			}
			i++
		default:
			return out
		}
	}
	return out
}
