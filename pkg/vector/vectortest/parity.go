package vectortest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/vector"
)

// The parity suite holds the vector store to Qdrant's own tests: each case is
// a filter from one of Qdrant's tests, pasted in Qdrant's REST JSON, with the
// points that test loads and the points Qdrant's test expects. Cases run
// through the production adapter, so they check the adapter and the store
// together, and run the same against a real Qdrant.

// parityFixture is the points one Qdrant test loads: a JSON list of
// {"id": n, "payload": {...}} (ids are Qdrant's small integers or UUIDs).
type parityFixture struct {
	name   string
	points string
	// indexes are created for the indexed run of every case; Qdrant's tests
	// expect the same results with and without them.
	indexes []parityIndex
	// indexedOnly runs the cases only with the indexes, for behaviour an
	// index changes (a full-text index turns substring into word matching).
	indexedOnly bool
}

type parityIndex struct {
	field  string
	typ    qdrant.FieldType
	params *qdrant.PayloadIndexParams
}

// parityCase is one filter and the ids Qdrant returns for it.
type parityCase struct {
	// source names the Qdrant test: file and function (Python), or file and
	// test function (Rust).
	source  string
	fixture *parityFixture
	filter  string
	want    []any // ids as Qdrant's test writes them: integers or UUID strings
	// wantErr: Qdrant refuses the filter.
	wantErr bool
}

// parityNamespace turns Qdrant's integer test ids into the UUIDs the adapter
// writes.
var parityNamespace = uuid.MustParse("0b6c7a52-3f0e-4a0e-8a51-5d1f6e3c9a10")

func parityUUID(id any) string {
	switch x := id.(type) {
	case string:
		return x
	case int:
		return uuid.NewSHA1(parityNamespace, []byte(strconv.Itoa(x))).String()
	case uint64:
		return uuid.NewSHA1(parityNamespace, []byte(strconv.FormatUint(x, 10))).String()
	}
	panic(fmt.Sprintf("parity id %v (%T)", id, id))
}

func mapParityID(id *qdrant.PointId) *qdrant.PointId {
	if id.GetUuid() != "" {
		return id
	}
	return qdrant.NewIDUUID(parityUUID(id.GetNum()))
}

// loaded is a fixture written into a collection.
type loaded struct {
	collection string
	ids        map[string]any // adapter id -> Qdrant's id
}

func loadFixture(t *testing.T, st *vector.Store, raw *qdrant.Client, fx *parityFixture, indexed bool) loaded {
	t.Helper()
	ctx := context.Background()
	var pts []struct {
		ID      json.RawMessage `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	require.NoError(t, json.Unmarshal([]byte(fx.points), &pts), fx.name)
	coll := Collection(t, st, 4, vector.Cosine)
	if indexed {
		for _, ix := range fx.indexes {
			_, err := raw.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
				CollectionName: coll, Wait: qdrant.PtrOf(true), FieldName: ix.field, FieldType: &ix.typ, FieldIndexParams: ix.params,
			})
			require.NoError(t, err, "index %s", ix.field)
		}
	}
	l := loaded{collection: coll, ids: make(map[string]any)}
	// Points are written as Qdrant's tests write them, by an upsert with the
	// whole payload: the adapter's upsert takes only chunk payloads, and a
	// set-payload would drop null values where an upsert keeps them.
	var points []*qdrant.PointStruct
	for i, p := range pts {
		var id any
		var n int
		if err := json.Unmarshal(p.ID, &n); err == nil {
			id = n
		} else {
			var s string
			require.NoError(t, json.Unmarshal(p.ID, &s))
			id = s
		}
		pid := parityUUID(id)
		l.ids[pid] = id
		payload, err := PayloadFromJSON(string(orNull(p.Payload)))
		require.NoError(t, err)
		values, err := qdrant.TryValueMap(payload)
		require.NoError(t, err)
		points = append(points, &qdrant.PointStruct{Id: qdrant.NewIDUUID(pid), Vectors: qdrant.NewVectors(1, float32(i+1), 0.5, 0.25), Payload: values})
	}
	if len(points) > 0 {
		_, err := raw.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: coll, Wait: qdrant.PtrOf(true), Points: points})
		require.NoError(t, err)
	}
	return l
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// RunParity runs every parity case against the store: once without payload
// indexes and once with the fixture's indexes. raw is a go-client connected
// to the same store, for the writes the adapter has no call for (loading
// arbitrary payloads, creating payload indexes).
func RunParity(t *testing.T, st *vector.Store, raw *qdrant.Client) {
	byFixture := make(map[*parityFixture][]parityCase)
	var order []*parityFixture
	for _, c := range parityCases() {
		if _, ok := byFixture[c.fixture]; !ok {
			order = append(order, c.fixture)
		}
		byFixture[c.fixture] = append(byFixture[c.fixture], c)
	}
	for _, fx := range order {
		variants := []bool{false}
		if len(fx.indexes) > 0 {
			variants = append(variants, true)
		}
		if fx.indexedOnly {
			variants = []bool{true}
		}
		for _, indexed := range variants {
			name := fx.name
			if indexed {
				name += "/indexed"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				l := loadFixture(t, st, raw, fx, indexed)
				for _, c := range byFixture[fx] {
					runParityCase(t, st, l, c)
				}
			})
		}
	}
}

func runParityCase(t *testing.T, st *vector.Store, l loaded, c parityCase) {
	t.Helper()
	ctx := context.Background()
	f, err := RESTFilter(c.filter, MapIDs(mapParityID))
	require.NoError(t, err, "%s: %s", c.source, c.filter)
	got := []string{}
	err = st.ScrollAll(ctx, l.collection, f, scrollAll, func(page []vector.Point) error {
		for _, p := range page {
			got = append(got, fmt.Sprint(l.ids[p.ID]))
		}
		return nil
	})
	if c.wantErr {
		require.Error(t, err, "%s: Qdrant refuses %s", c.source, c.filter)
		return
	}
	require.NoError(t, err, "%s: %s", c.source, c.filter)
	want := make([]string, len(c.want))
	for i, id := range c.want {
		want[i] = fmt.Sprint(id)
	}
	slices.Sort(want)
	slices.Sort(got)
	require.Equal(t, want, got, "%s: %s", c.source, c.filter)
	n, err := st.Count(ctx, l.collection, f)
	require.NoError(t, err)
	require.Equal(t, uint64(len(want)), n, "%s: count of %s", c.source, c.filter)
}

// scrollAll pages through a whole small collection in one call.
var scrollAll = vector.ScrollOptions{PageSize: 1000}
