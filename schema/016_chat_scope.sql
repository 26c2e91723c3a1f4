-- Scoped grounding: a chat, or one of its questions, may be restricted to documents
-- and groups its user chose. A scope only ever narrows what the user may see: the
-- access rule still decides every hit, and the scope is one more filter on top.
--
-- Both columns hold {"document_ids": [...], "group_ids": [...]}, or NULL for no
-- scope. A session's scope is the default of the questions asked in it; a turn's is
-- the one the agent worker searches with (it travels with the turn, like
-- regenerate_of). Ids are kept as chosen: a document deleted or unshared since is
-- simply never found again, which is what a scope naming it should do.
ALTER TABLE chat_sessions ADD COLUMN scope jsonb;
ALTER TABLE turns ADD COLUMN scope jsonb;

---- create above / drop below ----

ALTER TABLE turns DROP COLUMN scope;
ALTER TABLE chat_sessions DROP COLUMN scope;
