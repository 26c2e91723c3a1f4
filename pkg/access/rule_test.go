package access

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanSee(t *testing.T) {
	t.Parallel()
	g1, g2 := "g1", "g2"
	owner := Principal{UserID: "u1"}
	member := Principal{UserID: "u2", GroupIDs: []string{g1}}
	admin := Principal{UserID: "u9", IsAdmin: true}
	cases := []struct {
		name    string
		p       Principal
		group   *string
		private bool
		want    bool
	}{
		{"owner, no group", owner, nil, false, true},
		{"owner, private in group", owner, &g1, true, true},
		{"member, shared", member, &g1, false, true},
		{"member, private", member, &g1, true, false},
		{"member of other group", member, &g2, false, false},
		{"no group", member, nil, false, false},
		{"admin gets nothing from being admin", admin, &g1, false, false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, CanSee(c.p, "u1", c.group, c.private), c.name)
	}
}

func TestVectorFilterShape(t *testing.T) {
	t.Parallel()
	f := VectorFilter(Principal{UserID: "u1"})
	require.Len(t, f.Should, 1, "without groups only ownership matches")
	f = VectorFilter(Principal{UserID: "u1", GroupIDs: []string{"a", "b"}})
	require.Len(t, f.Should, 2)
	inner := f.Should[1].GetFilter()
	require.Len(t, inner.Must, 2)
	require.Equal(t, FieldGroup, inner.Must[0].GetField().Key)
	require.Equal(t, []string{"a", "b"}, inner.Must[0].GetField().Match.GetKeywords().Strings)
	require.False(t, inner.Must[1].GetField().Match.GetBoolean())
}
