package pdf

// unpredict undoes PNG (10-15) and TIFF (2) predictors, used by xref streams.
func unpredict(data []byte, p dict) ([]byte, error) {
	pred, _ := toInt(p["Predictor"])
	if pred < 2 {
		return data, nil
	}
	colors, bpc, cols := 1, 8, 1
	if v, ok := toInt(p["Colors"]); ok && v > 0 && v < 64 {
		colors = v
	}
	if v, ok := toInt(p["BitsPerComponent"]); ok && v > 0 && v <= 16 {
		bpc = v
	}
	if v, ok := toInt(p["Columns"]); ok && v > 0 && v < 1<<20 {
		cols = v
	}
	bpp := max(1, (colors*bpc+7)/8)
	rowLen := (colors*bpc*cols + 7) / 8
	if pred == 2 {
		if bpc != 8 {
			return data, nil
		}
		out := append([]byte{}, data...)
		for r := 0; r+rowLen <= len(out); r += rowLen {
			for i := bpp; i < rowLen; i++ {
				out[r+i] += out[r+i-bpp]
			}
		}
		return out, nil
	}
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	for pos := 0; pos+1 <= len(data); pos += rowLen + 1 {
		ft := data[pos]
		row := make([]byte, rowLen)
		copy(row, data[pos+1:min(len(data), pos+1+rowLen)])
		for i := range rowLen {
			var left, up, ul byte
			if i >= bpp {
				left = row[i-bpp]
				ul = prev[i-bpp]
			}
			up = prev[i]
			switch ft {
			case 1:
				row[i] += left
			case 2:
				row[i] += up
			case 3:
				row[i] += byte((int(left) + int(up)) / 2)
			case 4:
				row[i] += paeth(left, up, ul)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
