-- Documents fetched from a URL. source_url is where the ingest worker fetches the
-- document from (NULL for uploads). Its bytes, and so its hash, size and format, are
-- known only once the worker fetched them: until then sha256 is NULL, which the
-- unique index on (owner_id, sha256) lets any number of rows be.
ALTER TABLE documents ADD COLUMN source_url text
    CHECK (source_url IS NULL OR length(source_url) BETWEEN 1 AND 4096);
ALTER TABLE documents ALTER COLUMN sha256 DROP NOT NULL;
ALTER TABLE documents ADD CONSTRAINT documents_bytes_or_url CHECK (sha256 IS NOT NULL OR source_url IS NOT NULL);
-- One live document per owner and URL: asking again returns it (re-fetch updates it).
CREATE UNIQUE INDEX documents_owner_url_key ON documents (owner_id, source_url)
    WHERE source_url IS NOT NULL AND deleted_at IS NULL;

---- create above / drop below ----

DROP INDEX documents_owner_url_key;
ALTER TABLE documents DROP CONSTRAINT documents_bytes_or_url;
-- Documents never fetched have no bytes to keep.
DELETE FROM documents WHERE sha256 IS NULL;
ALTER TABLE documents ALTER COLUMN sha256 SET NOT NULL;
ALTER TABLE documents DROP COLUMN source_url;
