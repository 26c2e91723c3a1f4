-- Reserved: migration 012 belongs to a branch developed in parallel. This stand-in,
-- which changes nothing, only lets this branch's migrations load in sequence; drop
-- it when that branch's 012 is merged.
SELECT 1;

---- create above / drop below ----

SELECT 1;
