package pdf

// Budget is the memory accounting of the parse the reader runs in. The reader
// holds the whole file (objects are found by offset) and caches what it reads:
// objects, object streams, fonts, the cross-reference table, the text it
// positions. All of it is charged here, so that a hostile file fails the way
// any other document over the memory budget does. The parse package implements
// Budget over its per-document budget.
type Budget interface {
	// Retain charges n bytes the reader keeps, naming what they are. It fails
	// once the memory budget is spent; Extract then fails with that error.
	Retain(n int64, what Use) error
	// Release credits n bytes charged with Retain.
	Release(n int64)
	// Left is how many more bytes may be retained; bounded working buffers are
	// sized with it.
	Left() int64
	// Exceeded fails the budget as Retain does, for what the reader gave up
	// reading because it would not fit what is left.
	Exceeded(what Use) error
}

// Use names what the reader holds, for the message of a budget failure.
type Use int

// What the reader holds.
const (
	// UseFile is the file itself, held whole.
	UseFile Use = iota
	// UseObjects is the object cache and the cross-reference table.
	UseObjects
	// UseStreams is decoded stream data.
	UseStreams
	// UseFonts is the fonts and their character maps.
	UseFonts
	// UseText is the positioned text of a page and the paragraphs laid out.
	UseText
	// UseImages is the pictures of scanned pages, decoded and encoded.
	UseImages
)

// Heap cost estimates, on the high side, the same the parse package charges
// for what its other readers keep: a string is its bytes, header and
// allocation rounding; a slice header likewise; a map entry its key, value and
// bucket overhead.
const (
	costString = 16 + 8
	costSlice  = 24 + 8
	costEntry  = 48
)

// Limits bound the work one PDF may cost, beside the memory Budget.
type Limits struct {
	// MaxInflatedBytes bounds the file and, in total, the bytes its streams
	// decode to, which is how decompression bombs stop. Zero means no limit.
	MaxInflatedBytes int64
	// MaxPages bounds the pages read; zero means no limit.
	MaxPages int
	// MaxTextBytes bounds the text extracted; zero means no limit.
	MaxTextBytes int64
}
