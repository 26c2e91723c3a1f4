-- The collection behind each vector alias and the embedder that fills it. Every
-- program resolves its embedder from this row rather than from its own start-up
-- configuration, so after a re-embed with another model the API and the workers
-- follow the new embedder without a restart, and a worker that cannot reach the
-- active model waits instead of writing another embedder's vectors.
CREATE TABLE vector_indexes (
    alias       text PRIMARY KEY,
    collection  text NOT NULL,
    -- embedder is embed.Identity.String(), as recorded on every point.
    embedder    text NOT NULL,
    -- provider, model and dim are what it takes to rebuild the embedder elsewhere.
    provider    text NOT NULL CHECK (provider IN ('lexical', 'ollama')),
    model       text NOT NULL DEFAULT '',
    dim         integer NOT NULL CHECK (dim > 0),
    switched_at timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE vector_indexes;
