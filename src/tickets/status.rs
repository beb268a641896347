//! Ticket vocabulary and the lifecycle rule (SPEC §1, §5): which status may follow which,
//! and the input aliases of the seeds. Pure: no I/O.

use serde::{Deserialize, Serialize};

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $word:literal $(| $alias:literal)*),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        #[allow(
            dead_code,
            reason = "the same vocabulary API is made for every enum; not every enum uses all of it"
        )]
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// Every word `parse` accepts: the canonical ones and their aliases.
            pub const ACCEPTED: &'static [&'static str] = &[$($word $(, $alias)*),*];

            /// The canonical word.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),* }
            }

            /// Parses the canonical word or one of its aliases (case-insensitive).
            #[must_use]
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim().to_ascii_lowercase();
                match s.as_str() {
                    $($word $(| $alias)* => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The word as people read it in a list (`Urgent`, `In progress`).
            #[must_use]
            pub fn label(self) -> String {
                let w = self.as_str().replace('_', " ");
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            }

            /// The accepted words, for error messages.
            #[must_use]
            pub fn expected() -> String {
                [$($word),*].join(", ")
            }
        }

        /// Stored rows carry the word; a word this version does not know is an error, never a
        /// silent default.
        impl TryFrom<String> for $name {
            type Error = UnknownWord;
            fn try_from(s: String) -> Result<Self, UnknownWord> {
                $name::parse(&s).ok_or_else(|| UnknownWord { what: stringify!($name), word: s })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown value `{s}`, expected one of: {}", $name::expected())))
            }
        }
    };
}

/// A stored word that is not in the vocabulary (data from a newer version, or damage).
#[derive(Debug)]
pub struct UnknownWord {
    what: &'static str,
    word: String,
}

impl std::fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} `{}` in the database", self.what, self.word)
    }
}

impl std::error::Error for UnknownWord {}

word_enum!(
    /// Where a ticket is in its life.
    Status { New = "new", Open = "open" | "in_progress", Pending = "pending" | "waiting" | "pending_customer", Resolved = "resolved", Closed = "closed" }
);
word_enum!(
    /// How urgent a ticket is.
    Priority { Low = "low", Medium = "medium" | "normal", High = "high", Urgent = "urgent" }
);
word_enum!(
    /// What sort of case a ticket is.
    Kind { Support = "support", Warranty = "warranty", Billing = "billing", Technical = "technical" }
);
word_enum!(
    /// Where a ticket or comment came in.
    Channel { Web = "web", Api = "api", Email = "email", Portal = "portal", Chat = "chat", Wecom = "wecom", Thulium = "thulium", Phone = "phone", Ai = "ai", System = "system", Import = "import" }
);
word_enum!(
    /// Whether customers can read a knowledge-base article.
    ArticleStatus { Draft = "draft", Published = "published" }
);
word_enum!(
    /// The role of a staff user.
    Role { Admin = "admin", Supervisor = "supervisor", Agent = "agent", Engineer = "engineer" }
);

impl Priority {
    /// Rank stored in the database so that sorting by priority is an index-friendly integer sort.
    #[must_use]
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
            Priority::Urgent => 4,
        }
    }

    /// The priority of a stored rank; an unknown rank is an error.
    pub fn try_from_rank(rank: i64) -> Result<Self, UnknownWord> {
        match rank {
            1 => Ok(Priority::Low),
            2 => Ok(Priority::Medium),
            3 => Ok(Priority::High),
            4 => Ok(Priority::Urgent),
            _ => Err(UnknownWord {
                what: "Priority rank",
                word: rank.to_string(),
            }),
        }
    }

    /// The inverse of [`Priority::rank`].
    #[must_use]
    pub fn from_rank(rank: i64) -> Self {
        match rank {
            1 => Priority::Low,
            3 => Priority::High,
            4 => Priority::Urgent,
            _ => Priority::Medium,
        }
    }
}

impl TryFrom<i64> for Priority {
    type Error = UnknownWord;
    fn try_from(rank: i64) -> Result<Self, UnknownWord> {
        Priority::try_from_rank(rank)
    }
}

impl Role {
    /// Whether a user with this role may be a ticket's assignee: engineers work escalated
    /// cases through notes and are never assignees (SPEC §4).
    #[must_use]
    pub fn can_be_assignee(self) -> bool {
        self != Role::Engineer
    }
}

impl Status {
    /// Whether a ticket in `self` may move to `to` (SPEC §5 Lifecycle).
    #[must_use]
    pub fn can_become(self, to: Status) -> bool {
        use Status::{Closed, New, Open, Pending, Resolved};
        matches!(
            (self, to),
            (New, Open | Pending | Resolved | Closed)
                | (Open, Pending | Resolved | Closed)
                | (Pending, Open | Resolved | Closed)
                | (Resolved, Closed | Open)
                | (Closed, Open)
        )
    }

    /// Moving back to `open` from `resolved` or `closed` is a reopen.
    #[must_use]
    pub fn is_reopen(self, to: Status) -> bool {
        to == Status::Open && matches!(self, Status::Resolved | Status::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::Status::{self, Closed, New, Open, Pending, Resolved};
    use super::*;

    #[test]
    fn only_engineers_cannot_be_assignees_and_labels_read_well() {
        for r in Role::ALL {
            assert_eq!(r.can_be_assignee(), *r != Role::Engineer, "{r}");
        }
        assert!(Role::try_from("owner".to_owned()).is_err());
        assert_eq!(Priority::try_from(3).ok(), Some(Priority::High));
        assert!(Priority::try_from(9).is_err());
        assert_eq!(Priority::Urgent.label(), "Urgent");
        assert_eq!(Status::Pending.label(), "Pending");
    }

    #[test]
    fn lifecycle_allows_exactly_the_spec_transitions() {
        let allowed: &[(Status, &[Status])] = &[
            (New, &[Open, Pending, Resolved, Closed]),
            (Open, &[Pending, Resolved, Closed]),
            (Pending, &[Open, Resolved, Closed]),
            (Resolved, &[Closed, Open]),
            (Closed, &[Open]),
        ];
        for (from, tos) in allowed {
            for to in Status::ALL {
                assert_eq!(from.can_become(*to), tos.contains(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn reopen_is_only_from_resolved_or_closed_to_open() {
        assert!(Resolved.is_reopen(Open));
        assert!(Closed.is_reopen(Open));
        assert!(!Pending.is_reopen(Open));
        assert!(!Closed.is_reopen(Pending));
    }

    #[test]
    fn seed_aliases_map_to_spec_words() {
        assert_eq!(Status::parse("in_progress"), Some(Open));
        assert_eq!(Status::parse("WAITING"), Some(Pending));
        assert_eq!(Status::parse("pending_customer"), Some(Pending));
        assert_eq!(Priority::parse("normal"), Some(Priority::Medium));
        assert_eq!(Status::parse("done"), None);
        assert_eq!(Channel::parse("wecom"), Some(Channel::Wecom));
    }

    #[test]
    fn priority_rank_round_trips_and_orders() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), *p);
        }
        assert!(Priority::Urgent.rank() > Priority::High.rank());
        assert!(Priority::Low.rank() < Priority::Medium.rank());
    }
}
