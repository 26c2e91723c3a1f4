// Package chaos runs the platform as it is deployed — separate OS processes: a
// 3-node NATS JetStream cluster with authentication and streams at 3 replicas,
// API replicas, ingest and agent workers, a re-indexer, one vector-store process
// and a private PostgreSQL — drives mixed load through the HTTP API (uploads
// polled to their end, chat turns streamed and resumed on other replicas,
// re-index jobs) while it SIGKILLs and restarts processes of every kind, one NATS
// node at a time, and restarts PostgreSQL once. A ledger of everything submitted
// and observed judges the run: nothing Lost, nothing Duplicated, nothing
// Unexpected.
//
// It is test code: TestChaosShort runs a bounded run in `make test`, `make chaos`
// the long one and the scaling figures. Production code never imports it.
package chaos

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/youworker/youworker/pkg/llmtest"
)

// Config is one chaos run.
type Config struct {
	Dir      string
	Binaries Binaries
	LLM      *llmtest.Server
	// Duration is how long load is submitted and processes are killed; what was
	// submitted is then followed to its end.
	Duration time.Duration
	// Replicas of each program.
	APIs, IngestWorkers, AgentWorkers, Reindexers int
	// Env is added to every program's environment.
	Env    map[string]string
	Load   LoadConfig
	Monkey MonkeyConfig
	Seed   uint64
	Logf   func(format string, args ...any)
}

// Report is what a run found.
type Report struct {
	Verdict
	Kills []Kill
	// Drain is the time from the end of the load until everything submitted had ended.
	Drain time.Duration
	// Counts for the ledger's summary.
	Docs, Uploads, DocsReady, DocsFailed, Turns, TurnsRestarted, Streams, Reconnects, Jobs int
	UploadRetries, PostRetries                                                             int64
	DocLatency, TurnLatency                                                                []time.Duration
	Elapsed                                                                                time.Duration
}

// Run starts a cluster, runs load and chaos for cfg.Duration, follows everything
// to its end, verifies the platform's final state against the ledger and returns
// the judged report. An error means the run itself could not be made.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	begin := time.Now()
	cfg.LLM.Handle(ModelHandler)
	cluster, err := StartCluster(ctx, ClusterConfig{Dir: cfg.Dir, Binaries: cfg.Binaries, LLM: cfg.LLM,
		APIs: cfg.APIs, IngestWorkers: cfg.IngestWorkers, AgentWorkers: cfg.AgentWorkers, Reindexers: cfg.Reindexers,
		Env: cfg.Env, Logf: logf})
	if err != nil {
		return nil, fmt.Errorf("start the cluster: %w", err)
	}
	defer cluster.Close()
	logf("chaos: cluster of %d processes ready in %s; logs in %s/logs", len(cluster.Procs("")), time.Since(begin).Round(time.Millisecond), cfg.Dir)

	ledger := newLedger()
	admin := newClient(cluster.APIURLs, cluster.AdminKey)
	l := newLoad(cfg.Load, ledger, admin, logf)
	if err := l.setup(ctx); err != nil {
		return nil, err
	}

	stop, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	m := newMonkey(cfg.Monkey, cluster, cfg.Seed, logf)
	monkeyDone := make(chan struct{})
	go func() {
		defer close(monkeyDone)
		m.run(stop)
	}()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		l.run(stop)
	}()
	<-stop.Done()
	stopped := time.Now()
	logf("chaos: load and chaos stopped after %s; following what was submitted to its end", cfg.Duration)
	<-monkeyDone
	<-loadDone
	rep := &Report{Kills: m.Kills(), Drain: time.Since(stopped)}
	logf("chaos: everything submitted ended %s after the load stopped", rep.Drain.Round(time.Millisecond))

	vctx, vcancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer vcancel()
	verify(vctx, cluster, l, ledger)
	for _, u := range cluster.Unwanted() {
		ledger.unexpect("%s", u)
	}
	rep.Verdict = ledger.judge()
	rep.summarize(ledger, l)
	rep.Elapsed = time.Since(begin)
	if !rep.OK() {
		for _, p := range cluster.Procs("") {
			logf("chaos: log tail of %s:\n%s", p.Name, cluster.LogTail(p.Name, 15))
		}
	}
	return rep, nil
}

func (r *Report) summarize(l *Ledger, ld *load) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Docs = len(l.docs)
	for _, d := range l.docs {
		r.Uploads += d.Submissions
		switch d.Terminal {
		case "ready":
			r.DocsReady++
		case "failed":
			r.DocsFailed++
		}
		if d.Terminal != "" {
			r.DocLatency = append(r.DocLatency, d.TerminalAt.Sub(d.Submitted))
		}
	}
	for _, t := range l.turns {
		r.Turns++
		r.Streams += t.Streams
		r.Reconnects += t.Reconnects
		for _, ev := range t.Events {
			if ev.Type == "turn.restarted" {
				r.TurnsRestarted++
				break
			}
		}
		if !t.Finished.IsZero() {
			r.TurnLatency = append(r.TurnLatency, t.Finished.Sub(t.Submitted))
		}
	}
	r.Jobs = len(l.jobs)
	r.UploadRetries, r.PostRetries = ld.uploadRetries.Load(), ld.postRetries.Load()
}

// verify compares the platform's final state with the ledger: every document as
// it ended, listed once, its chunks stored and found by search; every turn
// stored as streamed with one question and one answer in its chat; every job as
// it ended; the outbox empty.
func verify(ctx context.Context, c *Cluster, l *load, ledger *Ledger) {
	ledger.mu.Lock()
	docs, turns, jobs := ledger.sortedDocs(), ledger.sortedTurns(), ledger.sortedJobs()
	ledger.mu.Unlock()
	byUser := map[string]*client{}
	for i, u := range l.users {
		byUser[fmt.Sprintf("user-%d", i+1)] = u
	}

	// Documents as they ended.
	for _, d := range docs {
		if d.Terminal == "" {
			continue
		}
		var v docView
		if err := byUser[d.User].call(ctx, http.MethodGet, "/v1/documents/"+d.ID, nil, &v); err != nil {
			ledger.lose("document %s (%s): %v at the end", d.ID, d.Filename, err)
			continue
		}
		if v.Status != d.Terminal || v.ChunkCount != d.ChunkCount {
			ledger.unexpect("document %s (%s): ended %s with %d chunks, is now %s with %d", d.ID, d.Filename, d.Terminal, d.ChunkCount, v.Status, v.ChunkCount)
		}
	}
	// Listed once each, and nothing else.
	listed := map[string]int{}
	for user, u := range byUser {
		cursor := ""
		for {
			var page struct {
				Documents  []docView `json:"documents"`
				NextCursor *string   `json:"next_cursor"`
			}
			path := "/v1/documents?limit=200"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			if err := u.call(ctx, http.MethodGet, path, nil, &page); err != nil {
				ledger.unexpect("list documents of %s: %v", user, err)
				break
			}
			for _, d := range page.Documents {
				listed[d.ID]++
			}
			if page.NextCursor == nil || *page.NextCursor == "" {
				break
			}
			cursor = *page.NextCursor
		}
	}
	known := map[string]bool{}
	for _, d := range docs {
		known[d.ID] = true
		if listed[d.ID] == 0 {
			ledger.lose("document %s (%s): not in its owner's list", d.ID, d.Filename)
		}
	}
	for id, n := range listed {
		if n > 1 {
			ledger.duplicate("document %s listed %d times", id, n)
		}
		if !known[id] {
			ledger.unexpect("document %s listed but never submitted", id)
		}
	}
	// Found by search through the vector store: a document whose vectors were
	// lost (or written into a collection search no longer reads) is not.
	for _, d := range docs {
		if d.Terminal != "ready" || d.Marker == "" {
			continue
		}
		var out struct {
			Hits []struct {
				DocumentID string `json:"document_id"`
				ChunkIndex int    `json:"chunk_index"`
			} `json:"hits"`
		}
		if err := byUser[d.User].call(ctx, http.MethodPost, "/v1/search", map[string]any{"query": d.Marker, "limit": 50}, &out); err != nil {
			ledger.unexpect("search for document %s: %v", d.ID, err)
			continue
		}
		seen := map[int]bool{}
		found := 0
		for _, h := range out.Hits {
			if h.DocumentID != d.ID {
				continue
			}
			found++
			if seen[h.ChunkIndex] {
				ledger.duplicate("document %s: chunk %d found twice by one search", d.ID, h.ChunkIndex)
			}
			seen[h.ChunkIndex] = true
		}
		if found == 0 {
			ledger.lose("document %s (%s): ready with %d chunks but search for its word finds none", d.ID, d.Filename, d.ChunkCount)
		}
	}
	// Turns: stored as streamed, one question and one answer each.
	sessions := map[string][]struct {
		Role    string  `json:"role"`
		Content string  `json:"content"`
		TurnID  *string `json:"turn_id"`
	}{}
	for _, t := range turns {
		u := byUser[t.User]
		var v struct {
			Status string  `json:"status"`
			Answer *string `json:"answer"`
		}
		if err := u.call(ctx, http.MethodGet, "/v1/chat/turns/"+t.ID, nil, &v); err != nil {
			ledger.lose("turn %s: %v at the end", t.ID, err)
			continue
		}
		if v.Status != "completed" || v.Answer == nil || *v.Answer != t.Expected {
			ans := "<nil>"
			if v.Answer != nil {
				ans = *v.Answer
			}
			ledger.unexpect("turn %s: stored as %s with answer %q, want completed with %q", t.ID, v.Status, ans, t.Expected)
		}
		if _, ok := sessions[t.SessionID]; !ok {
			var s chatSession
			if err := u.call(ctx, http.MethodGet, "/v1/chat/sessions/"+t.SessionID, nil, &s); err != nil {
				ledger.unexpect("session %s: %v", t.SessionID, err)
				continue
			}
			sessions[t.SessionID] = s.Messages
		}
		questions, answers := 0, 0
		for _, m := range sessions[t.SessionID] {
			if m.Role == "user" && m.Content == t.Question {
				questions++
			}
			if m.Role == "assistant" && m.TurnID != nil && *m.TurnID == t.ID {
				answers++
			}
		}
		if questions != 1 {
			ledger.duplicate("turn %s: its question is in the chat %d times", t.ID, questions)
		}
		if answers != 1 {
			ledger.unexpect("turn %s: %d answers in the chat", t.ID, answers)
		}
	}
	for _, j := range jobs {
		var v jobView
		if err := l.admin.call(ctx, http.MethodGet, "/v1/admin/reindex/"+j.ID, nil, &v); err != nil {
			ledger.lose("re-index job %s: %v at the end", j.ID, err)
			continue
		}
		if j.Terminal != "" && v.Status != j.Terminal {
			ledger.unexpect("re-index job %s: ended %s, is now %s", j.ID, j.Terminal, v.Status)
		}
	}
	// The system of record: no job left unpublished, every ready document's
	// chunks stored.
	conn, err := pgx.Connect(ctx, c.DatabaseURL())
	if err != nil {
		ledger.unexpect("connect to the database: %v", err)
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var outbox int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&outbox); err != nil {
		ledger.unexpect("count the outbox: %v", err)
	} else if outbox > 0 {
		ledger.lose("%d jobs still in the outbox at the end", outbox)
	}
	rows, err := conn.Query(ctx, `SELECT d.id::text, d.chunk_count, count(c.chunk_index)
		FROM documents d LEFT JOIN chunks c ON c.document_id = d.id WHERE d.status = 'ready'
		GROUP BY d.id, d.chunk_count HAVING d.chunk_count <> count(c.chunk_index)`)
	if err != nil {
		ledger.unexpect("count chunks: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var want, have int
		if err := rows.Scan(&id, &want, &have); err == nil {
			ledger.lose("document %s: ready with %d chunks, %d stored", id, want, have)
		}
	}
}

// Print writes the ledger, the kills and the recovery times.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\n== chaos ledger (run of %s)\n", r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "uploads: %d documents (%d upload requests retried on another replica), %d ready, %d failed with a stated code; latency %s\n",
		r.Docs, r.UploadRetries, r.DocsReady, r.DocsFailed, percentiles(r.DocLatency))
	fmt.Fprintf(w, "turns:   %d (%d questions re-asked after no answer), %d restarted by another worker, %d streams, %d resumed with Last-Event-ID; latency %s\n",
		r.Turns, r.PostRetries, r.TurnsRestarted, r.Streams, r.Reconnects, percentiles(r.TurnLatency))
	fmt.Fprintf(w, "re-index jobs: %d\n", r.Jobs)
	fmt.Fprintf(w, "backlog drained %s after the load stopped\n", r.Drain.Round(time.Millisecond))
	fmt.Fprintf(w, "\n== kills (%d)\n", len(r.Kills))
	for _, k := range r.Kills {
		fmt.Fprintln(w, k.String())
	}
	byKind := map[string][]time.Duration{}
	for _, k := range r.Kills {
		if k.Err == nil {
			kind := strings.TrimRight(k.Victim, "-0123456789")
			byKind[kind] = append(byKind[kind], k.Recovered)
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "\n== recovery (kill to ready again)\n")
	for _, k := range kinds {
		fmt.Fprintf(w, "%-28s %s\n", k, percentiles(byKind[k]))
	}
	for _, s := range []struct {
		name  string
		items []string
	}{{"Lost", r.Lost}, {"Duplicated", r.Duplicated}, {"Unexpected", r.Unexpected}} {
		if len(s.items) == 0 {
			fmt.Fprintf(w, "%s = ∅\n", s.name)
			continue
		}
		fmt.Fprintf(w, "%s = %d:\n", s.name, len(s.items))
		for _, it := range s.items {
			fmt.Fprintf(w, "  - %s\n", it)
		}
	}
}

// percentiles formats p50, p95 and max.
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) time.Duration { // nearest rank
		return s[max(0, int(math.Ceil(p*float64(len(s))))-1)]
	}
	return fmt.Sprintf("p50 %s, p95 %s, max %s (n=%d)", at(0.5).Round(10*time.Millisecond), at(0.95).Round(10*time.Millisecond),
		s[len(s)-1].Round(10*time.Millisecond), len(s))
}
