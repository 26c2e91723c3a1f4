package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// What people do with their chats besides chatting: find one, rate an answer,
// take a chat away as a document.

// maxSearchRunes bounds a search query: a query is a few words, not a document.
const maxSearchRunes = 200

// Search pages through the places in the caller's chats — titles and messages —
// that contain the words of q (web search syntax: "a phrase", or, -word), newest
// first. Nobody else's chats are ever searched.
func (c *Chat) Search(ctx context.Context, p access.Principal, q string, limit int, cursor string) (store.Page[ChatHit], error) {
	var v validation
	q = strings.TrimSpace(q)
	if q == "" {
		v.add("q", "required: the words to look for")
	} else if n := utf8.RuneCountInString(q); n > maxSearchRunes {
		v.add("q", "at most %d characters (got %d)", maxSearchRunes, n)
	}
	if err := v.err(); err != nil {
		return store.Page[ChatHit]{}, err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return store.Page[ChatHit]{}, err
	}
	page, err := c.store.SearchChats(ctx, p.UserID, q, clampLimit(limit), after)
	phrases, words := searchTerms(q)
	hits := mapPage(page, func(h store.ChatHit) ChatHit { return chatHitFromRow(h, [][]string{phrases, words}) })
	if hits.Items == nil {
		hits.Items = []ChatHit{}
	}
	return hits, err
}

// snippetRunes is the most a search snippet shows of a message.
const snippetRunes = 200

// searchTerms reads a web search query as the server's full-text search does: its
// phrases (a "quoted phrase", or a word as written, like RFC-7231) and the words
// within them, less the operator or and the excluded -words. Snippets centre on a
// phrase where one is found, and on a word otherwise.
func searchTerms(q string) (phrases, words []string) {
	for i, part := range strings.Split(q, `"`) {
		tokens := strings.Fields(part)
		if i%2 == 1 { // within quotes
			tokens = []string{strings.Join(tokens, " ")}
		}
		for _, tok := range tokens {
			if tok == "" || strings.HasPrefix(tok, "-") || strings.EqualFold(tok, "or") {
				continue
			}
			phrases = append(phrases, tok)
			words = append(words, strings.FieldsFunc(tok, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })...)
		}
	}
	return phrases, words
}

// snippet is the part of text, its spaces collapsed, around the first place where
// one of the terms of the first tier that has any occurs (ignoring case), at most
// width runes and cut at spaces where it can be, with an ellipsis where text goes
// on. It is the text as written, never markup: clients show it as text.
func snippet(text string, tiers [][]string, width int) string {
	r := []rune(strings.Join(strings.Fields(text), " "))
	if len(r) <= width {
		return string(r)
	}
	lower := foldRunes(r)
	at := -1
	for _, terms := range tiers {
		for _, term := range terms {
			if i := indexRunes(lower, foldRunes([]rune(strings.Join(strings.Fields(term), " ")))); i >= 0 && (at < 0 || i < at) {
				at = i
			}
		}
		if at >= 0 {
			break
		}
	}
	start := 0
	if at > width/3 {
		start = at - width/3
		// Begin at a word: after the first space within the lead-in.
		for i := start; i < at; i++ {
			if r[i] == ' ' {
				start = i + 1
				break
			}
		}
	}
	end := min(len(r), start+width)
	if end < len(r) {
		for i := end; i > start+width/2; i-- {
			if r[i] == ' ' {
				end = i
				break
			}
		}
	}
	out := string(r[start:end])
	if start > 0 {
		out = "…" + out
	}
	if end < len(r) {
		out += "…"
	}
	return out
}

// foldRunes lower-cases rune by rune, so indexes stay those of the original.
func foldRunes(r []rune) []rune {
	out := make([]rune, len(r))
	for i, c := range r {
		out[i] = unicode.ToLower(c)
	}
	return out
}

// indexRunes is the index of the first sub in s, or -1.
func indexRunes(s, sub []rune) int {
	if len(sub) == 0 {
		return -1
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if slices.Equal(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// Ratings of an answer.
const (
	RatingUp   = "up"
	RatingDown = "down"
)

// maxFeedbackCommentRunes bounds a feedback comment (the column checks it too).
const maxFeedbackCommentRunes = 2000

// FeedbackRequest is a rating of an answer, with an optional comment.
type FeedbackRequest struct {
	Rating  string  `json:"rating"`
	Comment *string `json:"comment"`
}

// SetFeedback records the caller's rating of the answer of their turn, replacing
// any earlier one. Somebody else's turn is not_found; one still running is a
// conflict, as there is no answer to rate yet.
func (c *Chat) SetFeedback(ctx context.Context, p access.Principal, turnID string, req FeedbackRequest) (Feedback, error) {
	var v validation
	if req.Rating != RatingUp && req.Rating != RatingDown {
		v.add("rating", `must be "up" or "down"`)
	}
	var comment *string
	if req.Comment != nil {
		text := strings.TrimSpace(*req.Comment)
		if n := utf8.RuneCountInString(text); n > maxFeedbackCommentRunes {
			v.add("comment", "at most %d characters (got %d)", maxFeedbackCommentRunes, n)
		} else if text != "" {
			comment = &text
		}
	}
	if err := v.err(); err != nil {
		return Feedback{}, err
	}
	f, err := c.store.SetFeedback(ctx, p.UserID, turnID, req.Rating, comment)
	if errors.Is(err, store.ErrNotFound) {
		if _, getErr := c.store.GetUserTurn(ctx, p.UserID, turnID); getErr != nil {
			return Feedback{}, notFoundAs(getErr, "turn")
		}
		return Feedback{}, Errorf(CodeConflict, "this answer is not finished yet; rate it when it is")
	}
	if err != nil {
		return Feedback{}, err
	}
	return Feedback{Rating: f.Rating, Comment: f.Comment, UpdatedAt: f.UpdatedAt}, nil
}

// ChatExport is a chat as a Markdown document.
type ChatExport struct {
	// Filename is a name for the file: the title without characters file systems
	// refuse, and the day the chat began.
	Filename string
	Markdown []byte
}

// Export renders the caller's chat as Markdown: the title, then every message with
// who wrote it and when, each answer followed by the sources it cited.
func (c *Chat) Export(ctx context.Context, p access.Principal, id string) (ChatExport, error) {
	s, err := c.store.GetSession(ctx, p.UserID, id)
	if err != nil {
		return ChatExport{}, notFoundAs(err, "session")
	}
	msgs, err := c.store.ListMessages(ctx, id)
	if err != nil {
		return ChatExport{}, err
	}
	turns, err := c.store.ListSessionTurns(ctx, id)
	if err != nil {
		return ChatExport{}, err
	}
	return ChatExport{Filename: exportFilename(s.Title, s.CreatedAt), Markdown: chatMarkdown(s, msgs, turns)}, nil
}

// exportTime is how the export writes times: UTC, to the minute.
func exportTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// chatMarkdown writes the export. Message text is written as it was: it is
// Markdown already (answers are), or plain text that reads the same.
func chatMarkdown(s store.ChatSession, msgs []store.Message, turns []store.Turn) []byte {
	byID := make(map[string]store.Turn, len(turns))
	for _, t := range turns {
		byID[t.ID] = t
	}
	answered := map[string]bool{}
	for _, m := range msgs {
		if m.Role == "assistant" && m.TurnID != nil {
			answered[*m.TurnID] = true
		}
	}
	title := strings.Join(strings.Fields(s.Title), " ")
	if title == "" {
		title = "Untitled chat"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nChat started %s · %d messages\n", title, exportTime(s.CreatedAt), len(msgs))
	for _, m := range msgs {
		var t *store.Turn
		if m.TurnID != nil {
			if found, ok := byID[*m.TurnID]; ok {
				t = &found
			}
		}
		b.WriteString("\n---\n\n")
		if m.Role == "user" {
			fmt.Fprintf(&b, "### You · %s\n\n%s\n", exportTime(m.CreatedAt), strings.TrimSpace(m.Content))
			if t != nil && t.Terminal() && !answered[t.ID] {
				b.WriteString("\n" + noAnswer(*t) + "\n")
			}
			continue
		}
		head := "### Assistant · " + exportTime(m.CreatedAt)
		if t != nil && t.Model != "" {
			head += " · " + t.Model
		}
		fmt.Fprintf(&b, "%s\n\n%s\n", head, strings.TrimSpace(m.Content))
		if t == nil {
			continue
		}
		if t.Status == store.TurnCancelled {
			b.WriteString("\n*Stopped before the end.*\n")
		}
		writeSources(&b, t.Citations)
	}
	return []byte(b.String())
}

// noAnswer says why a question has no answer in the export.
func noAnswer(t store.Turn) string {
	switch {
	case t.Status == store.TurnCancelled:
		return "*No answer: stopped.*"
	case t.Error != nil:
		return fmt.Sprintf("*No answer: failed (%s).*", strings.Join(strings.Fields(t.Error.Message), " "))
	default:
		return "*No answer.*"
	}
}

// writeSources lists an answer's citations by their number in the text.
func writeSources(b *strings.Builder, cs []store.Citation) {
	if len(cs) == 0 {
		return
	}
	cs = append([]store.Citation(nil), cs...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Index < cs[j].Index })
	b.WriteString("\nSources:\n\n")
	for _, c := range cs {
		if c.URL != "" {
			fmt.Fprintf(b, "- [%d] %s, <%s>\n", c.Index, strings.Join(strings.Fields(c.Filename), " "), c.URL)
			continue
		}
		fmt.Fprintf(b, "- [%d] %s, passage %d\n", c.Index, strings.Join(strings.Fields(c.Filename), " "), c.ChunkIndex+1)
	}
}

// exportFilename names the export after the chat: its title without control
// characters or characters that file systems refuse, at most 80 of them, and the
// day it began.
func exportFilename(title string, started time.Time) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`<>:"/\|?*`, r) {
			return ' '
		}
		return r
	}, title)
	clean = strings.Trim(strings.Join(strings.Fields(clean), " "), ". ")
	if r := []rune(clean); len(r) > 80 {
		clean = strings.TrimSpace(string(r[:80]))
	}
	if clean == "" {
		clean = "chat"
	}
	return clean + " " + started.UTC().Format(time.DateOnly) + ".md"
}
