-- The ticket search index merges its segments a few pages at a time instead of a whole level
-- inside one write. Migration 0023 set `automerge` to sixteen, and FTS5's `crisismerge` is
-- sixteen too: a level then never reached the count at which step-by-step merging starts
-- before the count at which it is merged whole, in the commit that filled it. At a million
-- tickets a merge of the upper levels rewrote most of the index (about 240 MB) inside one
-- group commit: creates stood still for 0.9 and 3.8 seconds (wrk timed out). With
-- `crisismerge` at sixty-four, a full level is merged in steps paid by the writes that follow
-- (FTS5 spends a work unit per 64 pages written), and a whole-level merge happens only if
-- those steps fall that far behind (docs/performance.md).
INSERT INTO tickets_fts (tickets_fts, rank) VALUES ('crisismerge', 64);
