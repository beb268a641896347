-- The ticket search index merges its segments sixteen at a time instead of FTS5's default
-- four. Every commit that writes search documents (a group of replies, say) adds a small
-- segment, and each replaced document leaves a tombstone that every merge must check; with
-- four a level, a large index spent a third of its single writer's time merging (at a million
-- tickets, `fts5MultiIterIsDeleted` and `fts5IndexMergeLevel` on top of the profile). With
-- sixteen, replies at a million tickets went from 512–648/s to 973–1,237/s and searches were
-- as fast as before (see docs/performance.md).
INSERT INTO tickets_fts (tickets_fts, rank) VALUES ('automerge', 16);
