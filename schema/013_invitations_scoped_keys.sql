-- Invitations: adding somebody to a group asks them first. A row is a pending
-- invitation; accepting turns it into a membership, and accepting, declining or
-- withdrawing removes it (the audit log keeps the history).
CREATE TABLE group_invitations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    group_id   uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'member')),
    invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX group_invitations_pending_key ON group_invitations (group_id, user_id);
CREATE INDEX group_invitations_user_idx ON group_invitations (user_id, created_at);

-- Scoped keys. NULL means "no limit" for scopes, group_ids and allowed_ips: the key
-- may do everything its user may, in all of the user's groups, from anywhere.
ALTER TABLE api_keys
    ADD COLUMN name        text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    ADD COLUMN scopes      text[] CHECK (scopes <@ ARRAY['documents:read', 'documents:write', 'chat', 'admin']),
    ADD COLUMN group_ids   uuid[],
    ADD COLUMN allowed_ips cidr[],
    ADD COLUMN expires_at  timestamptz;

-- A turn started with a key limited to some groups searches only those: the worker
-- reads the limit here, since the key may be gone by the time the turn runs.
ALTER TABLE turns ADD COLUMN key_group_ids uuid[];

---- create above / drop below ----

ALTER TABLE turns DROP COLUMN key_group_ids;
ALTER TABLE api_keys DROP COLUMN name, DROP COLUMN scopes, DROP COLUMN group_ids,
    DROP COLUMN allowed_ips, DROP COLUMN expires_at;
DROP TABLE group_invitations;
