-- Search across one's chats: full-text indexes over titles and messages with the
-- 'simple' configuration, which lower-cases words and neither stems nor drops stop
-- words, so chats in any language are found by the words they contain. The
-- queries use exactly these expressions, so the indexes serve them.
CREATE INDEX chat_sessions_title_search_idx ON chat_sessions USING gin (to_tsvector('simple', title));
CREATE INDEX messages_content_search_idx ON messages USING gin (to_tsvector('simple', content));

-- Feedback on answers: one row per turn, from the user who asked it; giving it
-- again replaces it. It goes with the turn (and so with the chat and the user).
CREATE TABLE turn_feedback (
    turn_id    uuid PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating     text NOT NULL CHECK (rating IN ('up', 'down')),
    comment    text CHECK (length(comment) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Regenerated answers: a turn asked again (the same question, or the question
-- edited) points at the first turn of its place in the chat, so every answer given
-- there is kept and can be browsed; the chat goes on from the newest of them.
ALTER TABLE turns ADD COLUMN regenerate_of uuid REFERENCES turns (id) ON DELETE SET NULL;
CREATE INDEX turns_regenerate_of_idx ON turns (regenerate_of) WHERE regenerate_of IS NOT NULL;

---- create above / drop below ----

ALTER TABLE turns DROP COLUMN regenerate_of;

DROP TABLE turn_feedback;
DROP INDEX messages_content_search_idx;
DROP INDEX chat_sessions_title_search_idx;
