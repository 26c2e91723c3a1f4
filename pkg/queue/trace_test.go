package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/youworker/youworker/pkg/job"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
	"github.com/youworker/youworker/pkg/tracing"
)

func TestAJobContinuesTheTraceOfItsPublisher(t *testing.T) {
	t.Parallel()
	srv := queuetest.Start(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	handled := make(chan trace.SpanContext, 1)
	startRun(t, srv, queue.ConsumerIngest, func(ctx context.Context, m *queue.Msg) error {
		_, span := tracing.Start(ctx, "ingest.parse")
		defer span.End()
		handled <- span.SpanContext()
		return nil
	}, queue.RunOptions{TracerProvider: tp})

	ctx, publisher := tp.Tracer("test").Start(testCtx(t), "request")
	publishIngest(t, ctx, queue.NewPublisher(srv.JS, nil), "traced-doc")
	publisher.End()
	var inHandler trace.SpanContext
	select {
	case inHandler = <-handled:
	case <-time.After(20 * time.Second):
		t.Fatal("job never handled")
	}
	require.Equal(t, publisher.SpanContext().TraceID(), inHandler.TraceID(), "the handler's spans join the publisher's trace")

	var consumer sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == "process "+job.SubjectIngest {
				consumer = s
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the job's consumer span ends once the job is settled")
	require.Equal(t, trace.SpanKindConsumer, consumer.SpanKind())
	require.Equal(t, publisher.SpanContext().SpanID(), consumer.Parent().SpanID())
}
