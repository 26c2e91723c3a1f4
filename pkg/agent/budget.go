package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/youworker/youworker/pkg/chunk"
	"github.com/youworker/youworker/pkg/llm"
)

// messageOverhead approximates the tokens a chat template adds around each
// message (role markers, separators).
const messageOverhead = 4

// countTokens estimates tokens for context budgets. It is the chunker's
// estimate, which errs on the high side, so a prompt that fits by this count
// fits the model.
func countTokens(s string) int { return chunk.CountTokens(s) }

func messageTokens(m llm.Message) int {
	n := messageOverhead + countTokens(m.Content) + countTokens(m.Thinking)
	for _, c := range m.ToolCalls {
		n += countTokens(c.Name) + countTokens(string(c.Arguments)) + messageOverhead
	}
	return n
}

func specTokens(specs []llm.ToolSpec) int {
	n := 0
	for _, s := range specs {
		n += messageOverhead + countTokens(s.Name) + countTokens(s.Description) + countTokens(string(s.Parameters))
	}
	return n
}

// prompt assembles the messages of one model call: system prompt, as much
// recent history as the context window allows, then this turn's messages. The
// system prompt and this turn's own messages are never dropped; what must go
// to fit goes in this order: the oldest turns of the history, then the
// lowest-ranked passages this turn's searches found, then the oldest other tool
// results of this turn. What went stays gone for the rest of the turn, and each
// time more goes the sink is told (context.trimmed). A turn that still does not
// fit is a *ContextExceededError: the model would otherwise cut it silently.
func (t *turn) prompt(ctx context.Context, specs []llm.ToolSpec, final bool) ([]llm.Message, error) {
	system := llm.Message{Role: llm.RoleSystem, Content: t.r.cfg.SystemPrompt}
	var tail []llm.Message
	if final {
		tail = append(tail, llm.Message{Role: llm.RoleSystem, Content: stepLimitInstruction})
	}
	fixed := messageTokens(system) + specTokens(specs)
	for _, m := range tail {
		fixed += messageTokens(m)
	}
	own := 0
	for _, m := range t.msgs {
		own += messageTokens(m)
	}
	budget := t.window - t.reserve - fixed

	// The oldest turns first.
	history, dropped := TrimHistory(t.in.History[t.historyFrom:], budget-own)
	t.historyFrom += dropped
	// Then the passages, lowest-ranked first; then other tool results.
	for own > budget {
		delta, ok := t.dropPassage()
		if !ok {
			delta, ok = t.dropResult()
		}
		if !ok {
			break
		}
		own += delta
	}
	if own > budget {
		return nil, &ContextExceededError{Window: t.window, Needed: own + fixed + t.reserve}
	}
	if err := t.reportTrim(ctx); err != nil {
		return nil, err
	}
	msgs := make([]llm.Message, 0, 1+len(history)+len(t.msgs)+len(tail))
	msgs = append(msgs, system)
	msgs = append(msgs, history...)
	msgs = append(msgs, t.msgs...)
	return append(msgs, tail...), nil
}

// ContextExceededError says a turn does not fit the model's context window even
// with every earlier turn, passage and tool result left out: the question itself
// is too long for the model.
type ContextExceededError struct {
	// Window is the context window of the turn, in tokens.
	Window int
	// Needed is about how many tokens the turn needs.
	Needed int
}

func (e *ContextExceededError) Error() string {
	return fmt.Sprintf("the message needs about %d tokens, more than the model's context window of %d tokens; shorten it", e.Needed, e.Window)
}

// ContextTrimmedEvent is the payload of context.trimmed: what of the
// conversation was left out of the prompt, so far in the turn, to fit the
// model's context window.
type ContextTrimmedEvent struct {
	// DroppedTurns counts earlier questions left out, each with its answer.
	DroppedTurns int `json:"dropped_turns"`
	// DroppedPassages counts passages found by this turn's searches that the
	// model did not get to read.
	DroppedPassages int `json:"dropped_passages"`
	// DroppedResults counts results of other tools left out.
	DroppedResults int `json:"dropped_results,omitempty"`
	// ContextWindow is the window the prompt was fitted to, in tokens.
	ContextWindow int `json:"context_window"`
}

// ContextSink is a Sink that is told when the prompt was fitted to the context
// window by leaving things out. The Runner calls it like the rest of the Sink.
type ContextSink interface {
	ContextTrimmed(ev ContextTrimmedEvent) error
}

// reportTrim tells the sink what has been left out when that grew since it was
// last told.
func (t *turn) reportTrim(ctx context.Context) error {
	ev := ContextTrimmedEvent{DroppedPassages: t.droppedPassages, DroppedResults: t.droppedResults, ContextWindow: t.window}
	for _, m := range t.in.History[:t.historyFrom] {
		if m.Role == llm.RoleUser {
			ev.DroppedTurns++
		}
	}
	if ev == t.trimmed || ev.DroppedTurns+ev.DroppedPassages+ev.DroppedResults == 0 {
		return nil
	}
	t.trimmed = ev
	t.r.log.InfoContext(ctx, "fitted the prompt to the context window", "dropped_turns", ev.DroppedTurns,
		"dropped_messages", t.historyFrom, "dropped_passages", ev.DroppedPassages, "dropped_results", ev.DroppedResults,
		"context_window", t.window)
	if cs, ok := t.sink.(ContextSink); ok {
		if err := cs.ContextTrimmed(ev); err != nil {
			return fmt.Errorf("stream context.trimmed: %w", err)
		}
	}
	return nil
}

// passageResult is a tool result made of passages (search_documents), kept
// apart so that passages can be left out of it whole, lowest-ranked first.
type passageResult struct {
	msg   int      // index of its message in turn.msgs
	lines []string // the passages as the model reads them, best first
	kept  int
}

// allPassagesDropped replaces a result all of whose passages were left out.
const allPassagesDropped = "Passages were found, but none fit in the model's context window."

// resultDropped replaces a tool result left out to fit the context window.
const resultDropped = "[This result was left out to fit the model's context window.]"

func (r *passageResult) content() string {
	if r.kept == 0 {
		return allPassagesDropped
	}
	return strings.Join(r.lines[:r.kept], "\n\n")
}

// dropPassage leaves out the lowest-ranked passage still kept in the result
// that keeps the most (the oldest among equals) and returns how the prompt's
// tokens changed; false when no passage is left.
func (t *turn) dropPassage() (int, bool) {
	var pick *passageResult
	for _, r := range t.passages {
		if r.kept > 0 && (pick == nil || r.kept > pick.kept) {
			pick = r
		}
	}
	if pick == nil {
		return 0, false
	}
	pick.kept--
	t.droppedPassages++
	return t.replaceContent(pick.msg, pick.content()), true
}

// dropResult leaves out the oldest tool result of this turn that is neither a
// passage result nor left out already, and returns how the prompt's tokens
// changed; false when there is none.
func (t *turn) dropResult() (int, bool) {
	for i, m := range t.msgs {
		if m.Role != llm.RoleTool || m.Content == resultDropped || t.isPassageResult(i) {
			continue
		}
		t.droppedResults++
		return t.replaceContent(i, resultDropped), true
	}
	return 0, false
}

func (t *turn) isPassageResult(msg int) bool {
	for _, r := range t.passages {
		if r.msg == msg {
			return true
		}
	}
	return false
}

// replaceContent sets the content of this turn's message i and returns how
// its tokens changed.
func (t *turn) replaceContent(i int, content string) int {
	before := messageTokens(t.msgs[i])
	t.msgs[i].Content = content
	return messageTokens(t.msgs[i]) - before
}

// TrimHistory keeps the most recent history that fits in budget tokens and
// reports how many messages it dropped. It drops whole units from the oldest
// end (an assistant message with tool calls together with its tool results,
// so no result is left without its call) and then any leading units that are
// not a user message, so the kept history starts like a conversation does.
func TrimHistory(history []llm.Message, budget int) ([]llm.Message, int) {
	units := historyUnits(history)
	total := 0
	for _, u := range units {
		total += u.tokens
	}
	start := 0
	for start < len(units) && total > budget {
		total -= units[start].tokens
		start++
	}
	for start < len(units) && history[units[start].from].Role != llm.RoleUser {
		start++
	}
	if start == len(units) {
		return nil, len(history)
	}
	from := units[start].from
	return history[from:], from
}

type historyUnit struct {
	from, to int // history[from:to]
	tokens   int
}

func historyUnits(history []llm.Message) []historyUnit {
	var units []historyUnit
	for i := 0; i < len(history); {
		j := i + 1
		if history[i].Role == llm.RoleAssistant && len(history[i].ToolCalls) > 0 {
			for j < len(history) && history[j].Role == llm.RoleTool {
				j++
			}
		}
		u := historyUnit{from: i, to: j}
		for _, m := range history[i:j] {
			u.tokens += messageTokens(m)
		}
		units = append(units, u)
		i = j
	}
	return units
}

// capResult shortens a tool result that would crowd out the conversation
// (passages are never cut: the fitting leaves whole ones out instead).
func (t *turn) capResult(text string) string {
	limit := t.r.cfg.MaxToolResultTokens
	if limit == 0 {
		limit = max((t.window-t.reserve)/4, 64)
	}
	n := countTokens(text)
	if n <= limit {
		return text
	}
	const marker = "\n[result truncated]"
	r := []rune(text)
	// Token density varies, so shrink proportionally until it fits.
	for n > limit && len(r) > 0 {
		keep := len(r) * limit / n
		if keep >= len(r) {
			keep = len(r) - 1
		}
		r = r[:max(keep, 0)]
		n = countTokens(string(r))
	}
	return string(r) + marker
}
