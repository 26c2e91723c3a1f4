-- Reading scanned pages and pictures (OCR) takes a model request, or a Tesseract
-- run, per page: the parsing stage reports how many pages are read so far.
ALTER TABLE documents
    ADD COLUMN pages_done  integer NOT NULL DEFAULT 0 CHECK (pages_done >= 0),
    ADD COLUMN pages_total integer NOT NULL DEFAULT 0 CHECK (pages_total >= 0);

---- create above / drop below ----

ALTER TABLE documents DROP COLUMN pages_total, DROP COLUMN pages_done;
