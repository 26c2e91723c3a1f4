-- web_sessions are the web UI's live sign-ins. The cookie carries a row's id next to
-- the API key; a request whose row is gone is refused, so signing out ends the
-- session on the server and a copied cookie stops working. Rows past expires_at are
-- dead and are pruned when their user signs in again.
CREATE TABLE web_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id, created_at DESC);

---- create above / drop below ----

DROP TABLE web_sessions;
