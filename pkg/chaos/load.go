package chaos

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/youworker/youworker/pkg/llmtest"
)

// LoadConfig shapes the mixed load.
type LoadConfig struct {
	// Users are the accounts the load is spread over.
	Users int
	// Uploaders, Chatters run that many clients uploading, or chatting, one
	// item at a time each.
	Uploaders, Chatters int
	// Reindex runs one operator starting re-index jobs one after another.
	Reindex bool
	// ReindexKinds are started in turn (default: verify, acl-sync, re-embed).
	ReindexKinds []string
	// Corpus is a directory of real-world files each user uploads once, among
	// the generated documents; "" uploads generated ones only.
	Corpus string
	// ItemTimeout bounds how long one upload, turn or job is followed before it
	// counts as lost.
	ItemTimeout time.Duration
	// ResumeChance is the chance a client drops a turn's stream on purpose and
	// resumes it on another replica.
	ResumeChance float64
	// ToolChance is the chance a question makes the model search the documents first.
	ToolChance float64
}

// corpusFiles are the real-world files uploaded, one of each per user: text,
// office and PDF documents that parse, and files that fail with a stated code.
var corpusFiles = []string{"fake-text.txt", "fake.docx", "fake-memo.pdf", "handbook-1p.docx", "sample-presentation.pptx",
	"fake.odt", "family-day.eml", "password.pdf", "empty.txt"}

// load drives the platform through the API like the people and operators using
// it, recording everything in the ledger.
type load struct {
	cfg    LoadConfig
	ledger *Ledger
	admin  *client
	users  []*client
	logf   func(string, ...any)

	markers   sync.Map // marker word of a ready generated document -> true, for tool questions
	markerN   atomic.Int64
	questionN atomic.Int64
	docN      atomic.Int64

	// counters for the report
	uploadRetries, postRetries, resumes, planned atomic.Int64
}

func newLoad(cfg LoadConfig, ledger *Ledger, admin *client, logf func(string, ...any)) *load {
	if cfg.ItemTimeout == 0 {
		cfg.ItemTimeout = 5 * time.Minute
	}
	if len(cfg.ReindexKinds) == 0 {
		cfg.ReindexKinds = []string{"verify", "acl-sync", "re-embed"}
	}
	return &load{cfg: cfg, ledger: ledger, admin: admin, logf: logf}
}

// setup creates the users.
func (l *load) setup(ctx context.Context) error {
	run := randomHex(3)
	for i := range max(l.cfg.Users, 1) {
		var out struct {
			Key string `json:"key"`
		}
		name := fmt.Sprintf("chaos-%s-%d", run, i+1)
		if err := l.admin.call(ctx, http.MethodPost, "/v1/admin/users", map[string]any{"name": name}, &out); err != nil {
			return fmt.Errorf("create user %s: %w", name, err)
		}
		l.users = append(l.users, l.admin.withKey(out.Key))
	}
	return nil
}

// run starts the clients; they submit until stop ends, then follow what they
// submitted to its end (each item within ItemTimeout) and return.
func (l *load) run(stop context.Context) {
	var wg sync.WaitGroup
	for i := range l.cfg.Uploaders {
		wg.Go(func() { l.uploader(stop, i) })
	}
	for i := range l.cfg.Chatters {
		wg.Go(func() { l.chatter(stop, i) })
	}
	if l.cfg.Reindex {
		wg.Go(func() { l.operator(stop) })
	}
	wg.Wait()
}

// vocabulary makes generated documents read like text to the chunker and the
// lexical analyser.
var vocabulary = strings.Fields(`policy report quarterly revenue budget forecast customer contract
invoice delivery warehouse shipment supplier audit compliance security incident response backup
network server storage cluster replica failover latency throughput capacity planning roadmap
meeting agenda minutes decision action owner deadline review approval release version feature`)

// document makes a generated text document with a word of its own.
func (l *load) document(rng *rand.Rand) (name, marker string, content []byte) {
	n := l.docN.Add(1)
	marker = fmt.Sprintf("zqmark%s%d", randomHex(3), n)
	var b strings.Builder
	fmt.Fprintf(&b, "Chaos document %d\n\nThis document is known by the word %s.\n\n", n, marker)
	words := 300 + rng.IntN(1500)
	for i := range words {
		b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
		switch {
		case i%97 == 96:
			fmt.Fprintf(&b, ". %s.\n\n", marker)
		case i%13 == 12:
			b.WriteString(". ")
		default:
			b.WriteByte(' ')
		}
	}
	return fmt.Sprintf("chaos-%d.txt", n), marker, []byte(b.String())
}

func (l *load) uploader(stop context.Context, i int) {
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	c := l.users[i%len(l.users)]
	user := fmt.Sprintf("user-%d", i%len(l.users)+1)
	var corpus []string
	if l.cfg.Corpus != "" && i < len(l.users) {
		corpus = corpusFiles // each user's first uploader brings the real files, once
	}
	for stop.Err() == nil {
		var d *docRecord
		var content []byte
		if len(corpus) > 0 {
			name := corpus[0]
			corpus = corpus[1:]
			data, err := os.ReadFile(filepath.Join(l.cfg.Corpus, name))
			if err != nil {
				l.logf("corpus file %s: %v", name, err)
				continue
			}
			d, content = &docRecord{User: user, Filename: name, MayFail: true}, data
		} else {
			name, marker, data := l.document(rng)
			d, content = &docRecord{User: user, Filename: name, Marker: marker}, data
		}
		l.upload(stop, c, d, content)
		pause(stop, time.Duration(rng.IntN(300))*time.Millisecond)
	}
}

// upload sends one file (again, to another replica, while no replica answers:
// the same bytes answer the same document) and polls it to its end.
func (l *load) upload(stop context.Context, c *client, d *docRecord, content []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(stop), l.cfg.ItemTimeout)
	defer cancel()
	form := uploadForm(d.Filename, content)
	var out struct {
		Documents []struct {
			ID        string `json:"id"`
			Duplicate bool   `json:"duplicate"`
		} `json:"documents"`
	}
	submitted := time.Now()
	for try := 0; ; try++ {
		if try > 0 {
			l.uploadRetries.Add(1)
		}
		err := c.do(ctx, c.base(), http.MethodPost, "/v1/documents", form, &out)
		if err == nil {
			break
		}
		if !retryable(err) {
			l.ledger.unexpect("upload of %s refused: %v", d.Filename, err)
			return
		}
		if ctx.Err() != nil {
			// Nothing answered the upload for ItemTimeout: the platform took
			// nothing the client knows of, so nothing is lost — but it is not
			// what a platform with a replica up should do.
			l.ledger.unexpect("upload of %s: no replica took it within %s: %v", d.Filename, l.cfg.ItemTimeout, err)
			return
		}
		pause(ctx, 200*time.Millisecond)
	}
	if len(out.Documents) != 1 {
		l.ledger.unexpect("upload of %s answered %d documents", d.Filename, len(out.Documents))
		return
	}
	d.ID, d.Submitted = out.Documents[0].ID, submitted
	d = l.ledger.addDoc(d)
	l.poll(ctx, c, d)
}

// docView is what GET /v1/documents/{id} answers, in the fields the ledger uses.
type docView struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	ChunkCount int    `json:"chunk_count"`
	SHA256     string `json:"sha256"`
	Error      *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func (l *load) poll(ctx context.Context, c *client, d *docRecord) {
	for {
		var v docView
		err := c.call(ctx, http.MethodGet, "/v1/documents/"+d.ID, nil, &v)
		if err != nil {
			if ctx.Err() == nil {
				l.ledger.unexpect("document %s: %v", d.ID, err)
			}
			return // never terminal: the ledger counts it lost
		}
		code := ""
		if v.Error != nil {
			code = v.Error.Code
		}
		l.ledger.observeDoc(d, v.Status, code, v.ChunkCount)
		if v.Status == "ready" || v.Status == "failed" {
			if v.Status == "ready" && d.Marker != "" {
				l.markers.Store(d.Marker, true)
			}
			return
		}
		pause(ctx, 250*time.Millisecond)
	}
}

// answer is what the test model says to a question: words of its own, so a
// token from another turn or attempt shows.
func answer(question string) []string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(question))
	tag := fmt.Sprintf("%08x", h.Sum32())
	out := make([]string, 24)
	for i := range out {
		out[i] = fmt.Sprintf("%s%s-%d", map[bool]string{true: "", false: " "}[i == 0], tag, i)
	}
	return out
}

// toolMarker in a question makes the model search the documents first.
const toolMarker = "[search] "

// ModelHandler answers the load's questions: the scripted answer of each, after a
// search of the documents when the question asks for one. Install it on the
// test model server with Handle.
func ModelHandler(req api.ChatRequest) llmtest.Script {
	if len(req.Messages) == 0 {
		return llmtest.Text("?")
	}
	var question string
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			question = req.Messages[i].Content
			break
		}
	}
	lastRole := req.Messages[len(req.Messages)-1].Role
	if q, ok := strings.CutPrefix(question, toolMarker); ok && lastRole == "user" {
		query, _, _ := strings.Cut(q, " ")
		return llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "search_documents", Arguments: map[string]any{"query": query}}},
			FirstTokenDelay: 20 * time.Millisecond}
	}
	return llmtest.Script{Tokens: answer(question), FirstTokenDelay: 50 * time.Millisecond, TokenDelay: 25 * time.Millisecond}
}

func (l *load) chatter(stop context.Context, i int) {
	rng := rand.New(rand.NewPCG(uint64(i)+1000, uint64(time.Now().UnixNano())))
	c := l.users[i%len(l.users)]
	user := fmt.Sprintf("user-%d", i%len(l.users)+1)
	var session struct {
		ID string `json:"id"`
	}
	// A session made twice (a replica died after making it) is an empty chat;
	// the ledger follows the one it was told of.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(stop), l.cfg.ItemTimeout)
	err := c.call(ctx, http.MethodPost, "/v1/chat/sessions", map[string]any{"title": fmt.Sprintf("chaos %d", i)}, &session)
	cancel()
	if err != nil {
		l.ledger.unexpect("chatter %d: create session: %v", i, err)
		return
	}
	for stop.Err() == nil {
		q := fmt.Sprintf("question %d of chatter %d: what does the report say?", l.questionN.Add(1), i)
		if rng.Float64() < l.cfg.ToolChance {
			if m := l.someMarker(rng); m != "" {
				q = toolMarker + m + " " + q
			}
		}
		l.turn(stop, c, rng, user, session.ID, q)
		pause(stop, time.Duration(rng.IntN(200))*time.Millisecond)
	}
}

func (l *load) someMarker(rng *rand.Rand) string {
	var all []string
	l.markers.Range(func(k, _ any) bool {
		all = append(all, k.(string))
		return len(all) < 200
	})
	if len(all) == 0 {
		return ""
	}
	return all[rng.IntN(len(all))]
}

// turn asks one question and streams its answer to the end, resuming on another
// replica whenever a stream breaks (and sometimes on purpose).
func (l *load) turn(stop context.Context, c *client, rng *rand.Rand, user, sessionID, question string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(stop), l.cfg.ItemTimeout)
	defer cancel()
	words := answer(question)
	t := &turnRecord{SessionID: sessionID, User: user, Question: question, Expected: strings.Join(words, ""), Submitted: time.Now()}
	id, err := l.post(ctx, c, t)
	if err != nil {
		l.ledger.unexpect("question %q: %v", question, err)
		return
	}
	t.ID = id
	l.ledger.addTurn(t)

	var after uint64
	dropAt := -1
	if rng.Float64() < l.cfg.ResumeChance {
		dropAt = 1 + rng.IntN(12)
		l.planned.Add(1)
	}
	for ctx.Err() == nil {
		t.Streams++
		got := 0
		terminal, err := c.stream(ctx, c.base(), t.ID, after, func(ev sseEvent) bool {
			t.Events = append(t.Events, ev)
			after = ev.ID
			got++
			return dropAt >= 0 && len(t.Events) == dropAt
		})
		if terminal {
			t.Finished = time.Now()
			return
		}
		var ae *apiError
		if errors.As(err, &ae) {
			l.ledger.unexpect("turn %s: events refused: %v", t.ID, err)
			return
		}
		if dropAt >= 0 && len(t.Events) >= dropAt {
			dropAt = -1
		}
		t.Reconnects++
		l.resumes.Add(1)
		if got == 0 {
			pause(ctx, 300*time.Millisecond)
		}
	}
}

// post asks the question, finding out after an answer that never came whether
// the platform took it (the question is in the chat) before asking again.
func (l *load) post(ctx context.Context, c *client, t *turnRecord) (string, error) {
	for {
		t.Posts++
		var out struct {
			Turn struct {
				ID string `json:"id"`
			} `json:"turn"`
		}
		err := c.do(ctx, c.base(), http.MethodPost, "/v1/chat/sessions/"+t.SessionID+"/messages", map[string]any{"content": t.Question}, &out)
		if err == nil {
			return out.Turn.ID, nil
		}
		var ae *apiError
		if !retryable(err) && !(errors.As(err, &ae) && ae.Status == http.StatusConflict) {
			return "", err
		}
		l.postRetries.Add(1)
		if id, found, ferr := l.findQuestion(ctx, c, t); ferr != nil {
			return "", ferr
		} else if found {
			return id, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("not taken within %s: %w", l.cfg.ItemTimeout, err)
		}
		pause(ctx, 200*time.Millisecond)
	}
}

// findQuestion looks for the question in the chat, as a client does after a POST
// whose answer it never got.
func (l *load) findQuestion(ctx context.Context, c *client, t *turnRecord) (string, bool, error) {
	var s chatSession
	if err := c.call(ctx, http.MethodGet, "/v1/chat/sessions/"+t.SessionID, nil, &s); err != nil {
		return "", false, err
	}
	for _, m := range s.Messages {
		if m.Role == "user" && m.Content == t.Question && m.TurnID != nil {
			return *m.TurnID, true, nil
		}
	}
	return "", false, nil
}

// operator starts re-index jobs one after another and follows each to its end.
func (l *load) operator(stop context.Context) {
	for i := 0; stop.Err() == nil; i++ {
		kind := l.cfg.ReindexKinds[i%len(l.cfg.ReindexKinds)]
		l.job(stop, kind)
		pause(stop, 2*time.Second)
	}
}

type jobView struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
}

func (l *load) job(stop context.Context, kind string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(stop), l.cfg.ItemTimeout)
	defer cancel()
	j := &jobRecord{Kind: kind, Submitted: time.Now()}
	for {
		var v jobView
		err := l.admin.do(ctx, l.admin.base(), http.MethodPost, "/v1/admin/reindex", map[string]any{"kind": kind}, &v)
		if err == nil {
			j.ID = v.ID
			break
		}
		var ae *apiError
		if !retryable(err) && !(errors.As(err, &ae) && ae.Status == http.StatusConflict) {
			l.ledger.unexpect("re-index %s refused: %v", kind, err)
			return
		}
		// Taken or not? One job of a kind may be active: look for it.
		if id := l.activeJob(ctx, kind); id != "" {
			if !l.known(id) {
				j.ID = id
				break
			}
		}
		if ctx.Err() != nil {
			l.ledger.unexpect("re-index %s: not taken within %s: %v", kind, l.cfg.ItemTimeout, err)
			return
		}
		pause(ctx, 300*time.Millisecond)
	}
	l.ledger.addJob(j)
	for {
		var v jobView
		if err := l.admin.call(ctx, http.MethodGet, "/v1/admin/reindex/"+j.ID, nil, &v); err != nil {
			if ctx.Err() == nil {
				l.ledger.unexpect("re-index job %s: %v", j.ID, err)
			}
			return
		}
		l.ledger.observeJob(j, v.Status)
		if isJobTerminal(v.Status) {
			return
		}
		pause(ctx, 300*time.Millisecond)
	}
}

func (l *load) known(id string) bool {
	l.ledger.mu.Lock()
	defer l.ledger.mu.Unlock()
	_, ok := l.ledger.jobs[id]
	return ok
}

func (l *load) activeJob(ctx context.Context, kind string) string {
	var out struct {
		Jobs []jobView `json:"jobs"`
	}
	if err := l.admin.call(ctx, http.MethodGet, "/v1/admin/reindex?limit=20", nil, &out); err != nil {
		return ""
	}
	for _, j := range out.Jobs {
		if j.Kind == kind && !isJobTerminal(j.Status) {
			return j.ID
		}
	}
	return ""
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// chatSession is what the harness reads of a chat: its messages, by role and turn.
type chatSession struct {
	Messages []struct {
		Role    string  `json:"role"`
		Content string  `json:"content"`
		TurnID  *string `json:"turn_id"`
	} `json:"messages"`
}
