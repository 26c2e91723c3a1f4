package apiserver_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/app"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/logging/logtest"
)

// tracedPlatform is `api -dev` (API, relay, ingest and agent workers in one
// process, embedded NATS and vector store) recording its spans in memory.
type tracedPlatform struct {
	client *apitest.Client
	key    string
	spans  *tracetest.SpanRecorder
	logs   *logtest.Buffer
}

func startTraced(t *testing.T) *tracedPlatform {
	t.Helper()
	model := llmtest.New(t)
	model.Reply(
		llmtest.Script{ToolCalls: []llmtest.ToolCall{{Name: "current_time", Arguments: map[string]any{}}}},
		llmtest.Text("It is ", "now."),
	)
	cfg := devConfig(t, model.URL, llmtest.ChatModel)
	require.Empty(t, cfg.OTelEndpoint, "nothing is exported: the spans stay in memory")

	p := &tracedPlatform{spans: tracetest.NewSpanRecorder(), logs: &logtest.Buffer{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p.spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts := app.DevOptions
	opts.TracerProvider = tp
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.key = servePlatform(t, cfg, logging.New(p.logs, cfg.LogLevel, "json"), opts, "tracer", l)
	p.client = apitest.NewClient(t, "http://"+l.Addr().String())
	return p
}

// waitForSpan polls until a span named name has ended in the trace of id.
func (p *tracedPlatform) waitForSpan(t *testing.T, id trace.TraceID, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, s := range p.spans.Ended() {
			if s.Name() == name && s.SpanContext().TraceID() == id {
				return s
			}
		}
		require.True(t, time.Now().Before(deadline), "no span %q in trace %s; spans: %v", name, id, p.names(id))
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// serverSpan waits for the span of the one request served on route: the client
// may read the response before the middleware has ended the span.
func (p *tracedPlatform) serverSpan(t *testing.T, route string) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []sdktrace.ReadOnlySpan
		for _, s := range p.spans.Ended() {
			if s.Name() == route && s.SpanKind() == trace.SpanKindServer {
				found = append(found, s)
			}
		}
		require.LessOrEqual(t, len(found), 1, "one request was sent to %s", route)
		if len(found) == 1 {
			return found[0]
		}
		require.True(t, time.Now().Before(deadline), "no span of %s", route)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func (p *tracedPlatform) names(id trace.TraceID) []string {
	var out []string
	for _, s := range p.spans.Ended() {
		if s.SpanContext().TraceID() == id {
			out = append(out, s.Name())
		}
	}
	return out
}

// requireDescends fails unless span's chain of parents in the trace reaches ancestor.
func (p *tracedPlatform) requireDescends(t *testing.T, span, ancestor sdktrace.ReadOnlySpan) {
	t.Helper()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range p.spans.Ended() {
		byID[s.SpanContext().SpanID()] = s
	}
	for cur := span; cur != nil; cur = byID[cur.Parent().SpanID()] {
		if cur.SpanContext().SpanID() == ancestor.SpanContext().SpanID() {
			return
		}
	}
	t.Fatalf("span %s does not descend from %s", span.Name(), ancestor.Name())
}

// requireLoggedInTrace fails unless a log line with msg carries the trace id.
func (p *tracedPlatform) requireLoggedInTrace(t *testing.T, msg string, id trace.TraceID) {
	t.Helper()
	for line := range strings.SplitSeq(p.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg && rec["trace_id"] == id.String() {
			return
		}
	}
	t.Fatalf("no log line %q with trace_id %s", msg, id)
}

// One upload is one trace: the API's request, the job taken from NATS by the
// ingest worker, and the worker's parse, chunk, embed and vector upsert.
func TestAnUploadIsOneTraceFromTheAPIToTheIngestWorker(t *testing.T) {
	t.Parallel()
	p := startTraced(t)
	var up struct {
		Documents []struct {
			ID string `json:"id"`
		} `json:"documents"`
	}
	p.client.Upload("/v1/documents", p.key, []apitest.File{{Name: "norwich-city.txt", Data: corpustest.Read(t, "norwich-city.txt")}},
		nil, http.StatusAccepted, &up)

	request := p.serverSpan(t, "POST /v1/documents")
	id := request.SpanContext().TraceID()
	consumer := p.waitForSpan(t, id, "process "+job.SubjectIngest)
	require.Equal(t, trace.SpanKindConsumer, consumer.SpanKind())
	require.Equal(t, request.SpanContext().SpanID(), consumer.Parent().SpanID(),
		"the job's span is a child of the request that enqueued it, across the outbox and NATS")
	require.True(t, consumer.Parent().IsRemote())
	for _, name := range []string{"ingest.parse", "ingest.chunk", "ingest.embed", "embed", "vector.upsert"} {
		p.requireDescends(t, p.waitForSpan(t, id, name), consumer)
	}
	p.requireLoggedInTrace(t, "document ready", id)
}

// One chat turn is one trace: the API's request, the agent worker's job and
// turn, each model call and the tool the model asked for.
func TestAChatTurnIsOneTraceFromTheAPIToTheModelAndATool(t *testing.T) {
	t.Parallel()
	p := startTraced(t)
	var sess struct {
		ID string `json:"id"`
	}
	p.client.Do("POST", "/v1/chat/sessions", p.key, nil, http.StatusCreated, &sess)
	p.client.Do("POST", "/v1/chat/sessions/"+sess.ID+"/messages", p.key, map[string]any{"content": "What time is it?"},
		http.StatusAccepted, nil)

	request := p.serverSpan(t, "POST /v1/chat/sessions/:id/messages")
	id := request.SpanContext().TraceID()
	consumer := p.waitForSpan(t, id, "process "+job.SubjectChat)
	require.Equal(t, request.SpanContext().SpanID(), consumer.Parent().SpanID())
	turn := p.waitForSpan(t, id, "chat.turn")
	p.requireDescends(t, turn, consumer)
	tool := p.waitForSpan(t, id, "tool current_time")
	p.requireDescends(t, tool, turn)
	require.Contains(t, tool.Attributes(), attribute.String("gen_ai.tool.name", "current_time"))

	var modelCalls, ollamaCalls int
	for _, s := range p.spans.Ended() {
		if s.SpanContext().TraceID() != id {
			continue
		}
		switch s.Name() {
		case "llm.chat":
			modelCalls++
			p.requireDescends(t, s, turn)
		case "ollama.chat":
			ollamaCalls++
		}
	}
	require.Equal(t, 2, modelCalls, "one model call asks for the tool, one answers")
	require.Equal(t, 2, ollamaCalls)
	for _, s := range p.spans.Ended() {
		for _, kv := range s.Attributes() {
			require.NotContains(t, kv.Value.Emit(), "What time is it", "no span carries what the user wrote")
		}
	}
}
