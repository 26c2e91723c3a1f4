package pdf

// PDF objects are decoded into these Go values:
//
//	null → nil, boolean → bool, integer → int64, real → float64,
//	name → name, string → str, array → array, dictionary → dict,
//	indirect reference → ref, stream → *stream, content operator → keyword.
type (
	name    string
	str     []byte
	array   []any
	dict    map[name]any
	keyword string
	ref     struct{ num, gen int }
	stream  struct {
		dict dict
		raw  []byte // still encoded (and encrypted)
		ref  ref    // the object that holds it, for decryption
	}
)

// Accessors that tolerate the wrong types hostile or sloppy files contain.

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		if n > 1<<40 || n < -(1<<40) {
			return 0, false
		}
		return int(n), true
	case float64:
		if n > 1<<40 || n < -(1<<40) {
			return 0, false
		}
		return int(n), true
	}
	return 0, false
}

// sizeOf estimates the heap an object holds, for the object cache's charge.
// A stream's data is a view of the file, charged with it.
func sizeOf(v any) int64 {
	switch t := v.(type) {
	case name:
		return costString + int64(len(t))
	case keyword:
		return costString + int64(len(t))
	case str:
		return costSlice + int64(len(t))
	case array:
		n := int64(costSlice) + 16*int64(cap(t))
		for _, x := range t {
			n += sizeOf(x)
		}
		return n
	case dict:
		n := int64(48)
		for k, x := range t {
			n += costEntry + int64(len(k)) + sizeOf(x)
		}
		return n
	case *stream:
		return 64 + sizeOf(t.dict)
	case nil:
		return 0
	}
	return 16
}
