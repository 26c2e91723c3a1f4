-- Turns waiting for, or holding, one of a chat model's slots. Every agent worker
-- shares this table, so the model's parallelism is respected by the whole fleet
-- and waiting turns are served round-robin between users, not first come first
-- served. A granted row holds a lease its worker renews; a worker that died
-- loses the slot when the lease runs out.
CREATE TABLE model_queue (
    turn_id     uuid PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
    model       text NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    granted_at  timestamptz,
    lease_until timestamptz
);
CREATE INDEX model_queue_model_idx ON model_queue (model, granted_at);

-- Slots granted in the last minute: how many (the per-model requests-per-minute
-- limit) and to whom (the user served least recently goes first).
CREATE TABLE model_grants (
    model      text NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX model_grants_idx ON model_grants (model, granted_at);
CREATE INDEX model_grants_user_idx ON model_grants (model, user_id, granted_at);

-- Turns created and tokens spent in the last minute are counted from turns.
CREATE INDEX turns_user_created_idx ON turns (user_id, created_at);
CREATE INDEX turns_model_finished_idx ON turns (model, finished_at) WHERE finished_at IS NOT NULL;

---- create above / drop below ----

DROP INDEX turns_model_finished_idx;
DROP INDEX turns_user_created_idx;
DROP TABLE model_grants;
DROP TABLE model_queue;
