-- Placeholder: version 16 is reserved for a migration of another branch of work
-- (issue 15), which replaces this file when the branches meet. It changes nothing.
SELECT 1;

---- create above / drop below ----

SELECT 1;
