-- What a finished re-index job found and did: repair counts, and for a re-embed the
-- collection it switched search to and the one it kept for rollback.
ALTER TABLE reindex_jobs ADD COLUMN result jsonb NOT NULL DEFAULT '{}';

-- The catch-up passes of a re-embed look for documents changed since a point in time.
CREATE INDEX documents_updated_idx ON documents (updated_at);

---- create above / drop below ----

DROP INDEX documents_updated_idx;
ALTER TABLE reindex_jobs DROP COLUMN result;
