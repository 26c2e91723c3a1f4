-- Membership order matters (the longest-standing member succeeds a departing last
-- admin), so joins within one transaction must still be ordered.
ALTER TABLE memberships ALTER COLUMN joined_at SET DEFAULT clock_timestamp();

---- create above / drop below ----

ALTER TABLE memberships ALTER COLUMN joined_at SET DEFAULT now();
