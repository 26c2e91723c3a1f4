package legacyimport

import (
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/store"
)

// undecryptablePlaceholder stands for a message no secret opened, when the
// operator chose to import such messages anyway.
const undecryptablePlaceholder = "[This message could not be decrypted when the chat was imported from the previous deployment.]"

// chatMessage is a legacy message as it is imported.
type chatMessage struct {
	role    string
	content string
	at      time.Time
}

// chatEntry is a question answered by the next message — imported as a completed
// turn, so the model and the tools setting of the legacy session are kept — or a
// message on its own (a question never answered, an answer without a question).
type chatEntry struct {
	msg    chatMessage
	answer *chatMessage
	usage  *store.Usage
}

// chat is a legacy session's messages, ready to import.
type chat struct {
	entries    []chatEntry
	messages   int
	turns      int
	counts     MessageCounts
	otherRoles map[string]int
}

// buildChat decrypts a session's messages (in the legacy order) and pairs each
// question with the answer that follows it. Times are made strictly increasing, so
// the order survives ties in the legacy timestamps.
func (im *importer) buildChat(msgs []legacyMessage) chat {
	c := chat{otherRoles: map[string]int{}}
	type read struct {
		chatMessage
		tokensIn, tokensOut *int64
	}
	var kept []read
	var last time.Time
	for _, m := range msgs {
		role := strings.ToLower(strings.TrimSpace(m.Role))
		if role != "user" && role != "assistant" {
			c.counts.OtherRole++
			c.otherRoles[m.Role]++
			continue
		}
		text, kind := im.dec.open(m.Content)
		switch kind {
		case contentEmpty:
			c.counts.Empty++
			continue
		case contentDecrypted:
			c.counts.Decrypted++
		case contentPlain:
			c.counts.Plain++
		case contentUndecryptable:
			c.counts.Undecryptable++
			text = undecryptablePlaceholder
		}
		at := m.CreatedAt
		if !at.After(last) {
			at = last.Add(time.Microsecond)
		}
		last = at
		kept = append(kept, read{chatMessage: chatMessage{role: role, content: text, at: at}, tokensIn: m.TokensIn, tokensOut: m.TokensOut})
	}
	for i := 0; i < len(kept); i++ {
		e := chatEntry{msg: kept[i].chatMessage}
		if kept[i].role == "user" && i+1 < len(kept) && kept[i+1].role == "assistant" {
			a := kept[i+1]
			e.answer = &a.chatMessage
			if a.tokensIn != nil || a.tokensOut != nil {
				e.usage = &store.Usage{PromptTokens: int(deref64(a.tokensIn)), CompletionTokens: int(deref64(a.tokensOut))}
			}
			i++
			c.turns++
			c.messages++
		}
		c.messages++
		c.entries = append(c.entries, e)
	}
	return c
}

func deref64(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
