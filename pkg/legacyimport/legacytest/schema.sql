-- The legacy Python deployment's database, transcribed from its Alembic migration
-- ops/alembic/versions/0001_init.py (and packages/db/models.py) of
-- ahmed04-you/youworker-fullstack: integer ids, Fernet ciphertext in
-- chat_messages.content, the unsalted SHA-256 hex of each user's API key.

CREATE TABLE users (
    id           serial PRIMARY KEY,
    username     varchar(128) NOT NULL,
    is_root      boolean NOT NULL DEFAULT false,
    api_key_hash varchar(128),
    created_at   timestamptz NOT NULL DEFAULT timezone('utc', now())
);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE INDEX ix_users_is_root ON users (is_root);

CREATE TABLE chat_sessions (
    id           serial PRIMARY KEY,
    external_id  varchar(64),
    user_id      integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        varchar(256),
    model        varchar(128),
    enable_tools boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT timezone('utc', now()),
    updated_at   timestamptz NOT NULL DEFAULT timezone('utc', now())
);
CREATE INDEX ix_chat_sessions_external_id ON chat_sessions (external_id);
CREATE INDEX ix_chat_sessions_user_created ON chat_sessions (user_id, created_at);

CREATE TABLE chat_messages (
    id             serial PRIMARY KEY,
    session_id     integer NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role           varchar(16) NOT NULL,
    content        bytea,
    tool_call_name varchar(256),
    tool_call_id   varchar(128),
    created_at     timestamptz NOT NULL DEFAULT timezone('utc', now()),
    tokens_in      integer,
    tokens_out     integer
);
CREATE INDEX ix_chat_messages_session_created ON chat_messages (session_id, created_at);
CREATE INDEX ix_chat_messages_tokens ON chat_messages (session_id, tokens_in, tokens_out) WHERE tokens_in IS NOT NULL;
CREATE INDEX ix_chat_messages_encrypted ON chat_messages (session_id, created_at) WHERE content IS NOT NULL;

CREATE TABLE mcp_servers (
    id        serial PRIMARY KEY,
    server_id varchar(64) NOT NULL,
    url       varchar(512) NOT NULL,
    healthy   boolean NOT NULL DEFAULT true,
    last_seen timestamptz NOT NULL DEFAULT timezone('utc', now())
);
CREATE UNIQUE INDEX ix_mcp_servers_server_id ON mcp_servers (server_id);

CREATE TABLE tools (
    id                 serial PRIMARY KEY,
    mcp_server_id      integer NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name               varchar(256) NOT NULL,
    description        text,
    input_schema       jsonb,
    enabled            boolean NOT NULL DEFAULT true,
    last_discovered_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
    CONSTRAINT uq_tool_server_name UNIQUE (mcp_server_id, name)
);

CREATE TABLE tool_runs (
    id             serial PRIMARY KEY,
    tool_id        integer REFERENCES tools (id) ON DELETE SET NULL,
    user_id        integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     integer REFERENCES chat_sessions (id) ON DELETE SET NULL,
    message_id     integer REFERENCES chat_messages (id) ON DELETE CASCADE,
    tool_name      varchar(256) NOT NULL,
    status         varchar(32) NOT NULL,
    start_ts       timestamptz NOT NULL DEFAULT timezone('utc', now()),
    end_ts         timestamptz,
    latency_ms     integer,
    args           jsonb,
    error_message  text,
    result_preview text
);

CREATE TABLE ingestion_runs (
    id            serial PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target        text NOT NULL,
    from_web      boolean NOT NULL DEFAULT false,
    recursive     boolean NOT NULL DEFAULT false,
    collection    varchar(128),
    totals_files  integer NOT NULL DEFAULT 0,
    totals_chunks integer NOT NULL DEFAULT 0,
    errors        jsonb,
    started_at    timestamptz NOT NULL DEFAULT timezone('utc', now()),
    finished_at   timestamptz,
    status        varchar(32) NOT NULL DEFAULT 'success'
);

CREATE TABLE groups (
    id          serial PRIMARY KEY,
    name        varchar(128) NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT timezone('utc', now()),
    updated_at  timestamptz NOT NULL DEFAULT timezone('utc', now())
);
CREATE UNIQUE INDEX ix_groups_name ON groups (name);

CREATE TABLE user_group_memberships (
    id        serial PRIMARY KEY,
    user_id   integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id  integer NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role      varchar(32) NOT NULL DEFAULT 'member',
    joined_at timestamptz NOT NULL DEFAULT timezone('utc', now()),
    CONSTRAINT uq_user_group_membership UNIQUE (user_id, group_id)
);

CREATE TABLE audit_logs (
    id             serial PRIMARY KEY,
    user_id        integer REFERENCES users (id) ON DELETE SET NULL,
    action         varchar(128) NOT NULL,
    resource_type  varchar(64),
    resource_id    varchar(128),
    changes        jsonb,
    ip_address     varchar(45),
    user_agent     text,
    correlation_id varchar(36),
    success        boolean NOT NULL DEFAULT true,
    error_message  text,
    "timestamp"    timestamptz NOT NULL DEFAULT timezone('utc', now())
);

CREATE TABLE documents (
    id               serial PRIMARY KEY,
    user_id          integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id         integer REFERENCES groups (id) ON DELETE SET NULL,
    is_private       boolean NOT NULL DEFAULT false,
    uri              text,
    path             text,
    mime             varchar(128),
    bytes_size       bigint,
    source           varchar(32),
    collection       varchar(128),
    path_hash        varchar(64),
    created_at       timestamptz NOT NULL DEFAULT timezone('utc', now()),
    last_ingested_at timestamptz,
    CONSTRAINT uq_user_document_path UNIQUE (user_id, path_hash)
);
CREATE INDEX idx_documents_group_private ON documents (group_id, is_private);

CREATE TABLE tags (
    id         serial PRIMARY KEY,
    name       varchar(64) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT timezone('utc', now())
);
CREATE UNIQUE INDEX ix_tags_name ON tags (name);

CREATE TABLE document_tags (
    id          serial PRIMARY KEY,
    document_id integer NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    tag_id      integer NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    CONSTRAINT uq_document_tag UNIQUE (document_id, tag_id)
);

CREATE TABLE ingestion_run_tags (
    id               serial PRIMARY KEY,
    ingestion_run_id integer NOT NULL REFERENCES ingestion_runs (id) ON DELETE CASCADE,
    tag_id           integer NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    CONSTRAINT uq_ingestion_run_tag UNIQUE (ingestion_run_id, tag_id)
);

CREATE TABLE user_tool_access (
    id      serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tool_id integer NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
    CONSTRAINT uq_user_tool UNIQUE (user_id, tool_id)
);

CREATE TABLE document_collections (
    id         serial PRIMARY KEY,
    name       varchar(128) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT timezone('utc', now())
);
CREATE UNIQUE INDEX ix_document_collections_name ON document_collections (name);

CREATE TABLE user_collection_access (
    id            serial PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    collection_id integer NOT NULL REFERENCES document_collections (id) ON DELETE CASCADE,
    CONSTRAINT uq_user_collection UNIQUE (user_id, collection_id)
);

CREATE TABLE user_document_access (
    id          serial PRIMARY KEY,
    user_id     integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    document_id integer NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    CONSTRAINT uq_user_document UNIQUE (user_id, document_id)
);
