package llmtest

import (
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// SubwordVector is a stand-in for a small embedding model, better than
// Vector's raw bag of words and still deterministic: the text's words (split on
// letters and digits, case folded, the commonest English function words left
// out) and their character trigrams are hashed into dim signed buckets, each word
// weighing 1+log(count) so a long passage is not just its most repeated words.
// The trigrams make related forms ("governed", "governing") and typos land
// near each other, as a model's subword vocabulary does. It knows no synonyms:
// it is a weak, honest retriever whose mistakes differ from an inverted
// index's, which is what fusing the two is for.
func SubwordVector(text string, dim int) []float32 {
	v := make([]float32, dim)
	if dim == 0 {
		return v
	}
	counts := map[string]int{}
	var order []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if functionWords[w] {
			continue
		}
		if counts[w] == 0 {
			order = append(order, w)
		}
		counts[w]++
	}
	if len(order) == 0 {
		return Vector(text, dim)
	}
	for _, w := range order {
		weight := float32(1 + math.Log(float64(counts[w])))
		add(v, w, weight)
		grams := trigrams(w)
		for _, g := range grams {
			add(v, "#"+g, weight/float32(len(grams)))
		}
	}
	return v
}

// add puts weight into the signed bucket of feature.
func add(v []float32, feature string, weight float32) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(feature))
	x := h.Sum64()
	if x>>63 == 1 {
		weight = -weight
	}
	v[x%uint64(len(v))] += weight
}

// trigrams are the character trigrams of the word with its edges marked.
func trigrams(w string) []string {
	r := []rune("<" + w + ">")
	if len(r) <= 3 {
		return []string{string(r)}
	}
	out := make([]string, 0, len(r)-2)
	for i := 0; i+3 <= len(r); i++ {
		out = append(out, string(r[i:i+3]))
	}
	return out
}

// functionWords carry no meaning of their own; a trained model learns to
// weigh them little, the stand-in leaves them out.
var functionWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then else of to in on at by for with from
		into onto over under about as is are was were be been being am do does did done have has had
		having it its this that these those there here what which who whom whose when where why how
		i me my we our you your he him his she her they them their not no nor so than too very can
		will would shall should may might must could s t just also any all each some such only own
		same other more most both few up down out off again further once`) {
		m[w] = true
	}
	return m
}()
