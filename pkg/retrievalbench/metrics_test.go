package retrievalbench

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	set := func(ids ...string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	eleven := []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11"}
	for _, tc := range []struct {
		name     string
		hits     []string
		relevant map[string]bool
		rank     int
		rr, ndcg float64
	}{
		{"first", []string{"a", "b"}, set("a"), 1, 1, 1},
		// Passages of one document count once: a second passage of A neither
		// earns credit again nor pushes C down to rank 4.
		{"third after a repeated document", []string{"a", "b", "a", "c"}, set("c"), 3, 1.0 / 3, 0.5},
		{"repeats before the target", []string{"a", "a", "a", "b"}, set("b"), 2, 0.5, 1 / math.Log2(3)},
		// Two relevant documents at distinct ranks 2 and 3; the ideal puts them at 1 and 2.
		{"two relevant", []string{"c", "a", "a", "b"}, set("a", "b"), 2, 0.5, (1/math.Log2(3) + 0.5) / (1 + 1/math.Log2(3))},
		// A relevant document found twice is counted once in the gain.
		{"relevant repeated", []string{"a", "a"}, set("a", "b"), 1, 1, 1 / (1 + 1/math.Log2(3))},
		{"missing", []string{"a", "b"}, set("z"), 0, 0, 0},
		{"no hits", nil, set("a"), 0, 0, 0},
		{"beyond the tenth document", eleven, set("d11"), 0, 0, 0},
		{"tenth document", eleven, set("d10"), 10, 0.1, 1 / math.Log2(11)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := judge(tc.hits, tc.relevant)
			require.Equal(t, tc.rank, j.rank)
			require.InDelta(t, tc.rr, j.rr, 1e-9)
			require.InDelta(t, tc.ndcg, j.ndcg, 1e-9)
		})
	}
}

func TestHitAtK(t *testing.T) {
	t.Parallel()
	j := judge([]string{"a", "b", "b", "c", "d", "e", "f"}, map[string]bool{"f": true})
	require.Equal(t, 6, j.rank)
	require.False(t, j.hit(1))
	require.False(t, j.hit(5), "f is the sixth distinct document, though the seventh passage")
	require.True(t, j.hit(10))
	require.False(t, judgement{}.hit(10))
}

func TestTallyMeans(t *testing.T) {
	t.Parallel()
	var tl tally
	require.Equal(t, 0, tl.n)
	h1, h5, mrr, ndcg := tl.mean()
	require.Zero(t, h1+h5+mrr+ndcg, "an empty set averages to zero, not NaN")
	tl.add(judge([]string{"a"}, map[string]bool{"a": true}))                          // rank 1
	tl.add(judge([]string{"x", "y", "a"}, map[string]bool{"a": true}))                // rank 3
	tl.add(judge([]string{"x", "y", "z", "w", "v", "a"}, map[string]bool{"a": true})) // rank 6
	tl.add(judge([]string{"x"}, map[string]bool{"a": true}))                          // missed
	h1, h5, mrr, ndcg = tl.mean()
	require.InDelta(t, 0.25, h1, 1e-9)
	require.InDelta(t, 0.5, h5, 1e-9)
	require.InDelta(t, (1+1.0/3+1.0/6)/4, mrr, 1e-9)
	require.InDelta(t, (1+0.5+1/math.Log2(7))/4, ndcg, 1e-9)
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var s []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, percentile(s, 50))
	require.Equal(t, 99*time.Millisecond, percentile(s, 99))
	require.Equal(t, 100*time.Millisecond, percentile(s, 100))
	require.Equal(t, 100*time.Millisecond, s[0], "the caller's slice is left unsorted")
	require.Equal(t, 7*time.Millisecond, percentile([]time.Duration{7 * time.Millisecond}, 99))
	require.Zero(t, percentile(nil, 50))
}
