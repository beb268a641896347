-- The knowledge base: articles in Markdown, every saved version kept, a full-text index
-- (title weighted over body, English stemming), and the portal's deflection record (a
-- suggested article opened from the new-request form, and whether a request was sent after).
CREATE TABLE kb_articles (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    category_id uuid REFERENCES categories(id),
    tags TEXT NOT NULL DEFAULT '[]',
    author_id uuid REFERENCES users(id),
    views BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    published_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    search tsvector NOT NULL DEFAULT ''::tsvector
);
CREATE INDEX kb_articles_ws_updated_idx ON kb_articles (workspace_id, updated_at, id);
CREATE INDEX kb_articles_ws_status_idx ON kb_articles (workspace_id, status, updated_at);
CREATE INDEX kb_articles_search_idx ON kb_articles USING GIN (search);

CREATE TABLE kb_article_versions (
    article_id uuid NOT NULL,
    version BIGINT NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    category_id uuid,
    tags TEXT NOT NULL,
    editor_id uuid,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (article_id, version)
);

CREATE TABLE kb_deflections (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    article_id uuid NOT NULL,
    opened_at BIGINT NOT NULL,
    submitted_at BIGINT
);
CREATE INDEX kb_deflections_article_idx ON kb_deflections (article_id, submitted_at);
