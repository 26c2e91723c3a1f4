package ocr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTranscriptDropsTheFence(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"  Invoice 4711\n\nTotal  ":                 "Invoice 4711\n\nTotal",
		"```\nInvoice 4711\n```":                    "Invoice 4711",
		"```markdown\n# Invoice\n\nTotal: 5\n```\n": "# Invoice\n\nTotal: 5",
		"``` not a fence":                           "``` not a fence",
		"":                                          "",
	} {
		require.Equal(t, want, transcript(in), "%q", in)
	}
}
