package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/youworker/youworker/pkg/bm25"
	"github.com/youworker/youworker/pkg/llm"
)

// ExtractiveModelName is the model name the extractive answerer reports.
const ExtractiveModelName = "extractive"

// Defaults of Extractive.
const (
	DefaultExtractivePassages = 3
	// extractiveSnippetRunes caps a passage excerpt: a sentence or two.
	extractiveSnippetRunes = 320
)

// Texts of the extractive answerer. They are in English because there is no
// model to translate them; the passages themselves are quoted as written.
const (
	extractiveIntro     = "No language model is configured, so here are the most relevant passages from your documents:"
	extractiveNone      = "No language model is configured, and I found no passages in your documents that match your question."
	extractiveNoSearch  = "No language model is configured, and document search is not available, so I cannot answer."
	extractiveSearchErr = "No language model is configured, and searching your documents failed, so I cannot answer."
	// The same when a configured model is down.
	downPrefix = "The language model is not available right now"
)

// text is one of the texts above, said as fits: a model that is down is not a
// model that was never configured.
func (e Extractive) text(s string) string {
	if e.ModelDown {
		return downPrefix + strings.TrimPrefix(s, "No language model is configured")
	}
	return s
}

// Extractive is an llm.ChatModel that needs no language model: it answers
// with the passages of the user's documents that best match the question,
// with their [n] markers, so the agent loop, events and citations work the
// same as with a real model.
//
// It runs in two steps of the loop. When the last message is the user's, it
// calls search_documents with the user's message as the query. When the
// search result comes back, it streams an answer that says no language model
// is configured and quotes a sentence or two of the best passages, each
// followed by its marker.
//
// It searches even on turns with tools disabled: it has no other way to
// answer, and searching the user's own documents is retrieval, not an
// action on their behalf. The Runner offers it search_documents alone then.
type Extractive struct {
	// MaxPassages is how many passages the answer quotes (0: 3).
	MaxPassages int
	// ModelDown says a model is configured but cannot answer now, so the texts
	// say that rather than that none is configured.
	ModelDown bool
}

var _ llm.ChatModel = Extractive{}

func (Extractive) retrievalOnly() bool { return true }

// Check implements llm.Checker: there is nothing that could be down.
func (Extractive) Check(context.Context) error { return nil }

// Chat implements llm.ChatModel.
func (e Extractive) Chat(ctx context.Context, req llm.Request, onDelta func(llm.Delta) error) (llm.Response, error) {
	if err := ctx.Err(); err != nil {
		return llm.Response{}, fmt.Errorf("extractive answer: %w", err)
	}
	resp := llm.Response{Model: ExtractiveModelName, DoneReason: "stop", Message: llm.Message{Role: llm.RoleAssistant}}
	last := len(req.Messages) - 1
	if last < 0 {
		return e.say(ctx, resp, e.text(extractiveNone), onDelta)
	}
	switch req.Messages[last].Role {
	case llm.RoleUser:
		if !offers(req.Tools, SearchToolName) {
			return e.say(ctx, resp, e.text(extractiveNoSearch), onDelta)
		}
		args, err := json.Marshal(map[string]string{"query": req.Messages[last].Content})
		if err != nil {
			return llm.Response{}, fmt.Errorf("extractive answer: encode query: %w", err)
		}
		call := llm.ToolCall{ID: "call_" + strconv.Itoa(countCalls(req.Messages)+1), Name: SearchToolName, Arguments: args}
		resp.Message.ToolCalls = []llm.ToolCall{call}
		if onDelta != nil {
			if err := onDelta(llm.Delta{ToolCalls: resp.Message.ToolCalls}); err != nil {
				return llm.Response{}, err
			}
		}
		return resp, nil
	case llm.RoleTool:
		result, ok := lastSearchResult(req.Messages)
		switch {
		case !ok:
			return e.say(ctx, resp, e.text(extractiveNoSearch), onDelta)
		case strings.HasPrefix(result, "Error:"):
			return e.say(ctx, resp, e.text(extractiveSearchErr), onDelta)
		}
		passages := parsePassages(result)
		if len(passages) == 0 {
			return e.say(ctx, resp, e.text(extractiveNone), onDelta)
		}
		return e.say(ctx, resp, e.compose(lastUser(req.Messages), passages), onDelta)
	default:
		return e.say(ctx, resp, e.text(extractiveNone), onDelta)
	}
}

// say streams text in small pieces, as a model would, so clients see the
// same kind of token stream in both modes.
func (e Extractive) say(ctx context.Context, resp llm.Response, text string, onDelta func(llm.Delta) error) (llm.Response, error) {
	var sent strings.Builder
	for _, piece := range pieces(text) {
		if err := ctx.Err(); err != nil {
			return llm.Response{}, fmt.Errorf("extractive answer: %w", err)
		}
		if onDelta != nil {
			if err := onDelta(llm.Delta{Content: piece}); err != nil {
				return llm.Response{}, err
			}
		}
		sent.WriteString(piece)
	}
	resp.Message.Content = sent.String()
	return resp, nil
}

// pieces splits text into word-sized pieces, each word with the whitespace
// that follows it, so that the pieces concatenate back to text.
func pieces(text string) []string {
	var out []string
	start := 0
	inSpace := false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if inSpace && !space {
			out = append(out, text[start:i])
			start = i
		}
		inSpace = space
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

func (e Extractive) compose(query string, passages []parsedPassage) string {
	limit := e.MaxPassages
	if limit <= 0 {
		limit = DefaultExtractivePassages
	}
	count := termCounter(query)
	var b strings.Builder
	b.WriteString(e.text(extractiveIntro))
	for i, p := range passages {
		if i == limit {
			break
		}
		b.WriteString("\n\n- ")
		b.WriteString(snippet(p.text, count))
		b.WriteString(" (")
		b.WriteString(p.source)
		b.WriteString(") [")
		b.WriteString(strconv.Itoa(p.index))
		b.WriteString("]")
	}
	return b.String()
}

func offers(specs []llm.ToolSpec, name string) bool {
	for _, s := range specs {
		if s.Name == name {
			return true
		}
	}
	return false
}

func countCalls(msgs []llm.Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.ToolCalls)
	}
	return n
}

func lastUser(msgs []llm.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == llm.RoleUser {
			return msgs[i].Content
		}
	}
	return ""
}

// lastSearchResult finds the search result among the tool messages that end
// the conversation.
func lastSearchResult(msgs []llm.Message) (string, bool) {
	for i := len(msgs) - 1; i >= 0 && msgs[i].Role == llm.RoleTool; i-- {
		if msgs[i].ToolName == SearchToolName || msgs[i].ToolName == "" {
			return msgs[i].Content, true
		}
	}
	return "", false
}

type parsedPassage struct {
	index  int
	source string
	text   string
}

// passageRE reads a line written by FormatPassage. A file name containing
// ": " would be split early; the excerpt then starts with the rest of the
// name, which is harmless.
var passageRE = regexp.MustCompile(`^\[(\d+)\] (.*?)(?: \(page (\d+)\))?: (.*)$`)

func parsePassages(result string) []parsedPassage {
	var out []parsedPassage
	for _, line := range strings.Split(result, "\n") {
		m := passageRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		source := m[2]
		if m[3] != "" {
			source += ", page " + m[3]
		}
		out = append(out, parsedPassage{index: n, source: source, text: m[4]})
	}
	return out
}

func queryTerms(q string) map[string]bool {
	terms := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(q), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if utf8.RuneCountInString(w) > 2 {
			terms[w] = true
		}
	}
	return terms
}

// termCounter returns how many of the query's terms a sentence contains. Terms
// are analysed as search analyses them (stemmed, stop words dropped, codes kept
// whole), so "forms" in a question finds "form" in a passage; a query of stop
// words alone falls back to its plain words.
func termCounter(query string) func(sentence string) int {
	if enc, err := bm25.New(bm25.Params{}); err == nil {
		if m := enc.Matcher(query); m.Len() > 0 {
			return m.Count
		}
	}
	terms := queryTerms(query)
	return func(sentence string) int {
		n := 0
		for w := range queryTerms(sentence) {
			if terms[w] {
				n++
			}
		}
		return n
	}
}

// snippet picks the sentence that contains the most query terms (count), and
// the one after it when the first is short, capped at a few hundred runes.
func snippet(text string, count func(string) int) string {
	sentences := splitSentences(text)
	if len(sentences) == 0 {
		return ""
	}
	best, bestScore := 0, -1
	for i, s := range sentences {
		score := count(s)
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	out := sentences[best]
	if utf8.RuneCountInString(out) < 120 && best+1 < len(sentences) {
		out += " " + sentences[best+1]
	}
	if utf8.RuneCountInString(out) > extractiveSnippetRunes {
		r := []rune(out)[:extractiveSnippetRunes]
		cut := strings.LastIndexFunc(string(r), unicode.IsSpace)
		s := string(r)
		if cut > extractiveSnippetRunes/2 {
			s = s[:cut]
		}
		out = strings.TrimRightFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }) + "…"
	}
	return out
}

// splitSentences splits after sentence-ending punctuation followed by
// whitespace, which is good enough for quoting.
func splitSentences(text string) []string {
	var out []string
	start := 0
	runes := []rune(text)
	for i, r := range runes {
		end := strings.ContainsRune(".!?。！？", r) && (i+1 == len(runes) || unicode.IsSpace(runes[i+1]) || strings.ContainsRune("。！？", r))
		if end {
			if s := strings.TrimSpace(string(runes[start : i+1])); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(string(runes[start:])); s != "" {
		out = append(out, s)
	}
	return out
}
