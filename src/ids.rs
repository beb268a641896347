//! Typed ids: UUIDv7 newtypes so a `TicketId` can never be passed where a `UserId` is meant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
);
