package agent

import (
	"context"

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
// recent history as the budget allows, then this turn's messages. The system
// prompt and this turn's messages are never dropped.
func (t *turn) prompt(ctx context.Context, specs []llm.ToolSpec, final bool) []llm.Message {
	cfg := t.r.cfg
	system := llm.Message{Role: llm.RoleSystem, Content: cfg.SystemPrompt}
	var tail []llm.Message
	if final {
		tail = append(tail, llm.Message{Role: llm.RoleSystem, Content: stepLimitInstruction})
	}
	fixed := messageTokens(system) + specTokens(specs)
	for _, m := range t.msgs {
		fixed += messageTokens(m)
	}
	for _, m := range tail {
		fixed += messageTokens(m)
	}
	budget := cfg.ContextTokens - cfg.AnswerReserve - fixed
	history, dropped := TrimHistory(t.in.History, budget)
	if dropped > 0 {
		t.r.log.DebugContext(ctx, "trimmed history to the context budget",
			"dropped_messages", dropped, "kept_messages", len(history), "budget_tokens", budget)
	}
	if budget < 0 {
		t.r.log.WarnContext(ctx, "turn exceeds the context budget even without history",
			"over_by_tokens", -budget, "context_tokens", cfg.ContextTokens)
	}
	msgs := make([]llm.Message, 0, 1+len(history)+len(t.msgs)+len(tail))
	msgs = append(msgs, system)
	msgs = append(msgs, history...)
	msgs = append(msgs, t.msgs...)
	return append(msgs, tail...)
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

// capResult shortens a tool result that would crowd out the conversation.
func (t *turn) capResult(text string) string {
	limit := t.r.cfg.MaxToolResultTokens
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
