package agent

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendTextEventWritesWhatEncodingJSONWrites(t *testing.T) {
	texts := []string{
		"", "plain words ", "quote \" and backslash \\", "line\nbreak\r\ttab\b\f",
		"\x00\x01\x1f control", "<b>&amp;</b>", "é ü 日本語 🙂", "sep \u2028 \u2029 end",
		"bad \xff utf-8 \xe2\x82", "\xed\xa0\x80 surrogate", "ends with \xc3",
	}
	for _, s := range texts {
		want, err := json.Marshal(TextEvent{Text: s})
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendTextEvent(nil, []byte(s))), "%q", s)
	}
}

func FuzzAppendTextEvent(f *testing.F) {
	f.Add("hello \"world\" <&> \u2028 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(TextEvent{Text: s})
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendTextEvent(nil, []byte(s))))
	})
}

func BenchmarkTokenEncoding(b *testing.B) {
	text := []byte("t0042 ")
	b.Run("appendTextEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendTextEvent(make([]byte, 0, 32), text)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(TextEvent{Text: string(text)})
		}
	})
}
