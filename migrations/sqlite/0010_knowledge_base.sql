-- The knowledge base: articles in Markdown, every saved version kept, a full-text index
-- (title weighted over body), and the portal's deflection record (a suggested article opened
-- from the new-request form, and whether a request was sent after it).
-- `seq` is the FTS5 rowid of the article, aliasing SQLite's rowid as for tickets.
CREATE TABLE kb_articles (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    category_id BLOB REFERENCES categories(id),
    tags TEXT NOT NULL DEFAULT '[]',
    author_id BLOB REFERENCES users(id),
    views BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    published_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX kb_articles_ws_updated_idx ON kb_articles (workspace_id, updated_at, id);
CREATE INDEX kb_articles_ws_status_idx ON kb_articles (workspace_id, status, updated_at);

-- Porter stemming: "resetting" finds "reset". The `ws` column holds the workspace token.
CREATE VIRTUAL TABLE kb_fts USING fts5(ws, title, body, tokenize = 'porter unicode61 remove_diacritics 2');

CREATE TABLE kb_article_versions (
    article_id BLOB NOT NULL,
    version BIGINT NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    category_id BLOB,
    tags TEXT NOT NULL,
    editor_id BLOB,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (article_id, version)
);

CREATE TABLE kb_deflections (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    article_id BLOB NOT NULL,
    opened_at BIGINT NOT NULL,
    submitted_at BIGINT
);
CREATE INDEX kb_deflections_article_idx ON kb_deflections (article_id, submitted_at);
