package service

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// searchFixture holds three documents processed by the real worker: Alice's private
// one, one Alice shares with the team, and one of Carol's in another group.
type searchFixture struct {
	*docsFixture
	team, other        string
	alice, bob, carol  access.Principal
	private, shared    Document
	carolDoc, markdown Document
}

func newSearchFixture(t *testing.T) *searchFixture {
	t.Helper()
	return newSearchFixtureWith(t, newDocsFixture(t))
}

func newSearchFixtureWith(t *testing.T, docs *docsFixture) *searchFixture {
	t.Helper()
	f := &searchFixture{docsFixture: docs}
	f.team, f.other = f.group(t), f.group(t)
	f.alice = f.user(t, "alice", f.team)
	f.bob = f.user(t, "bob", f.team)
	f.carol = f.user(t, "carol", f.team, f.other)
	f.private = f.upload(t, f.alice, UploadOptions{}, map[string]string{"diary.txt": "My secret diary about volcano eruptions and lava flows."})[0]
	f.shared = f.upload(t, f.alice, UploadOptions{GroupID: f.team}, map[string]string{"volcanoes.txt": "Team notes: volcano monitoring stations measure lava temperature."})[0]
	f.carolDoc = f.upload(t, f.carol, UploadOptions{GroupID: f.other}, map[string]string{"other.txt": "Another group studies volcano ash clouds."})[0]
	f.markdown = f.upload(t, f.alice, UploadOptions{}, map[string]string{"guide.md": "# Field guide\n\n## Safety\n\nWear a helmet near the crater rim.\n"})[0]
	for _, d := range []Document{f.private, f.shared, f.carolDoc, f.markdown} {
		require.Equal(t, store.StatusReady, f.ingest(t, d.ID).Status)
	}
	return f
}

func hitDocs(hits []SearchHit) []string {
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.DocumentID)
	}
	return ids
}

func TestSearchValidates(t *testing.T) {
	t.Parallel()
	f := newDocsFixture(t)
	alice := f.user(t, "alice")
	ctx := context.Background()
	for _, tc := range []struct {
		req   SearchRequest
		field string
	}{
		{SearchRequest{Query: "   "}, "query"},
		{SearchRequest{Query: strings.Repeat("é", 2001)}, "query"},
		{SearchRequest{Query: "x", Limit: 51}, "limit"},
		{SearchRequest{Query: "x", Limit: -1}, "limit"},
	} {
		_, err := f.search.Search(ctx, alice, tc.req)
		requireCode(t, err, CodeInvalid, tc.field)
	}
	// Both problems are reported at once.
	_, err := f.search.Search(ctx, alice, SearchRequest{Limit: 99})
	e := requireCode(t, err, CodeInvalid, "query")
	require.Len(t, e.Fields, 2)

	_, err = f.search.Search(ctx, alice, SearchRequest{Query: "x", GroupID: "00000000-0000-0000-0000-000000000009"})
	requireCode(t, err, CodeNotFound, "group_id")

	hits, err := f.search.Search(ctx, alice, SearchRequest{Query: strings.Repeat("é", 2000), Limit: 50})
	require.NoError(t, err)
	require.Empty(t, hits)
}

func TestSearchReturnsOnlyWhatTheCallerMaySee(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	ctx := context.Background()
	q := SearchRequest{Query: "volcano lava"}

	hits, err := f.search.Search(ctx, f.alice, q)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{f.private.ID, f.shared.ID}, hitDocs(hits), "only her passages about volcanoes and lava match")
	require.Contains(t, hits[0].Text, "lava")
	require.Equal(t, 0, hits[0].ChunkIndex)
	require.GreaterOrEqual(t, hits[0].Score, hits[1].Score, "best first")

	hits, err = f.search.Search(ctx, f.bob, q)
	require.NoError(t, err)
	require.Equal(t, []string{f.shared.ID}, hitDocs(hits))
	require.Equal(t, "volcanoes.txt", hits[0].Filename)

	hits, err = f.search.Search(ctx, f.carol, q)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{f.shared.ID, f.carolDoc.ID}, hitDocs(hits))

	// The group filter narrows to that group's documents.
	hits, err = f.search.Search(ctx, f.carol, SearchRequest{Query: "volcano", GroupID: f.other})
	require.NoError(t, err)
	require.Equal(t, []string{f.carolDoc.ID}, hitDocs(hits))
	hits, err = f.search.Search(ctx, f.alice, SearchRequest{Query: "volcano", GroupID: f.team})
	require.NoError(t, err)
	require.Equal(t, []string{f.shared.ID}, hitDocs(hits), "her private document is in no group")
	_, err = f.search.Search(ctx, f.bob, SearchRequest{Query: "volcano", GroupID: f.other})
	requireCode(t, err, CodeNotFound, "group_id")

	// The limit holds.
	hits, err = f.search.Search(ctx, f.carol, SearchRequest{Query: "volcano", Limit: 1})
	require.NoError(t, err)
	require.Len(t, hits, 1)

	// A hit carries the heading it sits under.
	hits, err = f.search.Search(ctx, f.alice, SearchRequest{Query: "helmet crater", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, f.markdown.ID, hits[0].DocumentID)
	require.NotNil(t, hits[0].Heading)
	require.Equal(t, "Safety", *hits[0].Heading)
	require.Nil(t, hits[0].Page)

	// Sharing changes are obeyed at once, before the payloads are synced.
	_, err = f.docs.UpdateSharing(ctx, f.alice, f.shared.ID, SharingChange{GroupID: new(string)})
	require.NoError(t, err)
	hits, err = f.search.Search(ctx, f.bob, q)
	require.NoError(t, err)
	require.Empty(t, hits, "the payload still says team, Postgres says no")

	// A deleted document vanishes from search at once, before its purge runs.
	require.NoError(t, f.docs.Delete(ctx, f.alice, f.private.ID))
	hits, err = f.search.Search(ctx, f.alice, q)
	require.NoError(t, err)
	require.Equal(t, []string{f.shared.ID}, hitDocs(hits))
}

// Without an embedding model the lexical retriever answers alone, and every hit
// says so; dense retrieval is refused rather than served by hashed vectors.
func TestSearchModesWithoutAnEmbeddingModel(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	ctx := context.Background()
	for _, mode := range []string{"", "hybrid", "lexical"} {
		hits, err := f.search.Search(ctx, f.alice, SearchRequest{Query: "helmets near the crater", Mode: mode})
		require.NoError(t, err, mode)
		require.Equal(t, []string{f.markdown.ID}, hitDocs(hits), "stemming finds helmet for helmets (%q)", mode)
		require.NotNil(t, hits[0].Matched.Lexical, mode)
		require.Equal(t, 1, *hits[0].Matched.Lexical, mode)
		require.Nil(t, hits[0].Matched.Dense, mode)
	}
	_, err := f.search.Search(ctx, f.alice, SearchRequest{Query: "crater", Mode: "dense"})
	e := requireCode(t, err, CodeInvalid, "mode")
	require.Contains(t, e.Message, "embedding model")
	_, err = f.search.Search(ctx, f.alice, SearchRequest{Query: "crater", Mode: "fuzzy"})
	requireCode(t, err, CodeInvalid, "mode")

	// A word in one document only finds that document first; stop words alone
	// find nothing rather than everything.
	hits, err := f.search.Search(ctx, f.carol, SearchRequest{Query: "ash"})
	require.NoError(t, err)
	require.Equal(t, []string{f.carolDoc.ID}, hitDocs(hits))
	hits, err = f.search.Search(ctx, f.alice, SearchRequest{Query: "the and of"})
	require.NoError(t, err)
	require.Empty(t, hits)
}

// A vector payload that claims the searcher may see a chunk is not enough: Postgres
// decides. Here the payload of Alice's private document is rewritten, as a buggy
// or stale sync could, to say Bob owns it and it is in his group.
func TestSearchRechecksEveryHitAgainstPostgres(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	ctx := context.Background()

	require.NoError(t, f.index.SetACL(ctx, f.private.ID, vector.ACL{OwnerID: f.bob.UserID, GroupID: f.team, ACLVersion: 1000}))

	// The corrupted point now passes Bob's vector filter ...
	raw, err := f.index.Retrieve(ctx, index.Query{Text: "secret diary volcano", Filter: access.VectorFilter(f.bob), Limit: 10})
	require.NoError(t, err)
	var leaked bool
	for _, h := range raw.Hits {
		leaked = leaked || h.Payload.DocumentID == f.private.ID
	}
	require.True(t, leaked, "the corrupted payload must pass the vector filter for this test to mean anything")

	// ... yet Bob never gets it, with or without the group filter.
	for _, req := range []SearchRequest{{Query: "secret diary volcano"}, {Query: "secret diary volcano", GroupID: f.team}} {
		hits, err := f.search.Search(ctx, f.bob, req)
		require.NoError(t, err)
		require.NotContains(t, hitDocs(hits), f.private.ID)
		for _, h := range hits {
			require.NotContains(t, h.Text, "secret diary")
		}
	}

	// A payload that claims the team while Postgres says the document is in another
	// group is dropped by the group filter's re-check too.
	require.NoError(t, f.index.SetACL(ctx, f.carolDoc.ID, vector.ACL{OwnerID: f.carol.UserID, GroupID: f.team, ACLVersion: 1000}))
	hits, err := f.search.Search(ctx, f.carol, SearchRequest{Query: "ash clouds", GroupID: f.team})
	require.NoError(t, err)
	require.NotContains(t, hitDocs(hits), f.carolDoc.ID)
	hits, err = f.search.Search(ctx, f.carol, SearchRequest{Query: "ash clouds", GroupID: f.other})
	require.NoError(t, err)
	require.Empty(t, hits, "the vector payload no longer says other; nothing may be invented either")
}

// With an embedding model the dense and the lexical retriever both run and are
// fused; each hit says where each of them ranked it. When the model stops
// answering, hybrid search degrades to lexical instead of failing.
func TestHybridSearchFusesBothRetrievers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	llm := llmtest.New(t)
	model, err := embed.NewOllama(embed.OllamaConfig{URL: llm.URL, Model: llmtest.EmbedModel}, logging.Discard())
	require.NoError(t, err)
	require.NoError(t, model.Probe(ctx))
	t.Cleanup(func() { _ = model.Close() })
	f := newSearchFixtureWith(t, newDocsFixtureWith(t, model))

	hits, err := f.search.Search(ctx, f.alice, SearchRequest{Query: "volcano lava"})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	require.Contains(t, []string{f.private.ID, f.shared.ID}, hits[0].DocumentID)
	require.NotNil(t, hits[0].Matched.Lexical, "the lexical retriever found the best hit")
	require.NotNil(t, hits[0].Matched.Dense, "so did the dense one")
	for i := 1; i < len(hits); i++ {
		require.GreaterOrEqual(t, hits[i-1].Score, hits[i].Score, "fused scores, best first")
	}
	// The dense retriever ranks every point it may see, so the markdown guide comes
	// back from it alone, and says so.
	var guide *SearchHit
	for i := range hits {
		if hits[i].DocumentID == f.markdown.ID {
			guide = &hits[i]
		}
	}
	require.NotNil(t, guide, "%+v", hits)
	require.Nil(t, guide.Matched.Lexical)
	require.NotNil(t, guide.Matched.Dense)

	dense, err := f.search.Search(ctx, f.alice, SearchRequest{Query: "volcano lava", Mode: "dense"})
	require.NoError(t, err)
	require.NotEmpty(t, dense)
	for _, h := range dense {
		require.Nil(t, h.Matched.Lexical)
		require.NotNil(t, h.Matched.Dense)
	}
	lexical, err := f.search.Search(ctx, f.alice, SearchRequest{Query: "volcano lava", Mode: "lexical"})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{f.private.ID, f.shared.ID}, hitDocs(lexical))

	// The model goes away: hybrid answers from the lexical index, dense cannot.
	llm.FailNext("/api/embed", 1000, http.StatusServiceUnavailable)
	degraded, err := f.search.Search(ctx, f.alice, SearchRequest{Query: "volcano lava"})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{f.private.ID, f.shared.ID}, hitDocs(degraded))
	_, err = f.search.Search(ctx, f.alice, SearchRequest{Query: "volcano lava", Mode: "dense"})
	requireCode(t, err, CodeUnavailable, "")
}

// A grant holds on the very next search, before the job that rewrites the vector
// payloads has run: the filter admits the points of documents whose sync lags.
func TestSearchObeysAGrantBeforeThePayloadsFollow(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	ctx := context.Background()
	q := SearchRequest{Query: "secret diary"}
	hits, err := f.search.Search(ctx, f.bob, q)
	require.NoError(t, err)
	require.Empty(t, hits)

	_, err = f.docs.UpdateSharing(ctx, f.alice, f.private.ID, SharingChange{GroupID: &f.team})
	require.NoError(t, err)
	for _, req := range []SearchRequest{q, {Query: "secret diary", GroupID: f.team}} {
		hits, err = f.search.Search(ctx, f.bob, req)
		require.NoError(t, err)
		require.Equal(t, []string{f.private.ID}, hitDocs(hits), "the payload still says private to Alice; Postgres says shared")
	}
	hits, err = f.search.Search(ctx, f.carol, SearchRequest{Query: "secret diary", GroupID: f.other})
	require.NoError(t, err)
	require.Empty(t, hits, "widening admits the document only where Postgres allows it")

	// Once the payloads are synced, the document is no longer pending.
	require.NoError(t, f.store.MarkACLSynced(ctx, map[string]int64{f.private.ID: 2}))
	pending, err := f.store.PendingACLDocuments(ctx, f.bob)
	require.NoError(t, err)
	require.Empty(t, pending)
}
