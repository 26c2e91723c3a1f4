package parse

import "context"

// budget tracks what one parse has spent against its Limits. It is not safe for
// concurrent use: one parse, one goroutine.
type budget struct {
	ctx    context.Context
	limits Limits
	text   int64
	// inflated counts bytes actually read out of containers, whatever they declare.
	inflated int64
}

func newBudget(ctx context.Context, l Limits) *budget {
	return &budget{ctx: ctx, limits: l}
}

// addText records n bytes of extracted text and fails once the limit is passed.
func (b *budget) addText(n int) error {
	b.text += int64(n)
	if b.limits.MaxTextBytes > 0 && b.text > b.limits.MaxTextBytes {
		return Errorf(CodeTooLarge, "the document has more than %d bytes of text", b.limits.MaxTextBytes)
	}
	return nil
}

// check returns the context's error once the parse is cancelled or timed out.
func (b *budget) check() error { return b.ctx.Err() }

// addInflated records n bytes read out of a container and fails once the
// document's total passes MaxInflatedBytes, which is how decompression bombs stop.
func (b *budget) addInflated(n int) error {
	b.inflated += int64(n)
	if b.limits.MaxInflatedBytes > 0 && b.inflated > b.limits.MaxInflatedBytes {
		return Errorf(CodeTooLarge, "the archive inflates to more than %d bytes (decompression bomb)", b.limits.MaxInflatedBytes)
	}
	return nil
}
