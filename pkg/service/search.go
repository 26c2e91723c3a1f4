package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/qdrant/go-client/qdrant"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/embed"
	"github.com/youworker/youworker/pkg/index"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/vector"
)

// ChunkIndex is the vector side of search.
type ChunkIndex interface {
	Retrieve(ctx context.Context, q index.Query) (index.Result, error)
}

// Search finds the passages a user may see that best answer a query.
type Search struct {
	store *store.Store
	index ChunkIndex
}

// NewSearch returns the search service.
func NewSearch(st *store.Store, ix ChunkIndex) *Search { return &Search{store: st, index: ix} }

// SearchRequest is a search query.
type SearchRequest struct {
	Query   string `json:"query"`
	Limit   int    `json:"limit"`
	GroupID string `json:"group_id"`
	// Mode is "hybrid" (default), "lexical" or "dense".
	Mode string `json:"mode"`
	// Scope narrows the search further to some documents and groups (a chat's
	// grounding). It is a filter on top of the access rule, never instead of it,
	// and it is not checked here: a scope naming what the caller may not see
	// finds nothing of it.
	Scope access.DocumentScope `json:"-"`
}

// SearchHit is one passage.
type SearchHit struct {
	DocumentID string  `json:"document_id"`
	Filename   string  `json:"filename"`
	ChunkIndex int     `json:"chunk_index"`
	Score      float32 `json:"score"`
	Text       string  `json:"text"`
	Page       *int    `json:"page"`
	Heading    *string `json:"heading"`
	// Matched says which retrievers found the passage and at what rank.
	Matched vector.Matched `json:"matched"`
}

// searchModes are the modes a request may name.
var searchModes = map[string]index.Mode{"": index.Hybrid, "hybrid": index.Hybrid, "lexical": index.Lexical, "dense": index.Dense}

// Search limits.
const (
	DefaultSearchLimit = 8
	MaxSearchLimit     = 50
	maxQueryRunes      = 2000
)

// Search embeds the query, searches with the caller's access filter, and re-checks
// every hit against Postgres before answering, so a stale vector payload never leaks.
func (s *Search) Search(ctx context.Context, p access.Principal, req SearchRequest) ([]SearchHit, error) {
	var v validation
	req.Query = strings.TrimSpace(req.Query)
	if req.Query == "" {
		v.add("query", "required")
	} else if utf8.RuneCountInString(req.Query) > maxQueryRunes {
		v.add("query", "at most %d characters", maxQueryRunes)
	}
	if req.Limit == 0 {
		req.Limit = DefaultSearchLimit
	}
	if req.Limit < 1 || req.Limit > MaxSearchLimit {
		v.add("limit", "must be from 1 to %d", MaxSearchLimit)
	}
	mode, ok := searchModes[req.Mode]
	if !ok {
		v.add("mode", "must be hybrid, lexical or dense")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if req.GroupID != "" && !p.InGroup(req.GroupID) {
		return nil, &Error{Code: CodeNotFound, Message: "group_id: no such group",
			Fields: []FieldError{{Field: "group_id", Message: "no such group"}}}
	}
	pending, err := s.store.PendingACLDocuments(ctx, p)
	if err != nil {
		return nil, err
	}
	filter := access.VectorFilter(p, pending...)
	if req.GroupID != "" {
		group := qdrant.NewMatchKeyword(access.FieldGroup, req.GroupID)
		if len(pending) > 0 {
			// A pending document's payload may not name its new group yet.
			group = qdrant.NewFilterAsCondition(&qdrant.Filter{Should: []*qdrant.Condition{group,
				qdrant.NewMatchKeywords(access.FieldDocument, pending...)}})
		}
		filter.Must = append(filter.Must, group)
	}
	if cond := req.Scope.VectorCondition(pending...); cond != nil {
		filter.Must = append(filter.Must, cond)
	}
	// Over-fetch: some hits may fail the Postgres re-check.
	found, err := s.index.Retrieve(ctx, index.Query{Text: req.Query, Mode: mode, Filter: filter, Limit: req.Limit*2 + 4,
		Candidates: 2 * (req.Limit*2 + 4)})
	var unavailable *index.ModeUnavailableError
	if errors.As(err, &unavailable) {
		v.add("mode", "%s", unavailable.Error())
		return nil, v.err()
	}
	if err != nil {
		return nil, embedUnavailable(fmt.Errorf("search the index: %w", err))
	}
	hits := found.Hits
	keys := make([]store.ChunkKey, len(hits))
	for i, h := range hits {
		keys[i] = store.ChunkKey{DocumentID: h.Payload.DocumentID, Index: h.Payload.ChunkIndex}
	}
	visible, err := s.store.VisibleChunks(ctx, p, keys)
	if err != nil {
		return nil, err
	}
	out := make([]SearchHit, 0, req.Limit)
	for i, h := range hits {
		c, ok := visible[keys[i]]
		if !ok {
			continue
		}
		if req.GroupID != "" && !chunkInGroup(c, req.GroupID) {
			continue
		}
		if !req.Scope.Admits(c.DocumentID, c.GroupID) {
			continue
		}
		hit := SearchHit{DocumentID: c.DocumentID, Filename: c.Filename, ChunkIndex: c.Index, Score: h.Score, Text: c.Text, Page: c.Page,
			Matched: h.Matched}
		if n := len(c.HeadingPath); n > 0 {
			heading := c.HeadingPath[n-1]
			hit.Heading = &heading
		}
		out = append(out, hit)
		delete(visible, keys[i]) // a point twice (two embedders mid re-embed) counts once
		if len(out) == req.Limit {
			break
		}
	}
	return out, nil
}

// embedUnavailable turns an embedder that cannot answer (Ollama down, or the index
// switching to another model) into a 503 the client may retry, keeping the cause
// wrapped for logs.
func embedUnavailable(err error) error {
	if errors.Is(err, embed.ErrUnavailable) {
		return fmt.Errorf("%w (%w)", &Error{Code: CodeUnavailable,
			Message: "search is unavailable: the embedding model of the document index cannot be reached; try again shortly"}, err)
	}
	return err
}

func chunkInGroup(c store.VisibleChunk, groupID string) bool {
	return c.GroupID != nil && *c.GroupID == groupID
}
