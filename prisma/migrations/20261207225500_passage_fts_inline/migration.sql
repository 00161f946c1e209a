-- Keep each passage's tsvector in its row (compressed), not in the TOAST table: a text search reads the tsvector of
-- every passage it matches or ranks, and one out of line costs a TOAST index probe and heap fetches per row.
-- Measured on 100,000 GloVe bench passages (~300 tokens, tsvector ~1.1 kB compressed): matching a 1,000-passage
-- source row by row touched 3,508 buffers before, 520 after; the heap grew from 165 to 200 MB, the TOAST table
-- shrank from 141 to 117 MB. The text itself, EXTENDED, still moves out of line first. Applies to rows written from
-- now on; existing rows keep their layout until they are rewritten (VACUUM FULL).
ALTER TABLE "Passage" ALTER COLUMN "fts" SET STORAGE MAIN;
