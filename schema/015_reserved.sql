-- Placeholder: migration 015 belongs to another branch of the same issue, and tern
-- needs every number up to the newest. When that branch is merged, its 015 replaces
-- this file (delete this one).
SELECT 1;

---- create above / drop below ----

SELECT 1;
