package picture

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTurnFollowsEXIF checks each orientation against the EXIF specification's
// words, written as where the shown pixel (x, y) is stored.
func TestTurnFollowsEXIF(t *testing.T) {
	t.Parallel()
	const ws, hs = 3, 2 // stored size
	stored := []byte{1, 2, 3, 4, 5, 6}
	at := func(x, y int) byte { return stored[y*ws+x] }
	for tag, shown := range map[int]func(x, y int) byte{
		1: func(x, y int) byte { return at(x, y) },
		2: func(x, y int) byte { return at(ws-1-x, y) },      // mirrored left to right
		3: func(x, y int) byte { return at(ws-1-x, hs-1-y) }, // upside down
		4: func(x, y int) byte { return at(x, hs-1-y) },      // mirrored top to bottom
		5: func(x, y int) byte { return at(y, x) },           // row 0 on the left, column 0 on top
		6: func(x, y int) byte { return at(y, hs-1-x) },      // row 0 on the right, column 0 on top
		7: func(x, y int) byte { return at(ws-1-y, hs-1-x) }, // row 0 on the right, column 0 at the bottom
		8: func(x, y int) byte { return at(ws-1-y, x) },      // row 0 on the left, column 0 at the bottom
	} {
		o := FromTag(tag)
		w, h := o.Size(ws, hs)
		out := make([]byte, len(stored))
		Turn(out, stored, ws, hs, 1, o)
		for y := range h {
			for x := range w {
				require.Equal(t, shown(x, y), out[y*w+x], "orientation %d at (%d, %d)", tag, x, y)
			}
		}
	}
	require.Equal(t, Upright, FromTag(0))
	require.Equal(t, Upright, FromTag(9))
}
