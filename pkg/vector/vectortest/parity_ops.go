package vectortest

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/youworker/youworker/pkg/vector"
)

// RunParityOps runs the writes of Qdrant's tests that the adapter can make
// (delete by filter, set payload, aliases, UUID ids, creating a collection
// twice) and checks what Qdrant's tests check. raw makes the few calls the
// adapter has no method for.
func RunParityOps(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	tests := []struct {
		source string
		fn     func(t *testing.T, st *vector.Store, raw *qdrant.Client)
	}{
		{openapi + "test_filtered_delete.py::test_delete_by_payload_filter", testParityFilteredDelete},
		{openapi + "test_payload_operations.py::test_payload_operations", testParitySetPayloadByFilter},
		{openapi + "test_payload_operations.py::test_payload_index_overwrite", testParityPayloadIndexOverwrite},
		{openapi + "test_uuid_ops.py::test_uuid_operations", testParityUUIDs},
		{openapi + "test_alias.py::test_alias_operations", testParityAliasOperations},
		{openapi + "test_alias.py::test_cant_create_alias_if_collection_exists", testParityAliasOnCollection},
		{openapi + "test_alias.py::test_cant_create_collection_if_alias_exists", testParityCollectionOnAlias},
		{"lib/storage/src/content_manager/collections_ops.rs::validate_collection_not_exists", testParityCollectionTwice},
		{openapi + "test_filter_has_vector.py::test_filter_has_vector", testParityHasVector},
	}
	for _, tc := range tests {
		t.Run(tc.source, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, st, raw)
		})
	}
}

func count(t *testing.T, st *vector.Store, coll, filter string) uint64 {
	t.Helper()
	f, err := RESTFilter(filter, MapIDs(mapParityID))
	require.NoError(t, err)
	n, err := st.Count(context.Background(), coll, f)
	require.NoError(t, err)
	return n
}

func hasIDs(ids ...int) *qdrant.Filter {
	pids := make([]*qdrant.PointId, len(ids))
	for i, id := range ids {
		pids[i] = qdrant.NewIDUUID(parityUUID(id))
	}
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(pids...)}}
}

func testParityFilteredDelete(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	ctx := context.Background()
	fx := &parityFixture{name: "filtered delete", points: "[]", indexes: []parityIndex{{field: "a", typ: qdrant.FieldType_FieldTypeKeyword}}}
	l := loadFixture(t, st, raw, fx, true)
	const n, keywords = 3000, 5
	var points []vector.Point
	groups := make([][]int, keywords)
	for i := range n {
		points = append(points, vector.Point{ID: parityUUID(i), Vector: []float32{1, float32(i), 0, 1}})
		groups[i%keywords] = append(groups[i%keywords], i)
	}
	require.NoError(t, st.Upsert(ctx, l.collection, points))
	for k, ids := range groups {
		require.NoError(t, st.SetPayloadByFilter(ctx, l.collection, hasIDs(ids...), map[string]any{"a": "keyword_" + strconv.Itoa(k)}))
	}
	for k := range keywords {
		f, err := RESTFilter(`{"must": [{"key": "a", "match": {"value": "keyword_` + strconv.Itoa(k) + `"}}]}`)
		require.NoError(t, err)
		require.NoError(t, st.DeleteByFilter(ctx, l.collection, f))
		require.Equal(t, uint64(n/keywords*(keywords-1-k)), count(t, st, l.collection, `{}`))
	}
}

func testParitySetPayloadByFilter(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	ctx := context.Background()
	l := loadFixture(t, st, raw, basicPoints, false)
	require.NoError(t, st.SetPayloadByFilter(ctx, l.collection, hasIDs(1, 2, 3), map[string]any{"key4": "aaa"}))
	require.Equal(t, uint64(3), count(t, st, l.collection, `{"must": [{"key": "key4", "match": {"value": "aaa"}}]}`))
	f, err := RESTFilter(`{"must": [{"key": "key4", "match": {"value": "aaa"}}]}`)
	require.NoError(t, err)
	require.NoError(t, st.SetPayloadByFilter(ctx, l.collection, f, map[string]any{"key5": "bbb"}))
	require.Equal(t, uint64(3), count(t, st, l.collection, `{"must": [{"key": "key5", "match": {"value": "bbb"}}]}`))
	// Setting a payload keeps the other keys.
	require.Equal(t, uint64(1), count(t, st, l.collection, `{"must": [{"key": "key5", "match": {"value": "bbb"}}, {"key": "city", "match": {"value": "London"}}]}`))
	// A null in a set-payload removes the key (lib/segment/src/common/utils.rs
	// merge_map, used by Payload::merge): point 1 is then empty, not null,
	// unlike point 7, upserted with a null.
	require.NoError(t, st.SetPayloadByFilter(ctx, l.collection, hasIDs(1), map[string]any{"city": nil}))
	require.Equal(t, uint64(1), count(t, st, l.collection, `{"must": [{"is_null": {"key": "city"}}]}`))
	require.Equal(t, uint64(1), count(t, st, l.collection, `{"must": [{"is_empty": {"key": "city"}}, {"has_id": [1]}]}`))
	require.Equal(t, uint64(0), count(t, st, l.collection, `{"must": [{"is_null": {"key": "city"}}, {"has_id": [1]}]}`))
}

func testParityPayloadIndexOverwrite(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	ctx := context.Background()
	fx := &parityFixture{
		name:   "payload index overwrite",
		points: `[{"id": 1, "payload": {"a": {"x": 1}, "b": 1, "nested": {"a": {"x": 1}, "b": 1}}}]`,
	}
	for _, field := range []string{"a.x", "a.y", "b", "nested.a.x", "nested.a.y", "nested.b"} {
		fx.indexes = append(fx.indexes, parityIndex{field: field, typ: qdrant.FieldType_FieldTypeInteger})
	}
	l := loadFixture(t, st, raw, fx, true)
	require.NoError(t, st.SetPayloadByFilter(ctx, l.collection, hasIDs(1), map[string]any{"a": map[string]any{"y": 1}}))
	require.Zero(t, count(t, st, l.collection, `{"must": [{"key": "a.x", "match": {"value": 1}}]}`))
	require.Equal(t, uint64(1), count(t, st, l.collection, `{"must": [{"key": "a.y", "match": {"value": 1}}]}`))
	require.Equal(t, uint64(1), count(t, st, l.collection, `{"must": [{"key": "nested.a.x", "match": {"value": 1}}]}`))
}

func testParityUUIDs(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	ctx := context.Background()
	fx := &parityFixture{name: "uuid ops", points: `[
		{"id": "b524a3c4-c568-4383-8019-c9ca08243d6a", "payload": {"city": "Berlin"}},
		{"id": "1d675313-d3dd-4646-8b98-8052364872da", "payload": {"city": ["Berlin", "London"]}}
	]`}
	l := loadFixture(t, st, raw, fx, false)
	got, err := st.GetPoints(ctx, l.collection, []string{"b524a3c4-c568-4383-8019-c9ca08243d6a", "1d675313-d3dd-4646-8b98-8052364872da"}, false)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, uint64(1), count(t, st, l.collection, `{"must": [{"has_id": ["1d675313-d3dd-4646-8b98-8052364872da"]}, {"key": "city", "match": {"value": "London"}}]}`))
}

func testParityAliasOperations(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	ctx := context.Background()
	l := loadFixture(t, st, raw, basicPoints, false)
	alias := Name(t, "ywparity")
	require.NoError(t, st.SwitchAlias(ctx, alias, l.collection))
	t.Cleanup(func() { _ = st.DeleteAlias(context.Background(), alias) })
	all, err := st.ListAliases(ctx)
	require.NoError(t, err)
	require.Equal(t, l.collection, all[alias])
	hits, err := st.Search(ctx, alias, []float32{0.2, 0.1, 0.9, 0.7}, nil, 3)
	require.NoError(t, err)
	require.Len(t, hits, 3)
	require.NoError(t, st.DeleteAlias(ctx, alias))
	all, err = st.ListAliases(ctx)
	require.NoError(t, err)
	require.NotContains(t, all, alias)
}

func testParityAliasOnCollection(t *testing.T, st *vector.Store, _ *qdrant.Client) {
	c1 := Collection(t, st, 4, vector.Cosine)
	c2 := Collection(t, st, 4, vector.Cosine)
	// Qdrant answers 409 over REST, AlreadyExists over gRPC.
	require.ErrorIs(t, st.SwitchAlias(context.Background(), c2, c1), vector.ErrConflict)
}

func testParityCollectionOnAlias(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	ctx := context.Background()
	coll := Collection(t, st, 4, vector.Cosine)
	alias := Name(t, "ywparity")
	require.NoError(t, st.SwitchAlias(ctx, alias, coll))
	t.Cleanup(func() { _ = st.DeleteAlias(context.Background(), alias) })
	err := raw.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: alias,
		VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Dot}),
	})
	// Qdrant answers 400 over REST: a bad request, not a conflict.
	require.Equal(t, codes.InvalidArgument, status.Code(unwrap(err)), "%v", err)
}

func testParityCollectionTwice(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	ctx := context.Background()
	coll := Collection(t, st, 4, vector.Cosine)
	err := raw.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: coll,
		VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 4, Distance: qdrant.Distance_Cosine}),
	})
	require.Equal(t, codes.AlreadyExists, status.Code(unwrap(err)), "%v", err)
	require.NoError(t, st.EnsureCollection(ctx, coll, 4, vector.Cosine), "ensuring an existing collection is a no-op")
}

// testParityHasVector: has_vector holds for the points that have a vector of
// that name; Qdrant's test loads points with only some named vectors, here
// the lexical sparse vector is on one point of two.
func testParityHasVector(t *testing.T, st *vector.Store, _ *qdrant.Client) {
	ctx := context.Background()
	coll := HybridCollection(t, st, 4, vector.Cosine)
	require.NoError(t, st.Upsert(ctx, coll, []vector.Point{
		{ID: parityUUID(1), Vector: []float32{1, 0, 0, 0}, Sparse: &vector.SparseVector{Indices: []uint32{1}, Values: []float32{1}}},
		{ID: parityUUID(2), Vector: []float32{0, 1, 0, 0}},
	}))
	require.Equal(t, uint64(1), count(t, st, coll, `{"must": [{"has_vector": "`+vector.SparseName+`"}]}`))
	require.Equal(t, uint64(1), count(t, st, coll, `{"must_not": [{"has_vector": "`+vector.SparseName+`"}]}`))
	require.Equal(t, uint64(2), count(t, st, coll, `{"must": [{"has_vector": ""}]}`))
}

// unwrap takes the gRPC status error out of the go-client's wrapping.
func unwrap(err error) error {
	var qe *qdrant.QdrantError
	if errors.As(err, &qe) {
		return qe.Unwrap()
	}
	return err
}
