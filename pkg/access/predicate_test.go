package access_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/pgtest"
)

// The SQL predicates are the rules Postgres applies, so they are tried on Postgres:
// one small world of users, groups and documents, and for each user the documents
// each predicate admits.
func TestSQLPredicatesOnPostgres(t *testing.T) {
	t.Parallel()
	tx := pgtest.Tx(t)
	ctx := context.Background()

	id := map[string]string{}
	exec := func(q string, args ...any) string {
		t.Helper()
		var out string
		require.NoError(t, tx.QueryRow(ctx, q+" RETURNING id::text", args...).Scan(&out), q)
		return out
	}
	for _, u := range []string{"owner", "member", "stranger", "admin"} {
		id[u] = exec("INSERT INTO users (name, is_admin) VALUES ($1, $2)", "pred-"+u, u == "admin")
	}
	for _, g := range []string{"g1", "g2"} {
		id[g] = exec("INSERT INTO groups (name) VALUES ($1)", "pred-"+g)
	}
	for _, m := range [][3]string{{"g1", "owner", "admin"}, {"g1", "member", "member"}, {"g2", "stranger", "admin"}} {
		_, err := tx.Exec(ctx, "INSERT INTO memberships (group_id, user_id, role) VALUES ($1, $2, $3)", id[m[0]], id[m[1]], m[2])
		require.NoError(t, err)
	}
	docs := []struct {
		name    string
		group   string
		private bool
		deleted bool
	}{
		{"own", "", false, false},
		{"shared", "g1", false, false},
		{"private-in-group", "g1", true, false},
		{"deleted-shared", "g1", false, true},
	}
	for i, d := range docs {
		var group *string
		if d.group != "" {
			g := id[d.group]
			group = &g
		}
		id[d.name] = exec(`INSERT INTO documents (owner_id, group_id, private, filename, mime, format, size_bytes, sha256, object_key, deleted_at)
			VALUES ($1, $2, $3, 'f.txt', 'text/plain', 'text', 1, $4, 'k', CASE WHEN $5 THEN now() END)`,
			id["owner"], group, d.private, fmt.Sprintf("%064x", i), d.deleted)
	}
	admittedTo := func(predicate string, p access.Principal) []string {
		t.Helper()
		rows, err := tx.Query(ctx, `SELECT d.id::text FROM documents d WHERE d.owner_id = $1 AND `+predicate,
			append([]any{id["owner"]}, access.DocumentArgs(p)...)...)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		var names []string
		for _, d := range docs {
			if slices.Contains(got, id[d.name]) {
				names = append(names, d.name)
			}
		}
		return names
	}
	principal := func(user string) access.Principal {
		var groups []string
		for _, m := range [][2]string{{"g1", "owner"}, {"g1", "member"}, {"g2", "stranger"}} {
			if m[1] == user {
				groups = append(groups, id[m[0]])
			}
		}
		return access.Principal{UserID: id[user], GroupIDs: groups}
	}
	admitted := func(predicate, user string) []string { return admittedTo(predicate, principal(user)) }

	see := access.DocumentPredicate("d", 2)
	require.Equal(t, []string{"own", "shared", "private-in-group"}, admitted(see, "owner"))
	require.Equal(t, []string{"shared"}, admitted(see, "member"), "members see what is shared, not what is private")
	require.Empty(t, admitted(see, "stranger"))
	require.Empty(t, admitted(see, "admin"), "being an admin grants no documents")

	modify := access.ModifyDocumentPredicate("d", 2)
	require.Equal(t, []string{"own", "shared", "private-in-group"}, admitted(modify, "owner"))
	require.Empty(t, admitted(modify, "member"), "seeing a document is not owning it")
	require.Empty(t, admitted(modify, "stranger"))
	require.Empty(t, admitted(modify, "admin"))

	// A principal limited to some groups (a scoped key) sees and changes only
	// documents in them: its own document in no group is hidden from it too.
	inG1 := principal("owner").Limit(access.Limits{GroupIDs: []string{id["g1"]}})
	require.Equal(t, []string{"shared", "private-in-group"}, admittedTo(see, inG1))
	require.Equal(t, []string{"shared", "private-in-group"}, admittedTo(modify, inG1))
	inG2 := principal("owner").Limit(access.Limits{GroupIDs: []string{id["g2"]}})
	require.Empty(t, inG2.GroupIDs, "a limit reaches no group the user is not in")
	require.Empty(t, admittedTo(see, inG2), "limited to a group the owner is not in: nothing")
	require.Empty(t, admittedTo(modify, inG2))
	memberInG1 := principal("member").Limit(access.Limits{GroupIDs: []string{id["g1"], id["g2"]}})
	require.Equal(t, []string{"shared"}, admittedTo(see, memberInG1))
	scopesOnly := principal("owner").Limit(access.Limits{Scopes: []access.Scope{access.ScopeDocumentsRead}})
	require.Equal(t, []string{"own", "shared", "private-in-group"}, admittedTo(see, scopesOnly), "scopes alone narrow no document")
}
