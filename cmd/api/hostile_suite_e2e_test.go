package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// The hostile-client suite: every attack a client can make on the platform, run one
// after another against one running program. For every attack, while it runs:
//
//   - a bystander, another user from another address, keeps working: who am I, a
//     search that must find its document, its library, a chat turn that must cite
//     its document; every request succeeds within bystanderBound (a chat turn
//     answered from the documents may take longer while the model server is down);
//   - the heap of the process stays within heapGrowthBound of where it was before;
//
// and after it nothing is lost: the bystander's documents are ready and found, its
// chat history is whole, and the attacker's own data from before the attack is
// there. Throughout, /readyz answers 200; at the end the attacks that are made of
// client-chosen junk run a second time and add no /metrics series.

const (
	// heapGrowthBound is how far the live heap may rise above its level before an
	// attack while the attack runs. Every attack meets a limit of at most a few MiB
	// (a CSV row of 1 MiB, a form's fields of 32 KiB, uploads streamed in chunks;
	// a parser may hold parseMemoryBytes at most), and the bystander and the workers
	// need a few MiB of their own. The 16 MiB form is held to reading its first MiB,
	// which its row checks.
	heapGrowthBound = 64 << 20
	// transferHeapBound is the bound of an attack that moves files of many MiB
	// through the upload store: the ~100 MB CSV, and the fillers of a full store.
	// In -dev the JetStream server runs in this process, and while the ingest worker
	// downloads an object it holds up to its flow-control window (32 MiB in flight
	// to a consumer) and a few 8 MiB file-store blocks: 40 to 60 MiB measured, for a
	// file of 24 MiB as for one of 320 MiB. A parser that held the ~100 MB field,
	// even once, would exceed this bound.
	transferHeapBound = 96 << 20

	// The limits the program runs with, small so that reaching them is cheap.
	turnCap, streamCap, uploadSlots = 4, 3, 2
	authFailureBurst                = 5
	quotaBytes, quotaDocuments      = 64 << 10, 8
	uploadStoreBytes                = 112 << 20
	parseMemoryBytes                = 32 << 20
	// hostileCSVBytes is near the 100 MiB upload limit. Once it is stored, the
	// upload store has room for two fillers, so the full-store attack after it is quick.
	hostileCSVBytes = 96 << 20
	fillerBytes     = 8 << 20
	slowlorisConns  = 64
)

// hostileSuite is the running program, its users and the watches.
type hostileSuite struct {
	base, admin string
	c           *apitest.Client
	k           *contract
	model       *modelServer
	by          *bystander
	seeded      string   // the bystander's conversation from before the attacks
	history     []string // its messages
}

// attacker is the user who makes one attack, from an address of its own, with a
// document of its own from before the attack.
type attacker struct {
	id, name, key, addr string
	doc                 fixtureDoc
	// What an attack prepares for itself.
	sessions []string
	turn     string
	cookie   *http.Cookie
	csrf     string
	other    *http.Cookie
	// neighbour is the key of another user with no quota.
	neighbour string
}

// attack is one row of the suite.
type attack struct {
	name string
	// prepare sets the attack up before the watches start; may be nil.
	prepare func(t *testing.T, s *hostileSuite, a *attacker)
	// run makes the attack, asserting how the platform refuses it.
	run func(t *testing.T, s *hostileSuite, a *attacker)
	// modelDown: the model server is down during the attack, so the bystander's
	// chat turns are answered from its documents, saying so, and take longer.
	modelDown bool
	// again: the attack is made of client-chosen junk and is cheap; it runs a second
	// time at the end, which must add no /metrics series.
	again bool
	// heapBound replaces heapGrowthBound when set.
	heapBound uint64
}

// rowResult is what the summary reports of one row.
type rowResult struct {
	name string
	took time.Duration
	heap heapPeak
	by   bystanderReport
}

func TestHostileClientSuite(t *testing.T) {
	// Not parallel: the heap watched is the whole test process's.
	started := time.Now()
	s := newHostileSuite(t)
	stopReadiness := watchReadiness(s.base)
	defer stopReadiness()

	rows := hostileAttacks()
	attackers := make([]*attacker, len(rows))
	for i, r := range rows {
		attackers[i] = s.newAttacker(t, r.name, i+1)
	}
	s.waitAttackers(t, attackers)
	setup := time.Since(started)
	_, seriesBefore := metricsShape(t, s.base)

	var results []rowResult
	for i, r := range rows {
		results = append(results, s.run(t, r, attackers[i]))
	}

	// The junk attacks again, by new attackers with new junk: /metrics stays as it
	// is, and every series it has is labelled from a closed set.
	_, series := metricsShape(t, s.base)
	var again []*attacker
	var againRows []attack
	for i, r := range rows {
		if r.again {
			r.name += " (again)"
			againRows = append(againRows, r)
			again = append(again, s.newAttacker(t, r.name, 100+i))
		}
	}
	s.waitAttackers(t, again)
	for i, r := range againRows {
		results = append(results, s.run(t, r, again[i]))
	}
	_, seriesAfter := metricsShape(t, s.base)
	requireClosedLabels(t, s.base)

	ready := stopReadiness()
	var table strings.Builder
	fmt.Fprintf(&table, "%-40s %8s %14s %14s %7s %s\n", "attack", "took", "live heap +MiB", "heap objs +MiB", "rounds", "slowest bystander request")
	for _, r := range results {
		if r.took == 0 {
			continue // not selected by -run
		}
		fmt.Fprintf(&table, "%-40s %8s %14.1f %14.1f %7d %s %s\n", r.name, r.took.Round(10*time.Millisecond),
			mib(r.heap.liveGrowth()), mib(r.heap.objectsGrowth()), r.by.rounds, r.by.worstWhat, r.by.worst.Round(time.Millisecond))
	}
	t.Logf("hostile-client suite: setup %s, all %s; /readyz polled %d times, slowest %s; "+
		"HTTP series before the attacks %d, after them %d, after the junk again %d\n%s",
		setup.Round(10*time.Millisecond), time.Since(started).Round(10*time.Millisecond), ready.polls, ready.worst.Round(time.Millisecond),
		seriesBefore, series, seriesAfter, table.String())
	require.Empty(t, ready.problems, "/readyz answers 200 throughout")
	require.Equal(t, series, seriesAfter, "repeating the junk adds no /metrics series")
}

// run makes one attack with the watches on, then checks that nothing was lost.
func (s *hostileSuite) run(t *testing.T, r attack, a *attacker) rowResult {
	res := rowResult{name: r.name}
	t.Run(r.name, func(t *testing.T) {
		if r.prepare != nil {
			r.prepare(t, s, a)
		}
		stopHeap := watchHeap()
		stopBystander := s.by.start(r.modelDown)
		start := time.Now()
		defer func() { // also when the attack fails or skips
			res.took, res.heap, res.by = time.Since(start), stopHeap(), stopBystander()
		}()
		r.run(t, s, a)
		by := stopBystander()
		heap := stopHeap()
		t.Logf("%s: %s; live heap +%.1f MiB (objects +%.1f MiB); bystander %d rounds, slowest %s %s",
			r.name, time.Since(start).Round(10*time.Millisecond), mib(heap.liveGrowth()), mib(heap.objectsGrowth()),
			by.rounds, by.worstWhat, by.worst.Round(time.Millisecond))
		require.Empty(t, by.problems, "the bystander is served, in time, while %s", r.name)
		require.Positive(t, by.rounds)
		if r.modelDown {
			require.Positive(t, by.degraded, "the bystander asked while the model server was down")
		}
		bound := cmp.Or(r.heapBound, heapGrowthBound)
		require.Less(t, heap.liveGrowth(), bound, "the live heap rose %.1f MiB during %s, over the bound of %.0f MiB",
			mib(heap.liveGrowth()), r.name, mib(bound))
		s.requireNothingLost(t, a)
	})
	return res
}

func newHostileSuite(t *testing.T) *hostileSuite {
	t.Helper()
	model := newModelServer(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-" + randomHex(12)
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error",
		// Chat goes to the scripted model server rather than the extractive answerer:
		// only a model can hold turns running, which the turn and stream caps need.
		// The bystander's turns search its documents with the tool the extractive
		// answerer uses, and cite what they find.
		"YW_OLLAMA_URL": model.URL, "YW_CHAT_MODEL": llmtest.ChatModel,
		// Every attacker, and the bystander, comes from an address of its own.
		"YW_TRUSTED_PROXIES": "127.0.0.1",
		"YW_RATE_LIMIT_RPS":  "1000", "YW_RATE_LIMIT_BURST": "1000",
		"YW_AUTH_FAILURE_RPS": "0.01", "YW_AUTH_FAILURE_BURST": strconv.Itoa(authFailureBurst),
		"YW_MAX_TURNS_PER_USER": strconv.Itoa(turnCap), "YW_MAX_STREAMS_PER_USER": strconv.Itoa(streamCap),
		"YW_UPLOADS_PER_USER": strconv.Itoa(uploadSlots),
		"YW_QUOTA_BYTES":      strconv.Itoa(quotaBytes), "YW_QUOTA_DOCUMENTS": strconv.Itoa(quotaDocuments),
		"YW_UPLOAD_STORE_BYTES":       strconv.Itoa(uploadStoreBytes),
		"YW_PARSE_MEMORY_BYTES":       strconv.Itoa(parseMemoryBytes),
		"YW_HTTP_READ_HEADER_TIMEOUT": "1s", "YW_HTTP_READ_TIMEOUT": "1s", "YW_HTTP_UPLOAD_READ_TIMEOUT": "2m"})
	s := &hostileSuite{base: base, admin: admin, c: apitest.NewClient(t, base), k: loadContract(t, base), model: model}

	key := newUser(t, s.c, admin, "bystander")
	s.by = &bystander{base: base, key: key, addr: "203.0.113.7", http: &http.Client{Timeout: time.Minute}}
	for i := range 3 {
		word := "heron" + randomHex(4)
		text := fmt.Sprintf("Ledger %d of the bystander.\n\nThe reference word %s appears in this ledger only. "+
			"It lists the invoices of the quarter and who approved them.\n", i, word)
		d, _ := uploadOne(t, s.c, key, fmt.Sprintf("ledger-%d.txt", i), []byte(text), http.StatusAccepted)
		s.by.docs = append(s.by.docs, fixtureDoc{id: d.ID, word: word})
	}
	for _, d := range s.by.docs {
		require.Equal(t, "ready", waitFor(t, s.c, key, d.id).Status)
	}
	var sess struct {
		ID string `json:"id"`
	}
	s.c.Do("POST", "/v1/chat/sessions", key, map[string]any{"title": "ledgers"}, http.StatusCreated, &sess)
	s.seeded = sess.ID
	var sent struct {
		Turn chatTurn `json:"turn"`
	}
	s.c.Do("POST", "/v1/chat/send", key, map[string]any{"session_id": s.seeded, "content": bystanderPrefix + s.by.docs[0].word}, http.StatusOK, &sent)
	require.Equal(t, "completed", sent.Turn.Status)
	require.NotEmpty(t, sent.Turn.Citations)
	s.history = s.messages(t, key, s.seeded)
	s.c.Do("POST", "/v1/chat/sessions", key, map[string]any{"title": "during the attacks"}, http.StatusCreated, &sess)
	s.by.live = sess.ID
	// One round before the attacks creates the metrics series of what the bystander does.
	first := s.by.start(false)()
	require.Empty(t, first.problems)
	metricsShape(t, s.base) // and the first read of /metrics its own
	return s
}

// newAttacker creates the attacker of a row, from address 198.51.100.n, and uploads
// its own document; waitAttackers waits for those to be ready.
func (s *hostileSuite) newAttacker(t *testing.T, row string, n int) *attacker {
	t.Helper()
	var created struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Key string `json:"key"`
	}
	name := fmt.Sprintf("attacker-%d-%s", n, randomHex(2))
	s.c.Do("POST", "/v1/admin/users", s.admin, map[string]any{"name": name}, http.StatusCreated, &created)
	a := &attacker{id: created.User.ID, name: name, key: created.Key, addr: fmt.Sprintf("198.51.100.%d", n)}
	word := "plover" + randomHex(4)
	d, _ := uploadOne(t, s.c, a.key, "before.txt", []byte(fmt.Sprintf("What %s kept before the attack %q: the reference word %s.\n", name, row, word)), http.StatusAccepted)
	a.doc = fixtureDoc{id: d.ID, word: word}
	return a
}

func (s *hostileSuite) waitAttackers(t *testing.T, attackers []*attacker) {
	t.Helper()
	for _, a := range attackers {
		require.Equal(t, "ready", waitFor(t, s.c, a.key, a.doc.id).Status)
	}
}

// requireNothingLost checks, after an attack, that the bystander's documents are
// ready and found, its conversations whole, the attacker's own document ready and
// found, and every event stream closed.
func (s *hostileSuite) requireNothingLost(t *testing.T, a *attacker) {
	t.Helper()
	for _, d := range s.by.docs {
		s.requireFindable(t, s.by.key, d)
	}
	s.requireFindable(t, a.key, a.doc)
	require.Equal(t, s.history, s.messages(t, s.by.key, s.seeded), "the conversation from before the attacks is as it was")
	users, answers := 0, 0
	for _, m := range s.messages(t, s.by.key, s.by.live) {
		switch {
		case strings.HasPrefix(m, "user: "):
			users++
		case strings.HasPrefix(m, "assistant: "):
			answers++
		}
	}
	require.Equal(t, s.by.sent, users, "every message the bystander sent is kept")
	require.Equal(t, s.by.answered, answers, "every answer it got is kept")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(metricsText(t, s.base), "\nyw_http_streams_open 0\n") {
		require.True(t, time.Now().Before(deadline), "event streams are still counted open")
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func (s *hostileSuite) requireFindable(t *testing.T, key string, d fixtureDoc) {
	t.Helper()
	var got document
	s.c.Do("GET", "/v1/documents/"+d.id, key, nil, http.StatusOK, &got)
	require.Equal(t, "ready", got.Status)
	var found hits
	s.c.Do("POST", "/v1/search", key, map[string]any{"query": d.word}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits, "search finds %s", d.word)
	require.Equal(t, d.id, found.Hits[0].DocumentID)
}

// messages returns a conversation as "role: content" lines.
func (s *hostileSuite) messages(t *testing.T, key, session string) []string {
	t.Helper()
	var out struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	s.c.Do("GET", "/v1/chat/sessions/"+session, key, nil, http.StatusOK, &out)
	lines := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		lines[i] = m.Role + ": " + m.Content
	}
	return lines
}

func (s *hostileSuite) sessionCount(t *testing.T, key string) int {
	t.Helper()
	var out struct {
		Sessions []any `json:"sessions"`
	}
	s.c.Do("GET", "/v1/chat/sessions?limit=200", key, nil, http.StatusOK, &out)
	return len(out.Sessions)
}

// waitTurn polls a turn until it ends and requires how.
func (s *hostileSuite) waitTurn(t *testing.T, key, id, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tv := getChatTurn(t, s.c, key, id)
		if tv.Status != "queued" && tv.Status != "running" {
			require.Equal(t, want, tv.Status, "turn %s: %+v", id, tv.Error)
			return
		}
		require.True(t, time.Now().Before(deadline), "turn %s still %s", id, tv.Status)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func (s *hostileSuite) liftQuota(t *testing.T, a *attacker) {
	t.Helper()
	s.c.Do("PATCH", "/v1/admin/users/"+a.id, s.admin, map[string]any{"quota_bytes": 0, "quota_documents": 0}, http.StatusOK, nil)
}

// from marks a request as coming from addr, as the trusted proxy in front says.
func from(req *http.Request, addr string) *http.Request {
	req.Header.Set("X-Forwarded-For", addr)
	return req
}

func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

var requestSeries = regexp.MustCompile(`^yw_http_requests_total\{method="([^"]*)",route="([^"]*)",status="([^"]*)"\}`)

// requireClosedLabels checks that every HTTP series is labelled with a standard
// method (or "other"), a route of the route table (or "unmatched") and a status
// code or class: whatever clients send, the series are a bounded set.
func requireClosedLabels(t *testing.T, base string) {
	t.Helper()
	routes := map[string]bool{"unmatched": true}
	for _, r := range routeTable(t) {
		_, path, _ := strings.Cut(r, " ")
		routes[path] = true
	}
	methods := map[string]bool{"other": true}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		methods[m] = true
	}
	status := regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]xx|other)$`)
	sc := bufio.NewScanner(strings.NewReader(metricsText(t, base)))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		m := requestSeries.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n++
		require.True(t, methods[m[1]], "method label %q", m[1])
		require.True(t, routes[m[2]], "route label %q", m[2])
		require.Regexp(t, status, m[3])
	}
	require.Positive(t, n)
}

// repeating yields its pattern over and over.
type repeating struct {
	pattern []byte
	off     int
}

func (r *repeating) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	return n, nil
}

func repeat(s string, n int) *repeating { return &repeating{pattern: []byte(strings.Repeat(s, n))} }

// streamUpload posts one file of size bytes read from content as a multipart upload,
// generated as it is sent, and returns the answer checked against the contract.
func (s *hostileSuite) streamUpload(t *testing.T, key, name string, content io.Reader, size int64) (int, string) {
	t.Helper()
	head := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\nContent-Type: application/octet-stream\r\n\r\n", hostileBoundary, name)
	tail := "\r\n--" + hostileBoundary + "--\r\n"
	req, err := http.NewRequest("POST", s.base+"/v1/documents",
		io.MultiReader(strings.NewReader(head), io.LimitReader(content, size), strings.NewReader(tail)))
	require.NoError(t, err)
	req.ContentLength = int64(len(head)) + size + int64(len(tail))
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+hostileBoundary)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	s.k.check(t, req, resp, body)
	return resp.StatusCode, string(body)
}

// streamsResult is what a burst of event streams got: those opened, and the refusals.
type streamsResult struct {
	open    []*http.Response
	refused []burstResult
}

// openStreams opens n event streams of one turn at the same instant.
func openStreams(ctx context.Context, base, key, addr, turnID string, n int) streamsResult {
	var mu sync.Mutex
	var out streamsResult
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/chat/turns/"+turnID+"/events", nil)
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(from(req, addr))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				out.refused = append(out.refused, burstResult{body: err.Error()})
			case resp.StatusCode == http.StatusOK:
				out.open = append(out.open, resp)
			default:
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				out.refused = append(out.refused, burstResult{status: resp.StatusCode, body: string(b)})
			}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// decodeDocs reads the documents of an upload's answer.
func decodeDocs(t *testing.T, body string) []document {
	t.Helper()
	var out struct {
		Documents []document `json:"documents"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out.Documents
}
