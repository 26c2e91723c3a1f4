-- The W3C traceparent of the request that enqueued a job, so the relay can send it
-- on as a NATS header and the worker's spans join the request's trace. NULL when
-- tracing is off or the job was enqueued outside any trace.
ALTER TABLE outbox ADD COLUMN traceparent text;

---- create above / drop below ----

ALTER TABLE outbox DROP COLUMN traceparent;
