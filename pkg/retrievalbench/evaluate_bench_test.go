package retrievalbench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// uploadCorpus uploads every file as the searching user, one per request (a
// refused file then refuses nothing else), and waits until each is ready or
// failed. It returns the ready documents' ids by file name and a summary line.
func uploadCorpus(ctx context.Context, r *rig, sources []source) (map[string]string, string, error) {
	ids := map[string]string{} // file name → document id
	var refused []string
	var order []string
	for _, s := range sources {
		data, err := os.ReadFile(s.path)
		if err != nil {
			return nil, "", err
		}
		d, err := r.upload(ctx, r.key, s.name, data, nil)
		var se *statusError
		if errors.As(err, &se) && se.status >= 400 && se.status < 500 {
			refused = append(refused, fmt.Sprintf("%s (%d)", s.name, se.status))
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if _, ok := ids[s.name]; !ok {
			order = append(order, d.ID)
		}
		ids[s.name] = d.ID
	}
	done, err := r.waitDocuments(ctx, r.key, order, 5*time.Minute)
	if err != nil {
		return nil, "", err
	}
	ready := map[string]string{}
	var failed []string
	chunks := 0
	for _, s := range sources {
		id, ok := ids[s.name]
		if !ok {
			continue
		}
		d := done[id]
		if d.Status == "ready" {
			ready[s.name] = id
			chunks += d.ChunkCount
			continue
		}
		code := "unknown"
		if d.Error != nil {
			code = d.Error.Code
		}
		failed = append(failed, fmt.Sprintf("%s (%s)", s.name, code))
	}
	summary := fmt.Sprintf("%d documents ready (%d chunks), %d failed: %s; %d refused at upload: %s",
		len(ready), chunks, len(failed), listOrNone(failed), len(refused), listOrNone(refused))
	return ready, summary, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// outcome is one query's answer, judged.
type outcome struct {
	q     query
	j     judgement
	first string   // file name of the first hit, "" when there was none
	fm    *matched // the first hit's retrievers
	tm    *matched // the first relevant hit's retrievers
}

// runResult is one configuration and mode over every query set.
type runResult struct {
	config, mode string
	tallies      map[string]*tally // by query set, and setKnown for phrases and rare words together
	outcomes     []outcome
	skipped      int    // queries whose documents are not ready here
	unavailable  string // why the server refused the mode, if it did
	honoured     bool   // some hit carried matched: the server knows modes
}

// setKnown is the union of the known-item sets.
const setKnown = "known-item"

// evaluate runs every query whose documents are ready through one mode.
func evaluate(ctx context.Context, r *rig, queries []query, docs map[string]string, config, mode string) (runResult, error) {
	res := runResult{config: config, mode: mode, tallies: map[string]*tally{}}
	for _, set := range []string{setKnown, setPhrase, setRare, setQuestion} {
		res.tallies[set] = &tally{}
	}
	names := map[string]string{} // document id → file name
	for name, id := range docs {
		names[id] = name
	}
	for _, q := range queries {
		relevant := map[string]bool{}
		for _, name := range q.want {
			if id, ok := docs[name]; ok {
				relevant[id] = true
			}
		}
		if len(relevant) == 0 {
			res.skipped++
			continue
		}
		hits, err := r.search(ctx, q.text, mode, depth)
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusBadRequest && len(res.outcomes) == 0 {
			res.unavailable = fmt.Sprintf("%d: %s", se.status, strings.TrimSpace(se.body))
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("search %q (%s): %w", q.text, mode, err)
		}
		ids := make([]string, len(hits))
		o := outcome{q: q}
		for i, h := range hits {
			ids[i] = h.DocumentID
			if h.Matched != nil {
				res.honoured = true
			}
			if o.tm == nil && relevant[h.DocumentID] {
				o.tm = h.Matched
			}
		}
		if len(hits) > 0 {
			o.first, o.fm = names[hits[0].DocumentID], hits[0].Matched
			if o.first == "" {
				o.first = hits[0].Filename
			}
		}
		o.j = judge(ids, relevant)
		res.outcomes = append(res.outcomes, o)
		res.tallies[q.set].add(o.j)
		if q.set != setQuestion {
			res.tallies[setKnown].add(o.j)
		}
	}
	return res, nil
}

// denseProbe asks the default configuration for dense retrieval, which the
// contract says has no model to answer with (400).
func denseProbe(ctx context.Context, r *rig) string {
	_, err := r.search(ctx, "winter sports in Switzerland", "dense", depth)
	var se *statusError
	switch {
	case err == nil:
		return "default configuration, mode=dense: answered 200 (the contract says 400 without an embedding model; the server ignores mode)"
	case errors.As(err, &se) && se.status == http.StatusBadRequest:
		return "default configuration, mode=dense: 400, as the contract says"
	default:
		return "default configuration, mode=dense: " + err.Error()
	}
}
