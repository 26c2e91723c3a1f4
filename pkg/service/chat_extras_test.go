package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/store"
)

func TestChatFeedbackNeedsAnEndedTurnOfTheCaller(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t, ChatConfig{})
	ctx := context.Background()
	alice, bob := f.user(t, "alice"), f.user(t, "bob")
	turn := f.submit(t, alice, f.session(t, alice), "question")

	// Queued and running answers cannot be rated yet.
	_, err := f.chat.SetFeedback(ctx, alice, turn.ID, FeedbackRequest{Rating: RatingUp})
	requireChatCode(t, err, CodeConflict)
	claimed, _, err := f.store.ClaimTurn(ctx, turn.ID)
	require.NoError(t, err)
	_, err = f.chat.SetFeedback(ctx, alice, turn.ID, FeedbackRequest{Rating: RatingUp})
	requireChatCode(t, err, CodeConflict)
	_, err = f.store.FinishTurn(ctx, turn.ID, claimed.Attempt, store.TurnOutcome{Status: store.TurnCompleted, Answer: "answer", SaveMessage: true})
	require.NoError(t, err)

	// Ended, it can, by its asker only; rating again replaces.
	_, err = f.chat.SetFeedback(ctx, bob, turn.ID, FeedbackRequest{Rating: RatingUp})
	requireChatCode(t, err, CodeNotFound)
	blank := "   "
	got, err := f.chat.SetFeedback(ctx, alice, turn.ID, FeedbackRequest{Rating: RatingUp, Comment: &blank})
	require.NoError(t, err)
	require.Nil(t, got.Comment, "a blank comment is no comment")
	text := "Wrong year."
	_, err = f.chat.SetFeedback(ctx, alice, turn.ID, FeedbackRequest{Rating: RatingDown, Comment: &text})
	require.NoError(t, err)
	read, err := f.chat.GetTurn(ctx, alice, turn.ID)
	require.NoError(t, err)
	require.Equal(t, &Feedback{Rating: RatingDown, Comment: &text, UpdatedAt: read.Feedback.UpdatedAt}, read.Feedback)

	// Both fields are checked at once.
	long := strings.Repeat("x", maxFeedbackCommentRunes+1)
	_, err = f.chat.SetFeedback(ctx, alice, turn.ID, FeedbackRequest{Rating: "sideways", Comment: &long})
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, []string{"rating", "comment"}, []string{e.Fields[0].Field, e.Fields[1].Field})
}

func TestSearchTermsAndSnippets(t *testing.T) {
	t.Parallel()
	phrases, words := searchTerms(`"zebra  number 2" -crossed über OR brücke RFC-7231 "-kept"`)
	require.Equal(t, []string{"zebra number 2", "über", "brücke", "RFC-7231"}, phrases)
	require.Equal(t, []string{"zebra", "number", "2", "über", "brücke", "RFC", "7231"}, words)

	long := strings.Repeat("lorem ipsum ", 40) + "the Zebra  crossed\n\nthe road " + strings.Repeat("dolor sit ", 40)
	for _, tc := range []struct {
		name, text string
		terms      [][]string
		want       string
	}{
		{"short text whole", "a <b>zebra</b>\n here", [][]string{{"zebra"}}, "a <b>zebra</b> here"},
		{"around the first term, at words", long, [][]string{{"road", "zebra"}},
			"…" + strings.Repeat("lorem ipsum ", 5) + "the Zebra crossed the road" + strings.Repeat(" dolor sit", 11) + "…"},
		{"no term found: the beginning", long, [][]string{{"giraffe"}, {"okapi"}}, strings.Repeat("lorem ipsum ", 16) + "lorem…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := snippet(tc.text, tc.terms, 200)
			require.Equal(t, tc.want, got)
			require.LessOrEqual(t, len([]rune(got)), 202)
		})
	}

	// A phrase is found as a whole before its words are looked for alone.
	pad := strings.Repeat("padding ", 40)
	codes := pad + "the code CANARY-D3-aaa is here " + pad + "the code CANARY-D1-bbb is here " + pad
	got := snippet(codes, [][]string{{"canary-d1-bbb"}, {"canary", "d1", "bbb"}}, 200)
	require.Contains(t, got, "the code CANARY-D1-bbb is here")
	require.NotContains(t, got, "D3")
	got = snippet(codes, [][]string{{"canary-d9-zzz"}, {"canary", "d9", "zzz"}}, 200)
	require.Contains(t, got, "the code CANARY-D3-aaa is here", "no phrase found: the first word found")
}

func TestChatMarkdownExport(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	id := func(s string) *string { return &s }
	s := store.ChatSession{Title: "  Tide\n tables ", CreatedAt: at}
	msgs := []store.Message{
		{Role: "user", Content: "When is high tide?", TurnID: id("t1"), CreatedAt: at},
		{Role: "assistant", Content: "At noon [2], per [1].", TurnID: id("t1"), CreatedAt: at.Add(time.Minute)},
		{Role: "user", Content: "And tomorrow?", TurnID: id("t2"), CreatedAt: at.Add(2 * time.Minute)},
		{Role: "user", Content: "Still there?", TurnID: id("t3"), CreatedAt: at.Add(3 * time.Minute)},
	}
	turns := []store.Turn{
		{ID: "t1", Status: store.TurnCompleted, Model: "llama3.1", Citations: []store.Citation{
			{Index: 2, Filename: "pier.txt", ChunkIndex: 4}, {Index: 1, Filename: "tides\n2025.pdf", ChunkIndex: 0}}},
		{ID: "t2", Status: store.TurnFailed, Error: &store.TurnError{Code: "model_unavailable", Message: "the model\ndid not answer"}},
		{ID: "t3", Status: store.TurnRunning},
	}
	want := `# Tide tables

Chat started 2025-03-04 05:06 UTC · 4 messages

---

### You · 2025-03-04 05:06 UTC

When is high tide?

---

### Assistant · 2025-03-04 05:07 UTC · llama3.1

At noon [2], per [1].

Sources:

- [1] tides 2025.pdf, passage 1
- [2] pier.txt, passage 5

---

### You · 2025-03-04 05:08 UTC

And tomorrow?

*No answer: failed (the model did not answer).*

---

### You · 2025-03-04 05:09 UTC

Still there?
`
	require.Equal(t, want, string(chatMarkdown(s, msgs, turns)))
	require.Equal(t, "Tide tables 2025-03-04.md", exportFilename(s.Title, at))
	require.Equal(t, "a b c d 2025-03-04.md", exportFilename("a/b\\c\x00d", at))
	require.Equal(t, "chat 2025-03-04.md", exportFilename(" ../ ", at))
	require.Equal(t, strings.Repeat("é", 80)+" 2025-03-04.md", exportFilename(strings.Repeat("é", 90), at))
}
