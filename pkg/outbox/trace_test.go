package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/store"
	"github.com/youworker/youworker/pkg/tracing"
)

func TestTheTraceOfTheEnqueuingRequestTravelsWithTheJob(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	q := queuetest.Start(t)
	st := store.NewTx(pgtest.Tx(t))

	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	require.NoError(t, Enqueue(ctx, st, job.IngestJob{DocumentID: "traced", Generation: 1}))
	span.End()
	// The relay runs later, outside the request: the trace context comes from the row.
	_, err := NewRelay(st, queue.NewPublisher(q.JS, nil), time.Hour, logging.Discard()).Flush(context.Background())
	require.NoError(t, err)

	s, err := q.JS.Stream(context.Background(), queue.StreamJobs)
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(context.Background(), job.SubjectIngest)
	require.NoError(t, err)
	traceparent := msg.Header.Get(tracing.HeaderTraceParent)
	require.Contains(t, traceparent, span.SpanContext().TraceID().String())
	require.Contains(t, traceparent, span.SpanContext().SpanID().String(), "the request's span is the job's parent")
}
