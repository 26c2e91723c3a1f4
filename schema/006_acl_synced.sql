-- acl_synced_version is the acl_version the document's vector payloads are known to
-- mirror. A sharing change raises acl_version at once and the payloads follow
-- through a job; until then, search widens its vector pre-filter by the documents
-- still behind, so a grant is obeyed on the very next request (Postgres re-checks
-- every hit, so widening never shows what the rule forbids).
ALTER TABLE documents ADD COLUMN acl_synced_version bigint NOT NULL DEFAULT 1;
UPDATE documents SET acl_synced_version = acl_version;
CREATE INDEX documents_acl_pending_idx ON documents (id) WHERE acl_synced_version < acl_version AND deleted_at IS NULL;

---- create above / drop below ----

DROP INDEX documents_acl_pending_idx;
ALTER TABLE documents DROP COLUMN acl_synced_version;
