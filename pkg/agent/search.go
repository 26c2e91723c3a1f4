package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/vector"
)

// SearchToolName is the name of the document search tool; the extractive
// answerer calls it by this name.
const SearchToolName = "search_documents"

// Search limits: the default keeps the prompt small for an 8k context, the
// maximum keeps a greedy model from flooding it.
const (
	DefaultSearchLimit = 5
	MaxSearchLimit     = 20
)

// Searcher finds the passages of documents a principal may see that best
// match a query, best first. The service layer implements it (vector search
// re-checked against Postgres).
type Searcher interface {
	Search(ctx context.Context, p access.Principal, q SearchQuery) ([]Passage, error)
}

// SearchQuery is one search of search_documents.
type SearchQuery struct {
	Text  string
	Limit int
	// Scope narrows the search to the documents and groups the user grounded
	// the turn in, on top of what the principal may see (never instead of it).
	Scope access.DocumentScope
}

// Passage is one chunk of a document returned by a search.
type Passage struct {
	DocumentID string
	Filename   string
	ChunkIndex int
	Score      float32
	Text       string
	// Page is the 1-based page number, when the format has pages.
	Page *int
	// Heading is the section heading the chunk belongs to, if known.
	Heading string
	// Matched says which retrievers found the passage and at what rank.
	Matched vector.Matched
	// URL is the web page a web source (web_search, fetch_page) came from;
	// empty for document passages. Filename is then the page's title.
	URL string
}

// NumberedPassage is a passage with the number [n] the model saw it under.
type NumberedPassage struct {
	Index int
	Passage
}

// Citation is a passage the final answer refers to with its [n] marker.
type Citation struct {
	Index      int     `json:"index"`
	DocumentID string  `json:"document_id"`
	Filename   string  `json:"filename"`
	ChunkIndex int     `json:"chunk_index"`
	Score      float32 `json:"score"`
	// Matched says which retrievers found the passage and at what rank.
	Matched vector.Matched `json:"matched"`
	// URL is the web page cited, for a web source; then DocumentID is empty and
	// Filename is the page's title. Absent for document passages.
	URL string `json:"url,omitempty"`
}

// sources numbers everything a turn showed the model that an answer may cite —
// document passages and web pages alike — so [n] is unique per turn whichever
// tool showed it, and a source shown twice keeps its number.
type sources struct {
	mu       sync.Mutex
	passages []NumberedPassage // in number order
	byKey    map[string]int    // source already shown -> its number
}

func newSources() *sources { return &sources{byKey: map[string]int{}} }

// sourceKey tells sources apart: a document's chunk, or a web page's URL.
func sourceKey(p Passage) string {
	if p.URL != "" {
		return "url\x00" + p.URL
	}
	return "doc\x00" + p.DocumentID + "\x00" + strconv.Itoa(p.ChunkIndex)
}

// number gives each passage its number: a passage already shown in this turn
// keeps the number it had, so the model can cite it consistently.
func (b *sources) number(found []Passage) []NumberedPassage {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]NumberedPassage, 0, len(found))
	for _, p := range found {
		key := sourceKey(p)
		if n, ok := b.byKey[key]; ok {
			out = append(out, b.passages[n-1])
			continue
		}
		np := NumberedPassage{Index: len(b.passages) + 1, Passage: p}
		b.passages = append(b.passages, np)
		b.byKey[key] = np.Index
		out = append(out, np)
	}
	return out
}

func (b *sources) all() []NumberedPassage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.passages)
}

// SearchTool is search_documents for one turn. It numbers passages across all
// its calls in the turn (and those of the turn's web tools), so [n] is unique
// per turn, and it remembers every passage it showed so Citations can resolve
// the markers of the answer. Make a new one for every turn.
type SearchTool struct {
	searcher Searcher
	limit    int
	scope    access.DocumentScope
	log      *slog.Logger
	book     *sources
}

// NewSearchTool returns the search tool of one turn. limit is the default
// number of passages per call (0 means DefaultSearchLimit).
func NewSearchTool(s Searcher, limit int, logger *slog.Logger) *SearchTool {
	return newSearchTool(s, limit, logger, newSources())
}

func newSearchTool(s Searcher, limit int, logger *slog.Logger, book *sources) *SearchTool {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SearchTool{searcher: s, limit: min(limit, MaxSearchLimit), log: logger, book: book}
}

var searchSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "query": {"type": "string", "minLength": 1, "description": "What to look for, in the words the documents likely use."},
    "limit": {"type": "integer", "minimum": 1, "maximum": ` + strconv.Itoa(MaxSearchLimit) + `, "description": "How many passages to return."}
  },
  "required": ["query"],
  "additionalProperties": false
}`)

// WithScope narrows every search of the tool to scope (see SearchQuery.Scope)
// and returns the tool.
func (t *SearchTool) WithScope(scope access.DocumentScope) *SearchTool {
	t.scope = scope
	return t
}

// Spec implements Tool.
func (t *SearchTool) Spec() llm.ToolSpec {
	what := "Search the company documents the user may see."
	if !t.scope.IsZero() {
		// The model should know why a search finds so little: the user chose.
		what = "Search the documents the user chose for this conversation (and only those)."
	}
	return llm.ToolSpec{
		Name:        SearchToolName,
		Description: what + " Returns numbered passages [n] with their file name; cite the passages you use as [n].",
		Parameters:  searchSchema,
	}
}

// decodeSearchArgs reads the arguments of a search tool (documents or web): a
// query that must not be empty, and how many results, defaultLimit when not
// given and at most maxLimit.
func decodeSearchArgs(raw json.RawMessage, defaultLimit, maxLimit int) (query string, limit int, err error) {
	var args struct {
		Query string `json:"query"`
		Limit int    `json:"limit"`
	}
	if err := decodeArgs(raw, &args); err != nil {
		return "", 0, err
	}
	query = strings.TrimSpace(args.Query)
	if query == "" {
		return "", 0, toolErrorf("query must not be empty")
	}
	limit = args.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	return query, min(limit, maxLimit), nil
}

// Call implements Tool.
func (t *SearchTool) Call(ctx context.Context, call Call) (Result, error) {
	query, limit, err := decodeSearchArgs(call.Arguments, t.limit, MaxSearchLimit)
	if err != nil {
		return Result{}, err
	}
	found, err := t.searcher.Search(ctx, call.Principal, SearchQuery{Text: query, Limit: limit, Scope: t.scope})
	if err != nil {
		t.log.WarnContext(ctx, "document search failed", "error", err)
		if _, ok := errors.AsType[*ToolError](err); ok {
			return Result{}, err
		}
		return Result{}, fmt.Errorf("%w: %w", &ToolError{Message: "document search failed"}, err)
	}
	numbered := t.book.number(found)
	if len(numbered) == 0 {
		return Result{Text: "No passages found for this query.", Preview: "no passages found"}, nil
	}
	var b strings.Builder
	for i, p := range numbered {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(FormatPassage(p))
	}
	return Result{
		Text:     b.String(),
		Preview:  fmt.Sprintf("%d passages: %s", len(numbered), Preview(passageSources(numbered))),
		Passages: numbered,
	}, nil
}

// Passages returns every passage shown in the turn, in number order.
func (t *SearchTool) Passages() []NumberedPassage { return t.book.all() }

// Citations returns the passages whose [n] markers appear in answer, in
// number order; markers of passages never shown are ignored.
func (t *SearchTool) Citations(answer string) []Citation {
	return CitationsFor(answer, t.Passages())
}

// CitationsFor returns the passages whose [n] markers appear in answer, in
// number order. It understands [1], [1][2] and [1, 2].
func CitationsFor(answer string, passages []NumberedPassage) []Citation {
	used := markers(answer)
	var out []Citation
	for _, p := range passages {
		if !used[p.Index] {
			continue
		}
		out = append(out, Citation{
			Index: p.Index, DocumentID: p.DocumentID, Filename: p.Filename,
			ChunkIndex: p.ChunkIndex, Score: p.Score, Matched: p.Matched, URL: p.URL,
		})
		delete(used, p.Index) // a passage shown twice is cited once
	}
	return out
}

var markerRE = regexp.MustCompile(`\[(\d+(?:\s*,\s*\d+)*)\]`)

func markers(s string) map[int]bool {
	used := map[int]bool{}
	for _, m := range markerRE.FindAllStringSubmatch(s, -1) {
		for _, part := range strings.Split(m[1], ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(part)); err == nil {
				used[n] = true
			}
		}
	}
	return used
}

// FormatPassage renders a passage as the model sees it:
// "[n] filename (page p): text", or "[n] title <url>: text" for a web source,
// on one line, whitespace collapsed.
func FormatPassage(p NumberedPassage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d] %s", p.Index, oneLine(p.Filename))
	if p.URL != "" {
		fmt.Fprintf(&b, " <%s>", p.URL)
	}
	if p.Page != nil {
		fmt.Fprintf(&b, " (page %d)", *p.Page)
	}
	b.WriteString(": ")
	if h := oneLine(p.Heading); h != "" {
		b.WriteString(h)
		b.WriteString(" — ")
	}
	b.WriteString(oneLine(p.Text))
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func passageSources(ps []NumberedPassage) string {
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		name := p.Filename
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}
