-- Usage analytics read turns, tool runs and documents by the day they were created.
-- Without these indexes every report would scan the whole history of each table;
-- with them a report over a month reads only that month's rows.
CREATE INDEX turns_created_idx ON turns (created_at);
CREATE INDEX tool_runs_created_idx ON tool_runs (created_at);
CREATE INDEX documents_created_idx ON documents (created_at);

---- create above / drop below ----

DROP INDEX documents_created_idx;
DROP INDEX tool_runs_created_idx;
DROP INDEX turns_created_idx;
