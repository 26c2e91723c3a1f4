package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llmtest"
)

// What the hostile-client suite watches while an attack runs: the heap of this
// process (the API and all its workers run in it), readiness, and a bystander who
// keeps using the platform. None of these call require from their goroutines: they
// collect what they saw, and the test asserts on it.

// heapNow reads this process's heap: live is what the last garbage collection found
// reachable, objects every heap object, garbage not yet collected included.
func heapNow() (live, objects uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// heapPeak is what a heap watch saw: the baseline after a collection, and the
// highest values while it ran.
type heapPeak struct {
	baseLive, baseObjects uint64
	live, objects         uint64
}

// liveGrowth is how far the live heap rose above the baseline.
func (p heapPeak) liveGrowth() uint64 { return p.live - min(p.live, p.baseLive) }

// objectsGrowth is how far the heap's objects, garbage included, rose above the baseline.
func (p heapPeak) objectsGrowth() uint64 { return p.objects - min(p.objects, p.baseObjects) }

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// watchHeap collects garbage, takes the baseline and samples the heap every
// couple of milliseconds until stop is called.
func watchHeap() (stop func() heapPeak) {
	runtime.GC()
	live, objects := heapNow()
	p := heapPeak{baseLive: live, baseObjects: objects, live: live, objects: objects}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond) // the sampling rate, not synchronisation
		defer tick.Stop()
		for {
			l, o := heapNow()
			p.live, p.objects = max(p.live, l), max(p.objects, o)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() heapPeak {
		once.Do(func() { close(done); wg.Wait() })
		return p
	}
}

// readinessWatch polls /readyz until stopped and keeps every answer that was not 200.
type readinessWatch struct {
	polls    int
	worst    time.Duration
	problems []string
}

func watchReadiness(base string) (stop func() readinessWatch) {
	done := make(chan struct{})
	var out readinessWatch
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond) // the polling rate of a load balancer, faster
		defer tick.Stop()
		for {
			start := time.Now()
			resp, err := client.Get(base + "/readyz")
			took := time.Since(start)
			out.polls++
			out.worst = max(out.worst, took)
			switch {
			case err != nil:
				out.problems = append(out.problems, fmt.Sprintf("%s: %v", start.Format(time.TimeOnly), err))
			default:
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					out.problems = append(out.problems, fmt.Sprintf("%s: %d %s", start.Format(time.TimeOnly), resp.StatusCode, body))
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() readinessWatch {
		once.Do(func() { close(done); wg.Wait() })
		return out
	}
}

// Chat messages are scripted by their prefix: the model holds a turn that starts
// with holdPrefix open for as long as it runs, and answers a bystander's question by
// searching the documents for the rest of the message, then citing what it found.
// Everything else gets "OK.".
const (
	holdPrefix      = "hold: "
	bystanderPrefix = "find: "
)

// modelServer is the scripted model server behind a switch: while down, every
// connection to it is cut before an answer, as a crashed or unreachable server's.
type modelServer struct {
	*httptest.Server
	down atomic.Bool
}

func newModelServer(t *testing.T) *modelServer {
	t.Helper()
	llm := llmtest.New(t)
	llm.Handle(func(req api.ChatRequest) llmtest.Script {
		content, step := lastUserMessage(req)
		switch {
		case strings.HasPrefix(content, holdPrefix):
			return llmtest.Script{Tokens: []string{"holding "}, Stall: true}
		case strings.HasPrefix(content, bystanderPrefix) && step == 0:
			query := strings.TrimPrefix(content, bystanderPrefix)
			return llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "search_documents", Arguments: map[string]any{"query": query}}}}
		case strings.HasPrefix(content, bystanderPrefix):
			return llmtest.Text("It is in your ledger ", "[1].")
		}
		return llmtest.Text("OK.")
	})
	target, err := url.Parse(llm.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // chat answers stream
	m := &modelServer{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.down.Load() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(m.Close)
	return m
}

// fixtureDoc is a document of the fixture and the one word only its text has.
type fixtureDoc struct{ id, word string }

// bystander is a user who keeps using the platform while others attack it, from
// an address of its own. Its loop owns sent and answered while it runs.
type bystander struct {
	base, key, addr string
	docs            []fixtureDoc
	live            string       // the chat session the loop talks in
	sent, answered  int          // messages the loop sent there, and turns completed
	degraded        atomic.Int64 // answers given without the model
	http            *http.Client
}

// bystanderReport is what the bystander saw during one attack.
type bystanderReport struct {
	rounds    int
	worst     time.Duration
	worstWhat string
	degraded  int // answers given without the model, from the documents
	problems  []string
}

// Latency bounds of the bystander's requests while an attack runs, on a loaded
// 2-core machine under the race detector. Unattacked, a request takes milliseconds
// and a chat turn (two model calls, a search, a few writes) tens of them; the
// slowest seen under attack, a chat turn while ~100 MB go through the upload store,
// takes under two seconds. Three means an attack got in the bystander's way.
const (
	bystanderBound = 3 * time.Second
	// chatDownBound: with the model server down a turn waits through the model
	// client's retries (about two seconds) before it answers from the documents.
	chatDownBound = 10 * time.Second
)

// call sends one request of the bystander, from its address, and decodes a 200 into out.
func (b *bystander) call(rep *bystanderReport, bound time.Duration, method, path string, body, out any) bool {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		rep.problems = append(rep.problems, err.Error())
		return false
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	req.Header.Set("X-Forwarded-For", b.addr)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := b.http.Do(req)
	what := method + " " + strings.SplitN(path, "?", 2)[0]
	if err != nil {
		rep.problems = append(rep.problems, fmt.Sprintf("%s: %v", what, err))
		return false
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if took > rep.worst {
		rep.worst, rep.worstWhat = took, what
	}
	if took > bound {
		// Too slow is a problem of its own; the answer still counts as received, so
		// the check that every answer is kept compares like with like.
		rep.problems = append(rep.problems, fmt.Sprintf("%s took %s, over the bound of %s", what, took.Round(time.Millisecond), bound))
	}
	switch {
	case err != nil:
		rep.problems = append(rep.problems, fmt.Sprintf("%s: reading the answer: %v", what, err))
	case resp.StatusCode != http.StatusOK:
		rep.problems = append(rep.problems, fmt.Sprintf("%s: %d %s", what, resp.StatusCode, raw))
	case out != nil && json.Unmarshal(raw, out) != nil:
		rep.problems = append(rep.problems, fmt.Sprintf("%s: undecodable %s", what, raw))
	default:
		return true
	}
	return false
}

// modelDownAnswer starts the answer of a turn whose model is down: the platform
// answers from the user's documents instead, and says so.
const modelDownAnswer = "The language model is not available right now"

// round is one visit: who am I, search for a document, list the library, ask the
// chat about the document. While the model server is down (modelDown) the answer
// comes from the documents, saying so, and may take longer.
func (b *bystander) round(rep *bystanderReport, i int, modelDown bool) {
	doc := b.docs[i%len(b.docs)]
	b.call(rep, bystanderBound, "GET", "/v1/me", nil, nil)

	var found hits
	if b.call(rep, bystanderBound, "POST", "/v1/search", map[string]any{"query": doc.word}, &found) &&
		(len(found.Hits) == 0 || found.Hits[0].DocumentID != doc.id) {
		rep.problems = append(rep.problems, fmt.Sprintf("search for %s did not find its document first: %+v", doc.word, found.Hits))
	}

	var list struct {
		Documents []document `json:"documents"`
	}
	if b.call(rep, bystanderBound, "GET", "/v1/documents?limit=200", nil, &list) {
		ready := map[string]bool{}
		for _, d := range list.Documents {
			ready[d.ID] = d.Status == "ready"
		}
		for _, d := range b.docs {
			if !ready[d.id] {
				rep.problems = append(rep.problems, fmt.Sprintf("document %s missing or not ready in the list", d.id))
			}
		}
	}

	bound := bystanderBound
	if modelDown {
		bound = chatDownBound
	}
	var sent struct {
		Turn chatTurn `json:"turn"`
	}
	b.sent++
	if !b.call(rep, bound, "POST", "/v1/chat/send", map[string]any{"session_id": b.live, "content": bystanderPrefix + doc.word}, &sent) {
		return
	}
	tv := sent.Turn
	if tv.Status != "completed" || tv.Answer == nil {
		rep.problems = append(rep.problems, fmt.Sprintf("chat turn ended %s: %+v", tv.Status, tv.Error))
		return
	}
	b.answered++
	cited := false
	for _, c := range tv.Citations {
		cited = cited || c.DocumentID == doc.id
	}
	if !cited {
		rep.problems = append(rep.problems, fmt.Sprintf("the answer about %s does not cite its document: %+v", doc.word, tv.Citations))
	}
	switch degraded := strings.HasPrefix(*tv.Answer, modelDownAnswer); {
	case degraded && modelDown:
		rep.degraded++
		b.degraded.Add(1)
	case degraded:
		rep.problems = append(rep.problems, "answered from the documents while the model server was up: "+*tv.Answer)
	}
}

// start runs rounds until stop is called, and at least one whole round.
func (b *bystander) start(modelDown bool) (stop func() bystanderReport) {
	done := make(chan struct{})
	var rep bystanderReport
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			if i > 0 {
				select {
				case <-done:
					return
				default:
				}
			}
			b.round(&rep, i, modelDown)
			rep.rounds++
		}
	})
	var once sync.Once
	return func() bystanderReport {
		once.Do(func() { close(done); wg.Wait() })
		return rep
	}
}
