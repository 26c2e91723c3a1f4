package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/agent"
	"github.com/youworker/youworker/pkg/chat"
	"github.com/youworker/youworker/pkg/llm"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/service"
)

// ExtractiveModel is the model name recorded on turns answered without a language model.
const ExtractiveModel = "extractive"

// UsesOllama reports whether chat turns go to Ollama (else the extractive answerer).
func (p *Platform) UsesOllama() bool {
	return p.Config.OllamaURL != "" && p.Config.ChatBackend != "extractive"
}

// DefaultChatModel is the model a turn uses when the user names none.
func (p *Platform) DefaultChatModel() string {
	if p.UsesOllama() {
		return p.Config.ChatModel
	}
	return ExtractiveModel
}

// ChatModel returns the chat model: Ollama when configured, else the extractive
// answerer that streams the best passages with citations.
func (p *Platform) ChatModel() (llm.ChatModel, error) {
	if !p.UsesOllama() {
		return agent.Extractive{}, nil
	}
	return llm.NewOllama(llm.OllamaConfig{URL: p.Config.OllamaURL, Model: p.Config.ChatModel}, p.Logger)
}

// CancelTurn signals the worker running a turn to stop now.
func (p *Platform) CancelTurn(ctx context.Context, turnID string) error {
	return p.NC.Publish(chat.CancelSubject(turnID), nil)
}

// RunChat consumes chat jobs until ctx ends.
func (p *Platform) RunChat(ctx context.Context) error {
	model, err := p.ChatModel()
	if err != nil {
		return err
	}
	tools := agent.Toolset{
		Searcher: searcher{service.NewSearch(p.Store, p.Index)},
		Tools:    []agent.Tool{agent.CurrentTime{}, agent.ConvertUnits{}},
	}
	if len(p.Config.MCPServers) > 0 {
		mcp, err := agent.NewMCPTools(ctx, agent.MCPConfig{Servers: p.Config.MCPServers, RefreshInterval: time.Minute}, p.Logger)
		if err != nil {
			return fmt.Errorf("connect MCP servers: %w", err)
		}
		defer mcp.Close()
		tools.Sources = append(tools.Sources, mcp)
	}
	runner, err := agent.NewRunner(model, tools, agent.Config{SystemPrompt: p.Config.SystemPrompt, MaxSteps: p.Config.AgentMaxSteps,
		ExtractiveFallback: true, DefaultModel: p.Config.ChatModel}, p.Logger)
	if err != nil {
		return err
	}
	w := chat.New(p.Store, p.Turns, p.NC, runner, chat.Config{}, p.Logger)
	return queue.Run(ctx, p.JS, queue.ConsumerChat, w.Handle, queue.RunOptions{
		Concurrency: p.Config.ChatConcurrency, Timeout: 30 * time.Minute,
		// A turn can run for minutes: on shutdown it is handed over at once; the next
		// attempt announces turn.restarted and clients discard the partial text.
		DrainTimeout: time.Second,
		Logger:       p.Logger.With("worker", "chat"), Metrics: p.QueueMetrics, OnDeadLetter: w.OnDeadLetter,
	})
}

// searcher lets the agent's search_documents run through the search service, with
// the same access rule and Postgres re-check as /v1/search.
type searcher struct{ search *service.Search }

func (s searcher) Search(ctx context.Context, p access.Principal, query string, limit int) ([]agent.Passage, error) {
	hits, err := s.search.Search(ctx, p, service.SearchRequest{Query: query, Limit: min(max(limit, 1), service.MaxSearchLimit)})
	if se, ok := errors.AsType[*service.Error](err); ok {
		// Service errors are written for people (a query too long, the index
		// switching models): the model and the user may read them.
		return nil, fmt.Errorf("%w: %w", &agent.ToolError{Message: se.Message}, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]agent.Passage, len(hits))
	for i, h := range hits {
		out[i] = agent.Passage{DocumentID: h.DocumentID, Filename: h.Filename, ChunkIndex: h.ChunkIndex, Score: h.Score, Text: h.Text, Page: h.Page,
			Matched: h.Matched}
		if h.Heading != nil {
			out[i].Heading = *h.Heading
		}
	}
	return out, nil
}
