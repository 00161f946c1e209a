-- Keep each passage's vector in its row (compressed only if the row is still too large), not in the TOAST table:
-- an exact scan over a filtered set reads every candidate's vector, and one out of line costs a TOAST index probe
-- and heap fetch per row (measured ~5x slower per row at 384 dimensions). The text and its tsvector, which are
-- EXTENDED, move out of line first. Applies to rows written from now on; existing rows keep their layout until
-- they are rewritten.
ALTER TABLE "Passage" ALTER COLUMN "embedding" SET STORAGE MAIN;
