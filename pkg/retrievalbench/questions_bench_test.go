package retrievalbench

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// questionsJSON is the labelled question set: natural-language questions about
// the shared corpus, each with the files that answer it. It is data, kept beside
// the benchmark so that it travels with it whatever the working directory.
//
//go:embed questions.json
var questionsJSON []byte

// labelled is one entry of questions.json.
type labelled struct {
	Question  string   `json:"question"`
	Documents []string `json:"documents"`
}

// loadQuestions parses questions.json into queries, refusing entries without a
// question or a document, and repeated questions.
func loadQuestions(data []byte) ([]query, error) {
	var entries []labelled
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("questions.json: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	out := make([]query, 0, len(entries))
	for i, e := range entries {
		q := strings.TrimSpace(e.Question)
		switch {
		case q == "":
			errs = append(errs, fmt.Errorf("questions.json entry %d: no question", i))
		case len(e.Documents) == 0:
			errs = append(errs, fmt.Errorf("questions.json entry %d (%q): no documents", i, q))
		case seen[q]:
			errs = append(errs, fmt.Errorf("questions.json entry %d: %q appears twice", i, q))
		}
		seen[q] = true
		out = append(out, query{set: setQuestion, text: q, want: e.Documents})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
