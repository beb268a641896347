//! What a source reads a ticket into, and the checks every record passes whole before
//! anything of it is written; the status, priority and time words of other helpdesks.

use crate::tickets::status::{Priority, Status};

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    /// A customer (the requester or someone copied in).
    Customer { email: String, name: Option<String> },
    /// Staff; matched to a user by email when there is one.
    Agent {
        email: Option<String>,
        name: Option<String>,
    },
}

/// A file a message referenced by URL in its source.
#[derive(Debug, Clone)]
pub struct FileRef {
    pub file_name: String,
    pub url: String,
}

/// A message of an imported thread.
#[derive(Debug, Clone)]
pub struct Message {
    pub author: Author,
    pub body: String,
    pub public: bool,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub files: Vec<FileRef>,
    /// The source's own id for the message, remembered when the importer keeps message ids
    /// (the Thulium bridge's `thulium_msg`), so the live bridge never adds it twice.
    pub source_id: Option<String>,
}

/// One ticket as a source read it, before any check.
#[derive(Debug, Clone)]
pub struct Record {
    /// Where it came from, for the report (`line 12`, `ticket 4411`).
    pub origin: String,
    /// The source's own id: what makes a second run skip it.
    pub source_id: String,
    /// What `external_ref` shows (`zendesk:4411`).
    pub external_ref: Option<String>,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub requester_email: String,
    pub requester_name: Option<String>,
    /// The requester's company (Zendesk organizations); kept for new customers.
    pub requester_company: Option<String>,
    pub assignee_email: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The thread, oldest first; the first message is the description.
    pub messages: Vec<Message>,
}

/// Checks a record whole; answers it cleaned (trimmed, lowercased addresses and tags) or
/// where it came from and everything wrong with it.
pub(super) fn check(mut r: Record) -> Result<Record, (String, String)> {
    let mut errors = Vec::new();
    if r.source_id.trim().is_empty() || r.source_id.len() > 200 {
        errors.push("the id must be 1 to 200 characters".to_owned());
    }
    match crate::validate::required_text("subject", &r.subject, 500) {
        Ok(s) => r.subject = s,
        Err(e) => errors.push(format!("subject {}", e.message)),
    }
    let requester_as_given = r.requester_email.clone();
    match crate::validate::email("requester_email", &r.requester_email) {
        Ok(e) => r.requester_email = e,
        Err(e) => errors.push(format!("requester_email {}", e.message)),
    }
    if let Some(a) = r.assignee_email.take().filter(|a| !a.trim().is_empty()) {
        match crate::validate::email("assignee_email", &a) {
            Ok(e) => r.assignee_email = Some(e),
            Err(e) => errors.push(format!("assignee_email {}", e.message)),
        }
    }
    if let Some(c) = r.category.take().filter(|c| !c.trim().is_empty()) {
        match crate::validate::required_text("category", &c, 100) {
            Ok(c) => r.category = Some(c),
            Err(e) => errors.push(format!("category {}", e.message)),
        }
    }
    match crate::validate::tags(&r.tags) {
        Ok(t) => r.tags = t,
        Err(e) => errors.push(e.message),
    }
    if r.messages.is_empty() {
        errors.push("there is no description or message".to_owned());
    }
    if r.messages.len() > 5000 {
        errors.push("more than 5,000 messages".to_owned());
    }
    for (i, m) in r.messages.iter_mut().enumerate() {
        if let Err(e) = crate::validate::message_body(format!("message {}", i + 1), &m.body) {
            errors.push(format!("{} {}", e.field, e.message));
        }
        if let Author::Customer { email, .. } = &mut m.author {
            // The requester's own address is checked (and reported) once, above.
            if email.trim().eq_ignore_ascii_case(&r.requester_email)
                || errors.iter().any(|e| e.starts_with("requester_email"))
                    && *email == requester_as_given
            {
                *email = r.requester_email.clone();
                continue;
            }
            match crate::validate::email("author", email) {
                Ok(e) => *email = e,
                Err(e) => errors.push(format!("message {} author {}", i + 1, e.message)),
            }
        }
        if let Author::Agent { email: Some(a), .. } = &mut m.author {
            match crate::validate::email("author", a) {
                Ok(e) => *a = e,
                Err(_) => {
                    m.author = Author::Agent {
                        email: None,
                        name: Some(a.clone()),
                    }
                }
            }
        }
    }
    let text_fields = std::iter::once(r.subject.as_str())
        .chain(r.messages.iter().map(|m| m.body.as_str()))
        .chain(r.requester_name.iter().map(String::as_str));
    if text_fields.into_iter().any(|t| t.contains('\0')) {
        errors.push("text must not contain NUL characters".to_owned());
    }
    if r.updated_at < r.created_at {
        r.updated_at = r
            .messages
            .iter()
            .map(|m| m.created_at)
            .max()
            .unwrap_or(r.created_at)
            .max(r.created_at);
    }
    if errors.is_empty() {
        Ok(r)
    } else {
        Err((r.origin, errors.join("; ")))
    }
}

/// The status words of other helpdesks (Zendesk's among them) in Ferrodesk's lifecycle.
#[must_use]
pub fn status_word(s: &str) -> Option<Status> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "new" => Status::New,
        "open" => Status::Open,
        "pending" | "hold" | "on-hold" | "on_hold" | "waiting" => Status::Pending,
        "solved" | "resolved" => Status::Resolved,
        "closed" => Status::Closed,
        _ => return None,
    })
}

/// The priority words of other helpdesks; none is `medium`.
#[must_use]
pub fn priority_word(s: &str) -> Option<Priority> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "" | "normal" | "medium" => Priority::Medium,
        "low" => Priority::Low,
        "high" => Priority::High,
        "urgent" => Priority::Urgent,
        _ => return None,
    })
}

/// An RFC 3339 time, or a plain date (midnight UTC), as microseconds.
#[must_use]
pub fn time_word(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = crate::clock::parse_instant(s) {
        return Some(t);
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| crate::store::micros(z.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_other_helpdesks() {
        assert_eq!(status_word("hold"), Some(Status::Pending));
        assert_eq!(status_word("Solved"), Some(Status::Resolved));
        assert_eq!(status_word("archived"), None);
        assert_eq!(priority_word("normal"), Some(Priority::Medium));
        assert_eq!(priority_word(""), Some(Priority::Medium));
        assert_eq!(priority_word("critical"), None);
        assert_eq!(time_word("2024-03-01"), time_word("2024-03-01T00:00:00Z"));
        assert!(time_word("yesterday").is_none());
    }
}
