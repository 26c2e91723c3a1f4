package bm25

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMatcher(t *testing.T) {
	t.Parallel()
	e := newEncoder(t, Params{})
	tests := []struct {
		name   string
		query  string
		len    int
		counts map[string]int // text → distinct query terms it contains
	}{
		{"english detected", "what is the notice period for running contracts", 4, map[string]int{
			"The notice period of this contract is three months.": 3,
			"He runs every morning, period.":                      2,
			"Nothing relevant here.":                              0,
			"NOTICE notice Notices":                               1,
		}},
		{"undetected italian: stems in any language", "contratti fornitura", 2, map[string]int{
			"Il contratto di fornitura è scaduto.":          2,
			"I contratti sono firmati.":                     1,
			"Supply contracts (contratti di fornitura).":    2,
			"La fornitura del gas.":                         1,
			"Questo testo non parla di nulla di rilevante.": 0,
		}},
		{"words sharing a stem are one term", "contratti contratto", 1, map[string]int{
			"contratto": 1,
		}},
		{"identifiers", "error in RFC-7231", 4, map[string]int{
			"see rfc 7231":                    2,
			"RFC-7231 says so":                3,
			"The errors of RFC-7231 are many": 4,
		}},
		{"nothing to match", "the of and", 0, map[string]int{
			"the of and": 0,
		}},
		{"empty", "", 0, map[string]int{"anything": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := e.Matcher(tt.query)
			require.Equal(t, tt.len, m.Len())
			for text, want := range tt.counts {
				require.Equal(t, want, m.Count(text), text)
			}
		})
	}
}

func TestMatcherConcurrent(t *testing.T) {
	t.Parallel()
	e := newEncoder(t, Params{})
	m := e.Matcher("contratti fornitura RFC-7231")
	text := "Il contratto di fornitura cita la RFC-7231."
	want := m.Count(text)
	require.Equal(t, m.Len(), want)
	var wg sync.WaitGroup
	got := make([]int, 16)
	for i := range got {
		wg.Go(func() { got[i] = m.Count(text) })
	}
	wg.Wait()
	for _, g := range got {
		require.Equal(t, want, g)
	}
}
