//! Typed ids: UUIDv7 newtypes so a `TicketId` can never be passed where a `UserId` is meant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The smallest UUIDv7 of the millisecond that holds `micros`: every id made before that
/// millisecond sorts below it, so "older than" is a range of the primary key.
#[must_use]
pub fn first_id_at(micros: i64) -> Uuid {
    let ms = u128::try_from(micros.max(0) / 1000).unwrap_or(0) & ((1 << 48) - 1);
    Uuid::from_u128(ms << 80)
}

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[sqlx(transparent)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            #[must_use]
            pub fn new() -> Self { Self(Uuid::now_v7()) }
        }
        impl Default for $name { fn default() -> Self { Self::new() } }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { self.0.fmt(f) }
        }
        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> { Uuid::parse_str(s).map(Self) }
        }
        impl From<$name> for sea_query::Value {
            fn from(id: $name) -> Self { id.0.into() }
        }
    )*};
}

id_type!(
    /// A tenant.
    WorkspaceId,
    /// A staff account (admin, supervisor, agent, engineer).
    UserId,
    /// A team of agents.
    GroupId,
    /// A customer contact record.
    CustomerId,
    /// A ticket.
    TicketId,
    /// A comment in a ticket thread.
    CommentId,
    /// An API or login token.
    TokenId,
    /// A ticket category.
    CategoryId,
    /// An immutable timeline entry.
    EventId,
    /// A background job.
    JobId,
    /// A knowledge-base article.
    ArticleId,
    /// An entry of the audit log.
    AuditId,
);

#[cfg(test)]
mod boundary_tests {
    #[test]
    fn ids_made_before_an_instant_sort_below_its_first_id() {
        let before = super::EventId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let cut = super::first_id_at(crate::clock::now_micros());
        let after = super::EventId::new();
        assert!(before.0 < cut, "{before} {cut}");
        assert!(cut <= after.0, "{cut} {after}");
        // Byte order (SQLite blobs, PostgreSQL uuids) agrees with the integer order.
        assert!(before.0.as_bytes() < cut.as_bytes());
    }
}
