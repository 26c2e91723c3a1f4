package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/llmtest"
)

type fakeWeb struct {
	results []agent.WebResult
	err     error
	queries []string
}

func (f *fakeWeb) SearchWeb(_ context.Context, query string, limit int) ([]agent.WebResult, error) {
	f.queries = append(f.queries, query)
	if f.err != nil {
		return nil, f.err
	}
	return f.results[:min(limit, len(f.results))], nil
}

type fakePages map[string]agent.WebPage

func (f fakePages) ReadPage(_ context.Context, url string) (agent.WebPage, error) {
	p, ok := f[url]
	if !ok {
		return agent.WebPage{}, &agent.ToolError{Message: "the page answered 404 Not Found"}
	}
	return p, nil
}

// TestWebSearchThenFetchThenCitedAnswer runs the loop a model runs for a
// question about the web: search the documents and the web, read one result,
// answer citing both kinds of source. The numbers are the turn's: the page read
// keeps the number its search result had, and the citations carry the URLs.
func TestWebSearchThenFetchThenCitedAnswer(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "search_documents", Arguments: map[string]any{"query": "vacation policy"}}}},
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "web_search", Arguments: map[string]any{"query": "statutory vacation days Italy", "limit": 2}}}},
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "fetch_page", Arguments: map[string]any{"url": "https://law.example/vacation"}}}},
		llmtest.Text("Our policy grants 30 days [1], above the statutory 4 weeks [3]."),
	)
	web := &fakeWeb{results: []agent.WebResult{
		{URL: "https://news.example/holidays", Title: "Holiday news", Snippet: "Italians take long holidays."},
		{URL: "https://law.example/vacation", Title: "Vacation law", Snippet: "At least four weeks."},
	}}
	pages := fakePages{"https://law.example/vacation": {URL: "https://law.example/vacation", Title: "Vacation law",
		Text: "## Paid leave\n\n| Years | Weeks |\n| --- | --- |\n| any | 4 |"}}
	docs := &fakeSearcher{Default: vacationPassages()[:1]}
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Searcher: docs, Web: web, Pages: pages}, agent.Config{})
	sink := &recordingSink{}

	out, err := r.Run(ctxTimeout(t), agent.Input{Principal: alice, UserMessage: "How many vacation days do we get, compared with the law?", ToolsEnabled: true}, sink)
	require.NoError(t, err)
	require.Equal(t, "Our policy grants 30 days [1], above the statutory 4 weeks [3].", out.Answer)
	require.Len(t, out.ToolRuns, 3)
	require.Equal(t, "2 results: news.example, law.example", out.ToolRuns[1].Preview)
	for _, run := range out.ToolRuns {
		require.Equal(t, agent.StatusOK, run.Status, run.Error)
	}
	require.Equal(t, []string{"statutory vacation days Italy"}, web.queries)

	require.Equal(t, []agent.Citation{
		{Index: 1, DocumentID: vacationPassages()[0].DocumentID, Filename: vacationPassages()[0].Filename, ChunkIndex: vacationPassages()[0].ChunkIndex, Score: vacationPassages()[0].Score},
		{Index: 3, Filename: "Vacation law", URL: "https://law.example/vacation"},
	}, out.Citations)

	reqs := srv.ChatRequests()
	require.Len(t, reqs, 4)
	require.Equal(t, []string{"search_documents", "web_search", "fetch_page"}, toolNames(reqs[0])[:3])
	second := reqs[2].Messages
	webResult := second[len(second)-1].Content
	require.Contains(t, webResult, "[2] Holiday news <https://news.example/holidays>: Italians take long holidays.")
	require.Contains(t, webResult, "[3] Vacation law <https://law.example/vacation>: At least four weeks.")
	third := reqs[3].Messages
	page := third[len(third)-1].Content
	require.True(t, strings.HasPrefix(page, "[3] Vacation law <https://law.example/vacation>\n\n## Paid leave"), page)
	require.Contains(t, page, "| any | 4 |")
}

func TestWebToolsAreOffUnlessConfiguredAndSayWhatFailed(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	r := newRunner(t, newOllama(t, srv.URL), agent.Toolset{Searcher: &fakeSearcher{}}, agent.Config{})
	_, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "hi", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"search_documents"}, toolNames(srv.ChatRequests()[0]))

	srv = llmtest.New(t)
	srv.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{
			{Name: "web_search", Arguments: map[string]any{"query": "x"}},
			{Name: "fetch_page", Arguments: map[string]any{"url": "https://gone.example/"}},
			{Name: "fetch_page", Arguments: map[string]any{"url": "file:///etc/passwd"}},
		}},
		llmtest.Text("Nothing found."),
	)
	web := &fakeWeb{err: errors.New("dial tcp 10.0.0.7:8080: connection refused")}
	r = newRunner(t, newOllama(t, srv.URL), agent.Toolset{Web: web, Pages: fakePages{}}, agent.Config{})
	out, err := r.Run(ctxTimeout(t), agent.Input{UserMessage: "hi", ToolsEnabled: true}, nil)
	require.NoError(t, err)
	require.Len(t, out.ToolRuns, 3)
	require.Equal(t, "the web search failed", out.ToolRuns[0].Error, "internal details stay in the log")
	require.Equal(t, "the page answered 404 Not Found", out.ToolRuns[1].Error)
	require.Equal(t, "url must be an http:// or https:// URL", out.ToolRuns[2].Error)
	require.Empty(t, out.Citations)
}
