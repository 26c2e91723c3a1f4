package pdf

// decodeLZW decodes LZW as PDF uses it (MSB first, optional early change), which
// compress/lzw does not support.
func decodeLZW(data []byte, early bool, limit int64) ([]byte, error) {
	var out []byte
	dict := make([][]byte, 258, 4096)
	reset := func() {
		dict = dict[:258]
		for i := range 256 {
			dict[i] = []byte{byte(i)}
		}
	}
	reset()
	width := 9
	var bitBuf uint32
	bits := 0
	var prev []byte
	for _, c := range data {
		bitBuf = bitBuf<<8 | uint32(c)
		bits += 8
		for bits >= width {
			code := int(bitBuf>>(bits-width)) & (1<<width - 1)
			bits -= width
			switch {
			case code == 256:
				reset()
				width, prev = 9, nil
				continue
			case code == 257:
				return out, nil
			}
			var entry []byte
			switch {
			case code < len(dict):
				entry = dict[code]
			case code == len(dict) && prev != nil:
				entry = append(append([]byte{}, prev...), prev[0])
			default:
				return out, nil
			}
			out = append(out, entry...)
			if int64(len(out)) > limit {
				return nil, errorf(KindTooLarge, "a PDF stream inflates past %d bytes (decompression bomb)", limit)
			}
			if prev != nil && len(dict) < 4096 {
				dict = append(dict, append(append([]byte{}, prev...), entry[0]))
			}
			prev = entry
			n := len(dict)
			if early {
				n++
			}
			switch {
			case n >= 2048:
				width = 12
			case n >= 1024:
				width = 11
			case n >= 512:
				width = 10
			}
		}
	}
	return out, nil
}
