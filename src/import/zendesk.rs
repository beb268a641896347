//! `ferrodesk import zendesk --tickets tickets.json --users users.json [--organizations …]`:
//! Zendesk's full JSON export, one object a line. Users are read first (who is a customer and
//! who is staff, by `role`), organizations give customers their company, then tickets stream
//! through with their `comments`.
//!
//! Statuses: `new`, `open`, `pending`, `hold` → pending, `solved` → resolved, `closed`;
//! priorities: `low`, `normal` → medium, `high`, `urgent`, none → medium. A comment is public
//! or an internal note as Zendesk says; its author is a customer when their role is
//! `end-user`, staff otherwise (matched to users by email; unknown staff become inactive
//! agents). `external_ref` is `zendesk:<id>`. Attachments are listed in the report with their
//! URLs, or fetched and stored with their messages under `--fetch-attachments`.

use std::collections::HashMap;
use std::io::BufRead;

use serde::Deserialize;

use super::{Author, BATCH, Importer, Message, Record, priority_word, status_word, time_word};

/// An id Zendesk writes as a number (or, in some exports, a string).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Hash)]
#[serde(untagged)]
enum Id {
    Number(i64),
    Text(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Text(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Deserialize)]
struct User {
    id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// `end-user`, `agent` or `admin`.
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    organization_id: Option<Id>,
}

#[derive(Debug, Deserialize)]
struct Organization {
    id: Id,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Ticket {
    id: Id,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    requester_id: Option<Id>,
    #[serde(default)]
    assignee_id: Option<Id>,
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    comments: Vec<Comment>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    #[serde(default)]
    author_id: Option<Id>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    plain_body: Option<String>,
    #[serde(default = "yes")]
    public: bool,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct Attachment {
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    content_url: Option<String>,
}

/// Who is who, from `users.json` (and the companies from `organizations.json`).
pub struct People {
    users: HashMap<Id, User>,
    companies: HashMap<Id, String>,
}

/// Reads the users (and organizations) files; lines that are not a user are reported.
pub fn people(
    importer: &mut Importer<'_>,
    users: impl BufRead,
    organizations: Option<impl BufRead>,
) -> anyhow::Result<People> {
    let mut p = People {
        users: HashMap::new(),
        companies: HashMap::new(),
    };
    for (i, line) in users.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<User>(&line) {
            Ok(u) => {
                p.users.insert(u.id.clone(), u);
            }
            Err(e) => importer.fail(format!("users line {}", i + 1), format!("not a user: {e}")),
        }
    }
    if let Some(orgs) = organizations {
        for (i, line) in orgs.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Organization>(&line) {
                Ok(o) => {
                    p.companies.insert(o.id, o.name);
                }
                Err(e) => importer.fail(
                    format!("organizations line {}", i + 1),
                    format!("not an organization: {e}"),
                ),
            }
        }
    }
    Ok(p)
}

/// Streams the tickets file into the importer, a batch at a time.
pub async fn import(
    importer: &mut Importer<'_>,
    people: &People,
    tickets: impl BufRead,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<()> {
    let now = crate::clock::now_micros();
    let mut batch = Vec::with_capacity(BATCH);
    let mut read = 0;
    let mut attachments = 0;
    for (i, line) in tickets.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        read += 1;
        let origin = format!("tickets line {}", i + 1);
        match serde_json::from_str::<Ticket>(&line) {
            Ok(t) => {
                attachments += t
                    .comments
                    .iter()
                    .map(|c| c.attachments.len())
                    .sum::<usize>();
                match record(people, t, origin.clone(), now) {
                    Ok(r) => batch.push(r),
                    Err(reason) => importer.fail(origin, reason),
                }
            }
            Err(e) => importer.fail(origin, format!("not a ticket: {e}")),
        }
        if batch.len() >= BATCH {
            importer.write(std::mem::take(&mut batch)).await?;
            progress(read);
        }
    }
    importer.write(batch).await?;
    progress(read);
    let listed = importer.report.attachments.len();
    if listed > 0 {
        importer.report.notes.push(format!(
            "{listed} of {attachments} attachments read are listed under `attachments` with their URLs, not fetched (--fetch-attachments fetches them)"
        ));
    }
    Ok(())
}

/// Who a Zendesk user id is as an author.
fn author(people: &People, id: Option<&Id>) -> Author {
    match id.and_then(|i| people.users.get(i)) {
        Some(u) if u.role.as_deref().unwrap_or("end-user") == "end-user" => match &u.email {
            Some(e) => Author::Customer {
                email: e.clone(),
                name: u.name.clone(),
            },
            None => Author::Agent {
                email: None,
                name: u.name.clone(),
            },
        },
        Some(u) => Author::Agent {
            email: u.email.clone(),
            name: u.name.clone(),
        },
        None => Author::Agent {
            email: None,
            name: Some(id.map_or_else(|| "Zendesk".to_owned(), |i| format!("Zendesk user {i}"))),
        },
    }
}

fn record(people: &People, t: Ticket, origin: String, now: i64) -> Result<Record, String> {
    let mut errors = Vec::new();
    let requester = t.requester_id.as_ref().and_then(|r| people.users.get(r));
    let Some(requester) = requester else {
        return Err(match &t.requester_id {
            Some(r) => format!("requester {r} is not in the users file"),
            None => "no requester_id".to_owned(),
        });
    };
    let Some(requester_email) = requester.email.clone() else {
        return Err(format!("requester {} has no email", requester.id));
    };
    let status = match t.status.as_deref() {
        None => crate::tickets::status::Status::New,
        Some(s) => status_word(s).unwrap_or_else(|| {
            errors.push(format!("status `{s}` is not a Zendesk status"));
            crate::tickets::status::Status::New
        }),
    };
    let priority = match t.priority.as_deref() {
        None => crate::tickets::status::Priority::Medium,
        Some(p) => priority_word(p).unwrap_or_else(|| {
            errors.push(format!("priority `{p}` is not a Zendesk priority"));
            crate::tickets::status::Priority::Medium
        }),
    };
    let time = |field: &str, v: Option<&String>, errors: &mut Vec<String>| match v {
        None => None,
        Some(s) => time_word(s).or_else(|| {
            errors.push(format!("{field} `{s}` is not a time"));
            None
        }),
    };
    let created_at = time("created_at", t.created_at.as_ref(), &mut errors).unwrap_or(now);
    let updated_at = time("updated_at", t.updated_at.as_ref(), &mut errors).unwrap_or(created_at);
    let mut messages = Vec::new();
    for (i, c) in t.comments.iter().enumerate() {
        let at = time(
            &format!("comments[{i}].created_at"),
            c.created_at.as_ref(),
            &mut errors,
        )
        .unwrap_or(created_at);
        let body = c
            .plain_body
            .clone()
            .or_else(|| c.body.clone())
            .unwrap_or_default();
        messages.push(Message {
            author: author(people, c.author_id.as_ref()),
            body,
            public: c.public,
            created_at: at,
            files: c
                .attachments
                .iter()
                .filter_map(|a| {
                    a.content_url.as_ref().map(|url| super::FileRef {
                        file_name: a.file_name.clone().unwrap_or_else(|| "file".into()),
                        url: url.clone(),
                    })
                })
                .collect(),
            source_id: None,
        });
    }
    if messages.is_empty() {
        messages.push(Message {
            author: Author::Customer {
                email: requester_email.clone(),
                name: requester.name.clone(),
            },
            body: t
                .description
                .clone()
                .or_else(|| t.subject.clone())
                .unwrap_or_default(),
            public: true,
            created_at,
            files: Vec::new(),
            source_id: None,
        });
    }
    messages.sort_by_key(|m| m.created_at);
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let assignee_email = t
        .assignee_id
        .as_ref()
        .and_then(|a| people.users.get(a))
        .and_then(|u| u.email.clone());
    Ok(Record {
        origin,
        source_id: t.id.to_string(),
        external_ref: Some(format!("zendesk:{}", t.id)),
        subject: t
            .subject
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| crate::integrations::subject_of(&messages[0].body)),
        status,
        priority,
        category: None,
        tags: t.tags,
        requester_company: requester
            .organization_id
            .as_ref()
            .and_then(|o| people.companies.get(o))
            .cloned(),
        requester_email,
        requester_name: requester.name.clone(),
        assignee_email,
        created_at,
        updated_at,
        messages,
    })
}
