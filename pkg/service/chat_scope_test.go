package service

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/store"
)

// requireFieldMessage requires a validation error whose fields are exactly want
// (field → message).
func requireFieldMessage(t *testing.T, err error, want map[string]string) {
	t.Helper()
	e := requireCode(t, err, CodeInvalid, "")
	got := map[string]string{}
	for _, f := range e.Fields {
		got[f.Field] = f.Message
	}
	require.Equal(t, want, got)
}

func TestChatScopeNamesOnlyWhatTheCallerSees(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	ctx := context.Background()
	chat := NewChat(f.store, newMemEvents(), ChatConfig{}, logging.Discard())

	// Bob sees the shared document and his team; not Alice's private one, nor the
	// other group and its document.
	s, err := chat.CreateScopedSession(ctx, f.bob, "about the notes", &Scope{DocumentIDs: []string{f.shared.ID}, GroupIDs: []string{f.team}})
	require.NoError(t, err)
	require.Equal(t, &Scope{DocumentIDs: []string{f.shared.ID}, GroupIDs: []string{f.team}}, s.Scope)
	got, err := chat.GetSession(ctx, f.bob, s.ID)
	require.NoError(t, err)
	require.Equal(t, s.Scope, got.Session.Scope)

	// What he cannot see is refused in the same words as what does not exist, so a
	// scope tells nobody what exists.
	missing := uuid.NewString()
	for _, sc := range []*Scope{
		{DocumentIDs: []string{f.shared.ID, f.private.ID, missing, "not-an-id"}, GroupIDs: []string{f.other, uuid.NewString(), f.team}},
	} {
		_, err := chat.CreateScopedSession(ctx, f.bob, "", sc)
		want := map[string]string{
			"scope.document_ids[1]": "no such document", "scope.document_ids[2]": "no such document", "scope.document_ids[3]": "no such document",
			"scope.group_ids[0]": "no such group", "scope.group_ids[1]": "no such group",
		}
		requireFieldMessage(t, err, want)
		_, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{Scope: sc})
		requireFieldMessage(t, err, want)
		_, _, err = chat.Submit(ctx, f.bob, s.ID, SubmitRequest{Content: "hi", Scope: sc})
		requireFieldMessage(t, err, want)
	}
	// Nothing was created or changed by the refusals.
	page, err := chat.ListSessions(ctx, f.bob, 10, "")
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	got, err = chat.GetSession(ctx, f.bob, s.ID)
	require.NoError(t, err)
	require.Equal(t, s.Scope, got.Session.Scope)
	require.Empty(t, got.Messages)

	// A deleted document is not one to choose either.
	deleted := f.upload(t, f.bob, UploadOptions{}, map[string]string{"gone.txt": "soon gone"})[0]
	require.NoError(t, f.docs.Delete(ctx, f.bob, deleted.ID))
	_, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{Scope: &Scope{DocumentIDs: []string{deleted.ID}}})
	requireFieldMessage(t, err, map[string]string{"scope.document_ids[0]": "no such document"})

	// Too many ids is said of the list.
	many := make([]string, MaxScopeIDs+1)
	for i := range many {
		many[i] = uuid.NewString()
	}
	_, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{Scope: &Scope{DocumentIDs: many, GroupIDs: many}})
	requireFieldMessage(t, err, map[string]string{"scope.document_ids": "at most 100 documents", "scope.group_ids": "at most 100 groups"})

	// Ids are kept in canonical form, each once.
	up, err := chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{Scope: &Scope{DocumentIDs: []string{strings.ToUpper(f.shared.ID), f.shared.ID}}})
	require.NoError(t, err)
	require.Equal(t, &Scope{DocumentIDs: []string{f.shared.ID}, GroupIDs: []string{}}, up.Scope)

	// A key limited to the team may name the team only, even for Carol, who is in both.
	limited := f.carol.Limit(access.Limits{GroupIDs: []string{f.team}})
	_, err = chat.CreateScopedSession(ctx, limited, "", &Scope{GroupIDs: []string{f.other}})
	requireFieldMessage(t, err, map[string]string{"scope.group_ids[0]": "no such group"})
	_, err = chat.CreateScopedSession(ctx, limited, "", &Scope{DocumentIDs: []string{f.carolDoc.ID}})
	requireFieldMessage(t, err, map[string]string{"scope.document_ids[0]": "no such document"})
	_, err = chat.CreateScopedSession(ctx, f.carol, "", &Scope{GroupIDs: []string{f.other}, DocumentIDs: []string{f.carolDoc.ID}})
	require.NoError(t, err)

	// Somebody else's session stays hidden whatever the scope.
	_, err = chat.UpdateSession(ctx, f.alice, s.ID, SessionUpdate{Scope: &Scope{GroupIDs: []string{f.team}}})
	requireChatCode(t, err, CodeNotFound)

	// A patch must change something; a title alone leaves the scope.
	_, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{})
	requireFieldMessage(t, err, map[string]string{"title": "required unless scope is given"})
	title := "renamed"
	up, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{Title: &title})
	require.NoError(t, err)
	require.Equal(t, "renamed", up.Title)
	require.Equal(t, []string{f.shared.ID}, up.Scope.DocumentIDs)
	up, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{ClearScope: true})
	require.NoError(t, err)
	require.Nil(t, up.Scope)
	up, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{Scope: &Scope{GroupIDs: []string{f.team}}})
	require.NoError(t, err)
	up, err = chat.UpdateSession(ctx, f.bob, s.ID, SessionUpdate{Scope: &Scope{}})
	require.NoError(t, err)
	require.Nil(t, up.Scope, "a scope naming nothing is no scope")
}

func TestChatTurnCarriesItsScope(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	ctx := context.Background()
	chat := NewChat(f.store, newMemEvents(), ChatConfig{MaxActiveTurns: 10}, logging.Discard())
	s, err := chat.CreateScopedSession(ctx, f.bob, "", &Scope{DocumentIDs: []string{f.shared.ID}})
	require.NoError(t, err)
	stored := func(turnID string) access.DocumentScope {
		t.Helper()
		turn, err := f.store.GetTurn(ctx, turnID)
		require.NoError(t, err)
		return turn.Scope
	}
	finish := func(turnID string) {
		t.Helper()
		claimed, ok, err := f.store.ClaimTurn(ctx, turnID)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = f.store.FinishTurn(ctx, turnID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted, Answer: "done", SaveMessage: true})
		require.NoError(t, err)
	}

	// A question without a scope of its own takes the session's.
	_, turn, err := chat.Submit(ctx, f.bob, s.ID, SubmitRequest{Content: "what do the notes say?"})
	require.NoError(t, err)
	require.Equal(t, &Scope{DocumentIDs: []string{f.shared.ID}, GroupIDs: []string{}}, turn.Scope)
	require.Equal(t, access.DocumentScope{DocumentIDs: []string{f.shared.ID}, GroupIDs: []string{}}, stored(turn.ID), "the worker reads it with the turn")
	finish(turn.ID)

	// Its own scope wins, for that question only.
	_, turn, err = chat.Submit(ctx, f.bob, s.ID, SubmitRequest{Content: "and the team's?", Scope: &Scope{GroupIDs: []string{f.team}}})
	require.NoError(t, err)
	require.Equal(t, []string{f.team}, turn.Scope.GroupIDs)
	require.Equal(t, []string{f.team}, stored(turn.ID).GroupIDs)
	got, err := chat.GetTurn(ctx, f.bob, turn.ID)
	require.NoError(t, err)
	require.Equal(t, turn.Scope, got.Scope)
	finish(turn.ID)

	// A scope naming nothing asks everything the caller may see.
	_, turn, err = chat.Submit(ctx, f.bob, s.ID, SubmitRequest{Content: "anything at all?", Scope: &Scope{}})
	require.NoError(t, err)
	require.Nil(t, turn.Scope)
	require.True(t, stored(turn.ID).IsZero())
	finish(turn.ID)

	// Asking the last question again takes the session's scope too.
	_, again, err := chat.Submit(ctx, f.bob, s.ID, SubmitRequest{RegenerateOf: turn.ID})
	require.NoError(t, err)
	require.Equal(t, []string{f.shared.ID}, again.Scope.DocumentIDs)

	// A session without a scope asks unscoped.
	plain, err := chat.CreateScopedSession(ctx, f.bob, "", nil)
	require.NoError(t, err)
	require.Nil(t, plain.Scope)
	_, turn, err = chat.Submit(ctx, f.bob, plain.ID, SubmitRequest{Content: "hello"})
	require.NoError(t, err)
	require.Nil(t, turn.Scope)
}

func TestSearchScopeOnlyNarrows(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	ctx := context.Background()
	search := func(p access.Principal, scope access.DocumentScope) []string {
		t.Helper()
		hits, err := f.search.Search(ctx, p, SearchRequest{Query: "volcano lava ash diary", Limit: 20, Scope: scope})
		require.NoError(t, err)
		return hitDocs(hits)
	}
	require.ElementsMatch(t, []string{f.private.ID, f.shared.ID}, search(f.alice, access.DocumentScope{}), "without a scope")
	require.Equal(t, []string{f.shared.ID}, search(f.alice, access.DocumentScope{DocumentIDs: []string{f.shared.ID}}))
	require.Equal(t, []string{f.shared.ID}, search(f.alice, access.DocumentScope{GroupIDs: []string{f.team}}), "her private document is in no group")
	require.ElementsMatch(t, []string{f.private.ID, f.shared.ID},
		search(f.alice, access.DocumentScope{DocumentIDs: []string{f.private.ID}, GroupIDs: []string{f.team}}), "documents and groups add up")

	// A scope naming what the caller may not see finds nothing of it: it narrows the
	// access rule, never widens it.
	require.Equal(t, []string{f.shared.ID}, search(f.bob, access.DocumentScope{DocumentIDs: []string{f.private.ID, f.shared.ID, f.carolDoc.ID}}))
	require.Empty(t, search(f.bob, access.DocumentScope{GroupIDs: []string{f.other}}))
	require.Empty(t, search(f.bob, access.DocumentScope{DocumentIDs: []string{f.private.ID}}))
	require.Equal(t, []string{f.carolDoc.ID}, search(f.carol, access.DocumentScope{GroupIDs: []string{f.other}}))
	limited := f.carol.Limit(access.Limits{GroupIDs: []string{f.team}})
	require.Empty(t, search(limited, access.DocumentScope{GroupIDs: []string{f.other}}), "nor does it widen a key's group limit")

	// A document just shared into a chosen group is found there before its payloads
	// say so; one just taken out of it is not found there any more.
	_, err := f.docs.UpdateSharing(ctx, f.alice, f.private.ID, SharingChange{GroupID: &f.team})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{f.private.ID, f.shared.ID}, search(f.bob, access.DocumentScope{GroupIDs: []string{f.team}}))
	_, err = f.docs.UpdateSharing(ctx, f.alice, f.shared.ID, SharingChange{GroupID: new(string)})
	require.NoError(t, err)
	require.Equal(t, []string{f.private.ID}, search(f.bob, access.DocumentScope{GroupIDs: []string{f.team}}))
	require.Equal(t, []string{f.private.ID}, search(f.alice, access.DocumentScope{GroupIDs: []string{f.team}}),
		"her own document's payload still names the team, Postgres no group")
	require.Equal(t, []string{f.shared.ID}, search(f.alice, access.DocumentScope{DocumentIDs: []string{f.shared.ID}}), "by id she still finds her own")
}
