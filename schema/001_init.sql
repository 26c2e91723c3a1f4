-- Users, keys, groups: who is who and who belongs where.
CREATE TABLE users (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    is_admin   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_name_key ON users (lower(name));

-- API keys are stored only as a SHA-256 hash; the prefix finds the candidate rows.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prefix       text NOT NULL,
    hash         bytea NOT NULL CHECK (length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at);

CREATE TABLE groups (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    -- personal_of marks the personal group the group migration created for a user.
    personal_of uuid UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

CREATE TABLE memberships (
    group_id  uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      text NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Documents and their chunks: chunk text lives here so every vector can be rebuilt.
CREATE TABLE documents (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id      uuid REFERENCES groups (id) ON DELETE SET NULL,
    private       boolean NOT NULL DEFAULT false,
    filename      text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    mime          text NOT NULL,
    format        text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    object_key    text NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'processing', 'ready', 'failed', 'deleting')),
    stage         text CHECK (stage IN ('parsing', 'chunking', 'embedding', 'indexing')),
    chunks_done   integer NOT NULL DEFAULT 0,
    chunks_total  integer NOT NULL DEFAULT 0,
    chunk_count   integer NOT NULL DEFAULT 0,
    error_code    text,
    error_message text,
    -- generation counts processing requests (upload, retry) so job message ids stay unique.
    generation    integer NOT NULL DEFAULT 1,
    -- acl_version grows with every sharing change; vector payloads carry the version they mirror.
    acl_version   bigint NOT NULL DEFAULT 1,
    embedder      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    ready_at      timestamptz,
    deleted_at    timestamptz
);
CREATE UNIQUE INDEX documents_owner_sha_key ON documents (owner_id, sha256) WHERE deleted_at IS NULL;
CREATE INDEX documents_owner_idx ON documents (owner_id, created_at DESC, id DESC);
CREATE INDEX documents_group_idx ON documents (group_id, created_at DESC, id DESC) WHERE group_id IS NOT NULL;
CREATE INDEX documents_status_idx ON documents (status) WHERE status IN ('queued', 'processing', 'deleting');

CREATE TABLE chunks (
    document_id  uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index  integer NOT NULL CHECK (chunk_index >= 0),
    text         text NOT NULL,
    heading_path text[] NOT NULL DEFAULT '{}',
    page         integer,
    token_count  integer NOT NULL,
    PRIMARY KEY (document_id, chunk_index)
);

-- Chat: sessions, turns, messages, tool runs.
CREATE TABLE chat_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_sessions_user_idx ON chat_sessions (user_id, updated_at DESC, id DESC);

CREATE TABLE turns (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id        uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    -- attempt fences workers: only the holder of the current attempt may write the turn.
    attempt           integer NOT NULL DEFAULT 0,
    model             text NOT NULL DEFAULT '',
    tools_enabled     boolean NOT NULL DEFAULT true,
    answer            text,
    citations         jsonb NOT NULL DEFAULT '[]',
    error_code        text,
    error_message     text,
    prompt_tokens     integer,
    completion_tokens integer,
    cancel_requested  boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
CREATE UNIQUE INDEX turns_one_active_per_session ON turns (session_id) WHERE status IN ('queued', 'running');
CREATE INDEX turns_session_idx ON turns (session_id, created_at);
CREATE INDEX turns_user_active_idx ON turns (user_id) WHERE status IN ('queued', 'running');

CREATE TABLE messages (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    turn_id    uuid REFERENCES turns (id) ON DELETE SET NULL,
    role       text NOT NULL CHECK (role IN ('user', 'assistant')),
    content    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX messages_session_idx ON messages (session_id, created_at, id);
-- A turn ends with exactly one assistant message, however many workers tried it.
CREATE UNIQUE INDEX messages_one_answer_per_turn ON messages (turn_id) WHERE role = 'assistant';

CREATE TABLE tool_runs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    turn_id        uuid NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    attempt        integer NOT NULL,
    call_id        text NOT NULL,
    name           text NOT NULL,
    args           jsonb NOT NULL DEFAULT '{}',
    status         text NOT NULL CHECK (status IN ('ok', 'error')),
    result_preview text NOT NULL DEFAULT '',
    latency_ms     integer NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_runs_turn_idx ON tool_runs (turn_id, created_at);

-- Operator re-index jobs.
CREATE TABLE reindex_jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (kind IN ('group-migration', 'acl-sync', 're-embed', 'verify')),
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    params           jsonb NOT NULL DEFAULT '{}',
    total            bigint NOT NULL DEFAULT 0,
    done             bigint NOT NULL DEFAULT 0,
    failed           bigint NOT NULL DEFAULT 0,
    checkpoint       jsonb,
    error            text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE UNIQUE INDEX reindex_jobs_one_active_per_kind ON reindex_jobs (kind) WHERE status IN ('queued', 'running');
CREATE INDEX reindex_jobs_created_idx ON reindex_jobs (created_at DESC, id DESC);

-- Append-only audit log.
CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor_id       uuid,
    actor_name     text NOT NULL DEFAULT '',
    action         text NOT NULL,
    target_type    text NOT NULL DEFAULT '',
    target_id      text NOT NULL DEFAULT '',
    outcome        text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    correlation_id text NOT NULL DEFAULT '',
    client_ip      text NOT NULL DEFAULT '',
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Transactional outbox: jobs are written here in the same transaction as the record they
-- belong to, and a relay publishes them to JetStream, so neither is ever lost without the other.
CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    subject        text NOT NULL,
    msg_id         text NOT NULL,
    payload        bytea NOT NULL,
    correlation_id text NOT NULL DEFAULT '',
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    available_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_available_idx ON outbox (available_at, id);

---- create above / drop below ----

DROP TABLE outbox;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE reindex_jobs;
DROP TABLE tool_runs;
DROP TABLE messages;
DROP TABLE turns;
DROP TABLE chat_sessions;
DROP TABLE chunks;
DROP TABLE documents;
DROP TABLE memberships;
DROP TABLE groups;
DROP TABLE api_keys;
DROP TABLE users;
