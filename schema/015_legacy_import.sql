-- The import of the legacy Python deployment (`reindexer import-legacy`).
--
-- legacy_import_map records, for every row the import created, the integer id it
-- had in the legacy database, so a run that crashed or was cancelled resumes where
-- it stopped and a second run imports nothing twice. A document the import found
-- already present (the same bytes, the same owner) maps to that document.
CREATE TABLE legacy_import_map (
    kind        text NOT NULL CHECK (kind IN ('user', 'group', 'session', 'document')),
    source_id   bigint NOT NULL,
    target_id   uuid NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, source_id)
);
CREATE INDEX legacy_import_map_target_idx ON legacy_import_map (kind, target_id);

-- A legacy user's API key, as the legacy deployment stored it: the unsalted SHA-256
-- of the key. It is accepted when presented and then replaced by a key of the
-- current format (prefix and hash in api_keys), so each row lives until the first
-- use of its key; the key itself was never known to this platform.
CREATE TABLE legacy_credentials (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A document imported from the text the legacy vector index held, because its
-- original file was not available: its chunks are that text, and there are no
-- original bytes to download or export.
ALTER TABLE documents ADD COLUMN original_available boolean NOT NULL DEFAULT true;

-- The import is recorded as a job like the re-index jobs, so it shows progress and
-- can be cancelled the same way; the reindexer's command line runs it.
ALTER TABLE reindex_jobs DROP CONSTRAINT reindex_jobs_kind_check;
ALTER TABLE reindex_jobs ADD CONSTRAINT reindex_jobs_kind_check
    CHECK (kind IN ('group-migration', 'acl-sync', 're-embed', 'verify', 'legacy-import'));

---- create above / drop below ----

DELETE FROM reindex_jobs WHERE kind = 'legacy-import';
ALTER TABLE reindex_jobs DROP CONSTRAINT reindex_jobs_kind_check;
ALTER TABLE reindex_jobs ADD CONSTRAINT reindex_jobs_kind_check
    CHECK (kind IN ('group-migration', 'acl-sync', 're-embed', 'verify'));
ALTER TABLE documents DROP COLUMN original_available;
DROP TABLE legacy_credentials;
DROP TABLE legacy_import_map;
