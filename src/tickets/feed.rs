//! The change feed (SPEC §3, Zendesk's incremental export): every ticket changed since a
//! point, each change read once per page sequence, never passing over a change that a slower
//! transaction commits later (see `store::dialect::changes_after`). Deleted tickets appear
//! with `deleted_at`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::TicketView;
use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, FieldError, Result};
use crate::store::{self, Store};

/// Most tickets on one page.
pub const MAX_PER_PAGE: u64 = 1000;

/// A ticket in the feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedTicket {
    #[serde(flatten)]
    pub ticket: TicketView,
    /// Set on deleted tickets.
    pub deleted_at: Option<String>,
}

/// One page of the feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedPage {
    pub tickets: Vec<FeedTicket>,
    /// Where the next page starts (pass it as `cursor`); the same cursor when nothing changed.
    pub after_cursor: String,
    /// No more changes for now: poll again later with `after_cursor`.
    pub end_of_stream: bool,
}

/// Where a feed stands: changes updated at or after `since` (µs), after `(xid, seq)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    since: i64,
    xid: String,
    seq: i64,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}:{}", self.since, self.xid, self.seq))
    }

    fn decode(s: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s.trim()).ok()?).ok()?;
        let mut parts = raw.split(':');
        if parts.next()? != "v1" {
            return None;
        }
        let since = parts.next()?.parse().ok()?;
        let xid = parts.next()?.to_owned();
        let seq = parts.next()?.parse().ok()?;
        (parts.next().is_none() && xid.chars().all(|c| c.is_ascii_digit())).then_some(Cursor {
            since,
            xid,
            seq,
        })
    }
}

/// The page after `cursor`, or from `start_time` (Unix seconds) for the first page.
pub async fn page(
    store: &Store,
    actor: &Actor,
    start_time: Option<i64>,
    cursor: Option<&str>,
    per_page: u64,
) -> Result<FeedPage> {
    actor.require(Permission::ExportTickets)?;
    let at = match (start_time, cursor) {
        (_, Some(c)) => Cursor::decode(c)
            .ok_or_else(|| Error::field("cursor", "is not a cursor this feed gave out"))?,
        (Some(t), None) => {
            if !(0..=253_402_300_799).contains(&t) {
                return Err(Error::field("start_time", "must be Unix seconds"));
            }
            Cursor {
                since: t * 1_000_000,
                xid: "0".into(),
                seq: 0,
            }
        }
        (None, None) => {
            return Err(Error::Validation(vec![FieldError::new(
                "start_time",
                "give start_time (Unix seconds) for the first page, then cursor",
            )]));
        }
    };
    let mut tx = store.read().await?;
    let rows = store::tickets::changes(
        &mut tx,
        actor.workspace_id,
        at.since,
        &at.xid,
        at.seq,
        per_page,
    )
    .await?;
    let ids: Vec<_> = rows.iter().map(|r| r.ticket.id).collect();
    let tags = store::tickets::tags_of(&mut tx, actor.workspace_id, &ids).await?;
    let next = rows.last().map_or_else(
        || at.clone(),
        |r| Cursor {
            since: at.since,
            xid: if r.change_xid.is_empty() {
                "0".into()
            } else {
                r.change_xid.clone()
            },
            seq: r.change_seq,
        },
    );
    let now = now_micros();
    let end = (rows.len() as u64) < per_page;
    let tickets = rows
        .into_iter()
        .map(|r| {
            let mine: Vec<String> = tags
                .iter()
                .filter(|(t, _)| *t == r.ticket.id)
                .map(|(_, tag)| tag.clone())
                .collect();
            FeedTicket {
                ticket: TicketView::from_row(&r.ticket, mine, now),
                deleted_at: r.deleted_at.map(rfc3339),
            }
        })
        .collect();
    Ok(FeedPage {
        tickets,
        after_cursor: next.encode(),
        end_of_stream: end,
    })
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let c = Cursor {
            since: 1_700_000_000_000_000,
            xid: "7481".into(),
            seq: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not base64 !"), None);
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "v1:0:1 OR 1=1:0",
        );
        assert_eq!(Cursor::decode(&forged), None);
    }
}
