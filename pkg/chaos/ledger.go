package chaos

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Ledger records everything the load submitted and everything it observed, and
// judges the run: what was submitted and never finished is Lost, what was
// observed more than once is Duplicated, and what was observed but not submitted,
// or not as promised (out of order, a wrong answer, a failure), is Unexpected.
type Ledger struct {
	mu    sync.Mutex
	docs  map[string]*docRecord
	turns map[string]*turnRecord
	jobs  map[string]*jobRecord
	// order keeps submissions in the order they were made, for the report.
	docOrder, turnOrder, jobOrder []string

	lost, duplicated, unexpected []string
}

func newLedger() *Ledger {
	return &Ledger{docs: map[string]*docRecord{}, turns: map[string]*turnRecord{}, jobs: map[string]*jobRecord{}}
}

// docRecord is one uploaded document as the client saw it.
type docRecord struct {
	ID, User, Filename string
	// Marker is a word found in this document only (generated documents).
	Marker string
	// MayFail: a real-world file that may be refused with a stated code.
	MayFail bool
	// Submissions counts the uploads that answered with this document
	// (retries after a replica died answer the same document, duplicate: true).
	Submissions int
	Submitted   time.Time
	// States are the statuses polled, consecutive repeats folded.
	States     []string
	Terminal   string
	ErrorCode  string
	TerminalAt time.Time
	ChunkCount int
}

// turnRecord is one chat turn as the client streamed it.
type turnRecord struct {
	ID, SessionID, User, Question, Expected string
	Submitted, Finished                     time.Time
	// Events are every event received, across reconnections, in arrival order.
	Events []sseEvent
	// Streams counts the event streams opened (1 + resumes).
	Streams int
	// Reconnects counts the streams that broke or that the client dropped.
	Reconnects int
	Posts      int // POSTs sent for this question (retries after a replica died)
}

// jobRecord is one re-index job as the client polled it.
type jobRecord struct {
	ID, Kind            string
	Submitted, Finished time.Time
	States              []string
	Terminal            string
}

func (l *Ledger) addDoc(d *docRecord) *docRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.docs[d.ID]; ok {
		old.Submissions++
		return old
	}
	d.Submissions = 1
	l.docs[d.ID] = d
	l.docOrder = append(l.docOrder, d.ID)
	return d
}

func (l *Ledger) addTurn(t *turnRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.turns[t.ID]; ok {
		l.duplicated = append(l.duplicated, fmt.Sprintf("turn %s: answered to two submissions", t.ID))
		return
	}
	l.turns[t.ID] = t
	l.turnOrder = append(l.turnOrder, t.ID)
}

func (l *Ledger) addJob(j *jobRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs[j.ID] = j
	l.jobOrder = append(l.jobOrder, j.ID)
}

// observeDoc records one poll of a document.
func (l *Ledger) observeDoc(d *docRecord, status, code string, chunks int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(d.States); n == 0 || d.States[n-1] != status {
		d.States = append(d.States, status)
	}
	if (status == "ready" || status == "failed") && d.Terminal == "" {
		d.Terminal, d.ErrorCode, d.TerminalAt, d.ChunkCount = status, code, time.Now(), chunks
	}
}

func (l *Ledger) observeJob(j *jobRecord, status string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(j.States); n == 0 || j.States[n-1] != status {
		j.States = append(j.States, status)
	}
	if isJobTerminal(status) && j.Terminal == "" {
		j.Terminal, j.Finished = status, time.Now()
	}
}

func isJobTerminal(s string) bool { return s == "completed" || s == "failed" || s == "cancelled" }

func (l *Ledger) lose(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lost = append(l.lost, fmt.Sprintf(format, args...))
}

func (l *Ledger) duplicate(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.duplicated = append(l.duplicated, fmt.Sprintf(format, args...))
}

func (l *Ledger) unexpect(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unexpected = append(l.unexpected, fmt.Sprintf(format, args...))
}

// judgeTurn checks one turn's events: each exactly once and in order, one
// terminal event at the end, every new attempt announced by turn.restarted
// before its events, and the text after the last restart being the answer the
// model gave, as turn.completed states it.
func (l *Ledger) judgeTurn(t *turnRecord) {
	seen := map[uint64]bool{}
	var last uint64
	terminals := 0
	attempt := 1
	var text strings.Builder
	var completed string
	for i, ev := range t.Events {
		if seen[ev.ID] {
			l.duplicate("turn %s: event %d (%s) delivered twice", t.ID, ev.ID, ev.Type)
			continue
		}
		seen[ev.ID] = true
		if ev.ID <= last {
			l.unexpect("turn %s: event %d (%s) after event %d: out of sequence", t.ID, ev.ID, ev.Type, last)
		}
		last = max(last, ev.ID)
		if terminals > 0 {
			l.unexpect("turn %s: event %d (%s) after the terminal event", t.ID, ev.ID, ev.Type)
		}
		var data struct {
			Text    string `json:"text"`
			Attempt int    `json:"attempt"`
			Answer  string `json:"answer"`
			Error   *struct {
				Code, Message string
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(ev.Data), &data)
		switch ev.Type {
		case "turn.restarted":
			if data.Attempt <= attempt {
				l.unexpect("turn %s: turn.restarted to attempt %d after attempt %d", t.ID, data.Attempt, attempt)
			}
			attempt = data.Attempt
			text.Reset()
		case "turn.started":
			if data.Attempt != attempt {
				l.unexpect("turn %s: turn.started of attempt %d while attempt %d runs (event %d of %d): an attempt not announced by turn.restarted",
					t.ID, data.Attempt, attempt, i+1, len(t.Events))
			}
		case "token":
			text.WriteString(data.Text)
		case "turn.completed":
			terminals++
			completed = data.Answer
		case "turn.failed", "turn.cancelled":
			terminals++
			msg := ev.Data
			l.unexpect("turn %s: ended %s: %s", t.ID, ev.Type, msg)
		case "turn.queued", "tool.started", "tool.finished", "thinking", "context.trimmed":
		default:
			l.unexpect("turn %s: event of unknown type %q", t.ID, ev.Type)
		}
	}
	switch {
	case terminals == 0:
		l.lose("turn %s (%q): no terminal event after %d events and %d streams", t.ID, t.Question, len(t.Events), t.Streams)
		return
	case terminals > 1:
		l.duplicate("turn %s: %d terminal events", t.ID, terminals)
	}
	if completed != "" && completed != t.Expected {
		l.unexpect("turn %s: turn.completed says %q, the model said %q", t.ID, completed, t.Expected)
	}
	if completed != "" && text.String() != t.Expected {
		l.unexpect("turn %s: the tokens after the last restart read %q, the answer is %q", t.ID, text.String(), t.Expected)
	}
}

// judgeDoc checks the polled life of one document.
func (l *Ledger) judgeDoc(d *docRecord) {
	switch {
	case d.Terminal == "":
		l.lose("document %s (%s): never ready or failed; statuses seen %v", d.ID, d.Filename, d.States)
		return
	case d.Terminal == "failed" && !d.MayFail:
		l.unexpect("document %s (%s): failed with %q", d.ID, d.Filename, d.ErrorCode)
	case d.Terminal == "failed" && d.ErrorCode == "":
		l.unexpect("document %s (%s): failed without a code", d.ID, d.Filename)
	case d.Terminal == "failed" && (d.ErrorCode == "worker_gave_up" || d.ErrorCode == "internal"):
		l.unexpect("document %s (%s): failed with %q, a failure of the platform rather than of the file", d.ID, d.Filename, d.ErrorCode)
	}
	// After its end a document stays as it ended: processing it again is the
	// job running twice.
	for i, s := range d.States {
		if (s == "ready" || s == "failed") && i < len(d.States)-1 {
			l.duplicate("document %s (%s): processed again after it was %s: statuses %v", d.ID, d.Filename, s, d.States)
			break
		}
	}
}

func (l *Ledger) judgeJob(j *jobRecord) {
	switch {
	case j.Terminal == "":
		l.lose("re-index job %s (%s): never ended; statuses seen %v", j.ID, j.Kind, j.States)
	case j.Terminal != "completed":
		l.unexpect("re-index job %s (%s): ended %s", j.ID, j.Kind, j.Terminal)
	}
	for i, s := range j.States {
		if isJobTerminal(s) && i < len(j.States)-1 {
			l.duplicate("re-index job %s (%s): ran again after it was %s: %v", j.ID, j.Kind, s, j.States)
			break
		}
	}
}

// Verdict is the judged ledger.
type Verdict struct {
	Lost, Duplicated, Unexpected []string
}

// OK reports an empty ledger of faults.
func (v Verdict) OK() bool { return len(v.Lost)+len(v.Duplicated)+len(v.Unexpected) == 0 }

func (l *Ledger) judge() Verdict {
	l.mu.Lock()
	docs, turns, jobs := l.sortedDocs(), l.sortedTurns(), l.sortedJobs()
	l.mu.Unlock()
	for _, d := range docs {
		l.judgeDoc(d)
	}
	for _, t := range turns {
		l.judgeTurn(t)
	}
	for _, j := range jobs {
		l.judgeJob(j)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return Verdict{Lost: dedup(l.lost), Duplicated: dedup(l.duplicated), Unexpected: dedup(l.unexpected)}
}

func dedup(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	j := 0
	for i, v := range out {
		if i == 0 || v != out[j-1] {
			out[j] = v
			j++
		}
	}
	return out[:j]
}

func (l *Ledger) sortedDocs() []*docRecord {
	out := make([]*docRecord, len(l.docOrder))
	for i, id := range l.docOrder {
		out[i] = l.docs[id]
	}
	return out
}

func (l *Ledger) sortedTurns() []*turnRecord {
	out := make([]*turnRecord, len(l.turnOrder))
	for i, id := range l.turnOrder {
		out[i] = l.turns[id]
	}
	return out
}

func (l *Ledger) sortedJobs() []*jobRecord {
	out := make([]*jobRecord, len(l.jobOrder))
	for i, id := range l.jobOrder {
		out[i] = l.jobs[id]
	}
	return out
}
