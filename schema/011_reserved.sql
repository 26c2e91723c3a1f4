-- Number 011 belongs to the identity branch (single sign-on, group sync), developed
-- in parallel with 012. tern refuses a gap in the sequence, so this branch carries
-- this empty stand-in; when the branches meet, the identity branch's 011 replaces
-- it (delete this file then).
SELECT 1;

---- create above / drop below ----

SELECT 1;
