//! Semantic retrieval: the sentence model, the stored vectors of articles and tickets, and
//! nearest-neighbour search over them, fused with the database's full-text ranking.
//!
//! Vectors are computed once per article save and per new ticket by the `ai_embed` job and
//! stored in `ai_embeddings`. Each server keeps the vectors of a workspace in memory (a flat
//! `f32` array per kind) and brings them up to date before each search by reading only the
//! rows saved since its last look, so several servers on one database stay current without
//! talking to each other. A search is one dot product per vector (vectors are unit length).
//!
//! Fusion is reciprocal-rank fusion: a result's score is the sum over the two rankings of
//! `1 / (60 + rank)`, so an item both rankings like comes first, and one only the meaning
//! finds (different words) still appears.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::embed::{self, Embedder};
use crate::error::Result;
use crate::ids::WorkspaceId;
use crate::store::{self, Conn};

/// What a vector belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Article,
    Ticket,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Article => "article",
            Kind::Ticket => "ticket",
        }
    }
}

/// The vectors of one workspace and kind held in memory.
#[derive(Default)]
pub struct Shelf {
    /// The newest `updated_at` read.
    watermark: i64,
    ids: Vec<uuid::Uuid>,
    at: HashMap<uuid::Uuid, usize>,
    /// `ids.len() * DIMS` floats.
    vectors: Vec<f32>,
}

impl Shelf {
    /// Adds a vector, or replaces the one `id` had.
    pub fn put(&mut self, id: uuid::Uuid, v: &[f32]) {
        if let Some(&i) = self.at.get(&id) {
            self.vectors[i * embed::DIMS..(i + 1) * embed::DIMS].copy_from_slice(v);
        } else {
            self.at.insert(id, self.ids.len());
            self.ids.push(id);
            self.vectors.extend_from_slice(v);
        }
    }

    /// The `k` vectors nearest to `q` (highest dot product), best first, `except` left out.
    #[must_use]
    pub fn nearest(
        &self,
        q: &[f32],
        k: usize,
        except: Option<uuid::Uuid>,
    ) -> Vec<(uuid::Uuid, f32)> {
        let mut scored: Vec<(uuid::Uuid, f32)> = Vec::with_capacity(self.ids.len());
        for (v, id) in self.vectors.chunks_exact(embed::DIMS).zip(&self.ids) {
            if Some(*id) != except {
                scored.push((*id, embed::dot(v, q)));
            }
        }
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
    }
}

/// The in-memory vectors, one shelf per workspace and kind.
type Shelves = HashMap<(WorkspaceId, Kind), Arc<Mutex<Shelf>>>;

/// The loaded model and the in-memory vectors.
pub struct Semantic {
    embedder: Embedder,
    shelves: Mutex<Shelves>,
}

impl std::fmt::Debug for Semantic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Semantic(all-MiniLM-L6-v2)")
    }
}

/// Whether the model could be loaded, and why not.
#[derive(Debug, Clone)]
pub enum Availability {
    Loaded(Arc<Semantic>),
    Missing(String),
}

impl Availability {
    /// Loads the model from `dir`, or says why it is not in use.
    #[must_use]
    pub fn load(dir: &Path) -> Availability {
        if !dir.join("model.safetensors").exists() {
            return Availability::Missing(format!(
                "no sentence model in {} (scripts/fetch-model installs it); ranking by full text only",
                dir.display()
            ));
        }
        match Embedder::load(dir) {
            Ok(e) => Availability::Loaded(Arc::new(Semantic {
                embedder: e,
                shelves: Mutex::new(HashMap::new()),
            })),
            Err(e) => Availability::Missing(format!(
                "the sentence model in {} could not be loaded ({e}); ranking by full text only",
                dir.display()
            )),
        }
    }

    #[must_use]
    pub fn get(&self) -> Option<&Arc<Semantic>> {
        match self {
            Availability::Loaded(s) => Some(s),
            Availability::Missing(_) => None,
        }
    }
}

impl Semantic {
    /// The embedding of one text, computed off the async threads.
    pub async fn embed(self: &Arc<Self>, text: &str) -> anyhow::Result<Vec<f32>> {
        let me = self.clone();
        let text: String = text.chars().take(4000).collect();
        tokio::task::spawn_blocking(move || {
            me.embedder
                .embed(&[&text])
                .map(|mut v| v.pop().unwrap_or_default())
        })
        .await?
    }

    fn shelf(&self, ws: WorkspaceId, kind: Kind) -> Arc<Mutex<Shelf>> {
        let mut all = self
            .shelves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.entry((ws, kind)).or_default().clone()
    }

    /// The `k` stored vectors of `ws` and `kind` nearest to `q` (cosine), after reading the
    /// ones saved since this server last looked.
    pub async fn nearest(
        &self,
        conn: &mut Conn,
        ws: WorkspaceId,
        kind: Kind,
        q: &[f32],
        k: usize,
        except: Option<uuid::Uuid>,
    ) -> Result<Vec<(uuid::Uuid, f32)>> {
        let shelf = self.shelf(ws, kind);
        let since = shelf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .watermark;
        let fresh = store::ai::embeddings_since(conn, ws, kind.as_str(), since).await?;
        let mut s = shelf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, bytes, at) in fresh {
            if let Some(v) = embed::from_bytes(&bytes) {
                s.put(id, &v);
            }
            s.watermark = s.watermark.max(at);
        }
        Ok(s.nearest(q, k, except))
    }
}

/// Reciprocal-rank fusion of rankings (each best first): ids by fused score, best first.
#[must_use]
pub fn fuse(rankings: &[Vec<uuid::Uuid>]) -> Vec<(uuid::Uuid, f64)> {
    let mut score: HashMap<uuid::Uuid, f64> = HashMap::new();
    let mut first_seen: Vec<uuid::Uuid> = Vec::new();
    for ranking in rankings {
        for (rank, id) in ranking.iter().enumerate() {
            #[expect(clippy::cast_precision_loss, reason = "ranks are small")]
            let add = 1.0 / (60.0 + rank as f64 + 1.0);
            let e = score.entry(*id).or_insert_with(|| {
                first_seen.push(*id);
                0.0
            });
            *e += add;
        }
    }
    let mut out: Vec<(uuid::Uuid, f64)> =
        first_seen.into_iter().map(|id| (id, score[&id])).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// Computes the vectors that are missing — tickets and articles saved before the model was
/// installed (or imported in bulk) — in batches of 32; `progress(kind, done)` after each.
/// Answers how many were written.
pub async fn backfill(
    ctx: &crate::ctx::Ctx,
    mut progress: impl FnMut(Kind, usize),
) -> anyhow::Result<usize> {
    let sem = ctx
        .semantic
        .get()
        .cloned()
        .ok_or_else(|| match &ctx.semantic {
            Availability::Missing(why) => anyhow::anyhow!("{why}"),
            Availability::Loaded(_) => anyhow::anyhow!("unreachable"),
        })?;
    let mut total = 0;
    for kind in [Kind::Article, Kind::Ticket] {
        let mut after = uuid::Uuid::nil();
        let mut done = 0;
        loop {
            let batch = {
                let mut conn = ctx.store.read().await?;
                store::ai::unembedded(&mut conn, kind.as_str(), after, 32).await?
            };
            let Some(last) = batch.last() else {
                break;
            };
            after = last.id;
            let texts: Vec<String> = batch
                .iter()
                .map(|r| {
                    let body = match kind {
                        Kind::Article => crate::kb::text::plain_text(&r.body),
                        Kind::Ticket => r.body.clone(),
                    };
                    format!("{}\n{}", r.head, body).chars().take(4000).collect()
                })
                .collect();
            let me = sem.clone();
            let vectors = tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                me.embedder.embed(&refs)
            })
            .await??;
            let mut tx = ctx.store.begin().await?;
            let now = crate::clock::now_micros();
            for (r, v) in batch.iter().zip(&vectors) {
                store::ai::put_embedding(
                    &mut tx,
                    kind.as_str(),
                    r.id,
                    r.workspace_id,
                    embed::MODEL,
                    &embed::to_bytes(v),
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            done += batch.len();
            total += batch.len();
            progress(kind, done);
        }
    }
    Ok(total)
}

/// The job that stores the vector of an article or a ticket.
#[derive(Debug, Serialize, Deserialize)]
pub struct Embed {
    pub kind: Kind,
    pub id: uuid::Uuid,
}

impl crate::jobs::Job for Embed {
    const NAME: &'static str = "ai_embed";
    const MAX_ATTEMPTS: i64 = 3;

    async fn run(self, ctx: crate::jobs::JobContext) -> anyhow::Result<()> {
        let (Some(ws), Some(sem)) = (ctx.workspace_id, ctx.semantic.get().cloned()) else {
            return Ok(());
        };
        let text = {
            let mut conn = ctx.store.read().await?;
            match self.kind {
                Kind::Article => store::kb::find(&mut conn, ws, crate::ids::ArticleId(self.id))
                    .await?
                    .map(|a| format!("{}\n{}", a.title, crate::kb::text::plain_text(&a.body))),
                Kind::Ticket => {
                    store::tickets::find(&mut conn, ws, crate::ids::TicketId(self.id), false)
                        .await?
                        .map(|t| format!("{}\n{}", t.subject, t.description))
                }
            }
        };
        let Some(text) = text else {
            return Ok(());
        };
        let v = sem.embed(&text).await?;
        let mut tx = ctx.store.begin().await?;
        store::ai::put_embedding(
            &mut tx,
            self.kind.as_str(),
            self.id,
            ws,
            embed::MODEL,
            &embed::to_bytes(&v),
            crate::clock::now_micros(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Queues the vector of an article or ticket (a no-op job when no model is loaded).
pub async fn queue(tx: &mut store::Tx, ws: WorkspaceId, kind: Kind, id: uuid::Uuid) -> Result<()> {
    crate::jobs::enqueue(tx, Some(ws), &Embed { kind, id })
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::{Shelf, fuse};

    #[test]
    fn fusion_prefers_what_both_rankings_like() {
        let [a, b, c, d] = [1u128, 2, 3, 4].map(uuid::Uuid::from_u128);
        let fused = fuse(&[vec![a, b, c], vec![c, d, a]]);
        let order: Vec<_> = fused.iter().map(|x| x.0).collect();
        assert_eq!(order, [a, c, b, d]);
    }

    #[test]
    fn nearest_skips_the_query_itself_and_updates_in_place() {
        let mut s = Shelf::default();
        let unit = |i: usize| {
            let mut v = vec![0.0f32; super::embed::DIMS];
            v[i] = 1.0;
            v
        };
        let [a, b, c] = [1u128, 2, 3].map(uuid::Uuid::from_u128);
        s.put(a, &unit(0));
        s.put(b, &unit(1));
        s.put(c, &unit(2));
        assert_eq!(s.nearest(&unit(1), 1, None)[0].0, b);
        assert_eq!(s.nearest(&unit(1), 1, Some(b))[0].1, 0.0);
        s.put(a, &unit(1));
        assert_eq!(s.ids.len(), 3);
        let two: Vec<_> = s
            .nearest(&unit(1), 2, None)
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert!(two.contains(&a) && two.contains(&b), "{two:?}");
    }
}
