-- The words of the ticket search index, one row a word and place (FTS5's `instance`
-- vocabulary: a view of the index, nothing stored). A search term is asked of the index as the
-- words that start with it rather than as a prefix when they are few: FTS5 reads a word's
-- postings lazily, while a prefix gathers every posting of every such word first (see
-- `store::dialect::term_forms` and docs/performance.md). The `instance` kind seeks to a word
-- without counting its postings, which the `row` kind would.
CREATE VIRTUAL TABLE tickets_fts_words USING fts5vocab(tickets_fts, instance);
