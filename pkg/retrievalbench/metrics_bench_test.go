package retrievalbench

import (
	"math"
	"slices"
	"time"
)

// depth is how many distinct documents the metrics look at (MRR@10, nDCG@10),
// and the limit of every evaluation search.
const depth = 10

// judgement is how one ranked answer scores against its relevant documents.
type judgement struct {
	rank int     // 1-based rank of the first relevant document, 0 when none in the top depth
	rr   float64 // reciprocal rank, 0 when none
	ndcg float64 // binary-relevance nDCG@depth
}

func (j judgement) hit(k int) bool { return j.rank > 0 && j.rank <= k }

// dedupe keeps the first occurrence of each document: search answers passages,
// the metrics judge documents, and a second passage of a document already ranked
// must neither earn credit again nor push others down.
func dedupe(docs []string) []string {
	out := make([]string, 0, len(docs))
	seen := make(map[string]bool, len(docs))
	for _, d := range docs {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// judge scores the documents of an answer's hits, in rank order and possibly
// repeated, against the set of relevant documents (binary relevance).
func judge(hitDocs []string, relevant map[string]bool) judgement {
	ranked := dedupe(hitDocs)
	ranked = ranked[:min(len(ranked), depth)]
	var j judgement
	var dcg float64
	for i, d := range ranked {
		if !relevant[d] {
			continue
		}
		if j.rank == 0 {
			j.rank = i + 1
			j.rr = 1 / float64(i+1)
		}
		dcg += 1 / math.Log2(float64(i+2))
	}
	var ideal float64
	for i := range min(len(relevant), depth) {
		ideal += 1 / math.Log2(float64(i+2))
	}
	if ideal > 0 {
		j.ndcg = dcg / ideal
	}
	return j
}

// tally sums judgements of one query set.
type tally struct {
	n                     int
	hit1, hit5, mrr, ndcg float64
}

func (t *tally) add(j judgement) {
	t.n++
	if j.hit(1) {
		t.hit1++
	}
	if j.hit(5) {
		t.hit5++
	}
	t.mrr += j.rr
	t.ndcg += j.ndcg
}

// mean returns hit@1, hit@5, MRR@10 and nDCG@10 averaged over the queries.
func (t tally) mean() (hit1, hit5, mrr, ndcg float64) {
	if t.n == 0 {
		return 0, 0, 0, 0
	}
	n := float64(t.n)
	return t.hit1 / n, t.hit5 / n, t.mrr / n, t.ndcg / n
}

// percentile is the nearest-rank q-th percentile (0 < q ≤ 100) of latencies.
func percentile(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(math.Ceil(q/100*float64(len(c)))) - 1
	return c[max(0, min(i, len(c)-1))]
}
