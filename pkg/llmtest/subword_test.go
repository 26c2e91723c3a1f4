package llmtest_test

import (
	"math"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llmtest"
)

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestSubwordVectorRelatesFormsAndIgnoresFunctionWords(t *testing.T) {
	t.Parallel()
	const dim = 384
	governed := llmtest.SubwordVector("the committee governed the harbour", dim)
	governing := llmtest.SubwordVector("a committee governing harbours", dim)
	unrelated := llmtest.SubwordVector("glaciers retreat in the alps", dim)
	if near, far := cosine(governed, governing), cosine(governed, unrelated); near < 0.3 || far > 0.1 {
		t.Errorf("related forms at %.2f, unrelated text at %.2f: want related well above unrelated", near, far)
	}
	// Function words alone change nothing.
	if c := cosine(llmtest.SubwordVector("harbour committee", dim), llmtest.SubwordVector("the harbour of the committee", dim)); c < 0.999 {
		t.Errorf("function words moved the vector: cosine %.3f", c)
	}
	// Deterministic, and never the zero vector: a text of function words only
	// falls back to the bag of words.
	if a, b := llmtest.SubwordVector("harbour", dim), llmtest.SubwordVector("harbour", dim); cosine(a, b) != 1 {
		t.Error("the same text gave two vectors")
	}
	if v := llmtest.SubwordVector("the of and", dim); cosine(v, v) != 1 {
		t.Errorf("function words only gave %v", v[:4])
	}
}

func TestServerUsesTheEmbedderItIsGiven(t *testing.T) {
	t.Parallel()
	s := llmtest.New(t)
	s.SetEmbedDim(64)
	s.SetEmbedder(llmtest.SubwordVector)
	resp, err := client(t, s).Embed(t.Context(), &api.EmbedRequest{Model: llmtest.EmbedModel, Input: "harbour committee"})
	require.NoError(t, err)
	require.Equal(t, [][]float32{llmtest.SubwordVector("harbour committee", 64)}, resp.Embeddings)
}
