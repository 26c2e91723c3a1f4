package access

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDocumentScopeAdmits(t *testing.T) {
	t.Parallel()
	g1, g2 := "g1", "g2"
	cases := []struct {
		name  string
		scope DocumentScope
		doc   string
		group *string
		want  bool
	}{
		{"no scope admits a document in no group", DocumentScope{}, "d1", nil, true},
		{"no scope admits a document in a group", DocumentScope{}, "d1", &g1, true},
		{"a chosen document", DocumentScope{DocumentIDs: []string{"d1"}}, "d1", nil, true},
		{"a document not chosen", DocumentScope{DocumentIDs: []string{"d1"}}, "d2", &g1, false},
		{"a document in a chosen group", DocumentScope{GroupIDs: []string{"g1"}}, "d2", &g1, true},
		{"a document in another group", DocumentScope{GroupIDs: []string{"g1"}}, "d2", &g2, false},
		{"a document in no group is in no chosen group", DocumentScope{GroupIDs: []string{"g1"}}, "d2", nil, false},
		{"documents and groups add up", DocumentScope{DocumentIDs: []string{"d1"}, GroupIDs: []string{"g2"}}, "d1", &g1, true},
		{"empty lists are no scope", DocumentScope{DocumentIDs: []string{}, GroupIDs: []string{}}, "d9", nil, true},
	}
	for _, c := range cases {
		require.Equal(t, c.want, c.scope.Admits(c.doc, c.group), c.name)
	}
}

func TestDocumentScopeVectorCondition(t *testing.T) {
	t.Parallel()
	require.Nil(t, DocumentScope{}.VectorCondition("p1"), "no scope adds no condition")

	f := DocumentScope{DocumentIDs: []string{"d1", "d2"}}.VectorCondition("p1").GetFilter()
	require.Len(t, f.Should, 1, "pending documents are only needed for groups: a document's id never changes")
	require.Equal(t, FieldDocument, f.Should[0].GetField().Key)
	require.Equal(t, []string{"d1", "d2"}, f.Should[0].GetField().Match.GetKeywords().Strings)

	f = DocumentScope{GroupIDs: []string{"g1"}}.VectorCondition().GetFilter()
	require.Len(t, f.Should, 1)
	require.Equal(t, FieldGroup, f.Should[0].GetField().Key)

	f = DocumentScope{DocumentIDs: []string{"d1"}, GroupIDs: []string{"g1"}}.VectorCondition("p1").GetFilter()
	require.Len(t, f.Should, 3, "a chosen document, a chosen group, or a document whose payload may name an old group")
	require.Equal(t, []string{"p1"}, f.Should[2].GetField().Match.GetKeywords().Strings)
	require.Empty(t, f.Must, "the scope is one condition: the caller adds it beside the access filter")
}
