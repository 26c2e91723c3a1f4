-- identities link a person at an identity provider to a user of this platform. The
-- link is (issuer, subject): the provider's stable, never reassigned id of the
-- person, never their e-mail address or user name, which can change hands. The
-- trusted-proxy sign-in links with issuer 'trusted-proxy' and the proxy's user
-- header as the subject. A user may have several links; deleting the user ends them.
CREATE TABLE identities (
    issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 1000),
    subject         text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identities_user_idx ON identities (user_id);

-- managed_by marks groups and memberships the identity provider owns: 'oidc' or
-- 'proxy', the sign-in that synced them. Nobody edits them by hand; each sign-in
-- makes the user's memberships match the provider's group claim. NULL is a group or
-- membership made by hand, which group sync never touches.
ALTER TABLE groups ADD COLUMN managed_by text CHECK (managed_by IN ('oidc', 'proxy'));
ALTER TABLE memberships ADD COLUMN managed_by text CHECK (managed_by IN ('oidc', 'proxy'));
CREATE INDEX memberships_managed_idx ON memberships (user_id, managed_by) WHERE managed_by IS NOT NULL;

---- create above / drop below ----

DROP INDEX memberships_managed_idx;
ALTER TABLE memberships DROP COLUMN managed_by;
ALTER TABLE groups DROP COLUMN managed_by;
DROP TABLE identities;
