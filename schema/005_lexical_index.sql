-- The lexical sparse vectors of the collection behind an alias: the encoder and
-- the BM25 parameters their stored weights were computed with. Queries and new
-- chunks must be encoded the same way, so every program reads them from here;
-- NULL means the collection predates lexical search (a re-embed builds one with it).
ALTER TABLE vector_indexes ADD COLUMN lexical jsonb;

---- create above / drop below ----

ALTER TABLE vector_indexes DROP COLUMN lexical;
