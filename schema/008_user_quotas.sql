-- Per-user storage quotas. NULL follows the configured default (YW_QUOTA_BYTES,
-- YW_QUOTA_DOCUMENTS); a number is the user's own limit set by an admin, 0 meaning
-- unlimited. What a user uses is counted from their live documents when an upload
-- commits, under a lock on their users row, so no counter can drift and existing
-- rows need no backfill.
ALTER TABLE users
    ADD COLUMN quota_bytes     bigint CHECK (quota_bytes >= 0),
    ADD COLUMN quota_documents bigint CHECK (quota_documents >= 0);

---- create above / drop below ----

ALTER TABLE users DROP COLUMN quota_documents, DROP COLUMN quota_bytes;
