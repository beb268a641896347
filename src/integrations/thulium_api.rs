//! Thulium's REST API (`https://<system>.thulium.com/api/`), as `ferrodesk import thulium`
//! reads it: `GET /api/tickets?limit=100&offset=N[&date_from=…]` pages through the tickets
//! (most recently changed first, at most 100 a page), and `GET /api/tickets/:id` gives one
//! ticket with its messages. An API user (Thulium: Administration → Users → API users) signs
//! every request with HTTP Basic authentication.
//!
//! A ticket is turned into the bridge's own [`ThuliumTicket`] (the shape its webhook takes),
//! so the backfill and the live bridge share one mapping: message `type` `MAIL` (from the
//! customer) is `in`, `REPLY` (to the customer) is `out`, `COMMENT` is an internal `note`;
//! messages with only a `system_comment` (status changes Thulium logged) carry no words and
//! are left out. Thulium's statuses are its own per system (`status_id`, named by
//! `full_status_name`): `--status-map ID=STATUS` names them; otherwise the name is read
//! (Thulium's English and Polish defaults: new/nowe, open/otwarte, waiting/oczekuje…,
//! resolved/rozwiązane, closed/zamknięte), and a ticket with a `closed_at` is closed. Times
//! are `YYYY-MM-DD HH:MM[:SS]` on the Thulium system's clock (`--timezone`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::thulium::{
    ExternalId, History, ThuliumCustomer, ThuliumMessage, ThuliumTicket, map_status,
};
use crate::import::FileRef;
use crate::tickets::status::Status;

/// Tickets a list page holds (Thulium's maximum).
pub const PAGE: usize = 100;

/// A ticket as `GET /api/tickets/:id` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiTicket {
    pub ticket_id: ExternalId,
    /// The customer's address (or, for other channels, a phone number or handle).
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub status_id: Option<ExternalId>,
    #[serde(default)]
    pub full_status_name: Option<String>,
    #[serde(default)]
    pub customer_id: Option<ExternalId>,
    /// The assigned agent's login.
    #[serde(default)]
    pub user_login: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    /// Not in Thulium's documented answer; read when a system sends it.
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub messages: Vec<ApiMessage>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiMessage {
    pub message_id: ExternalId,
    #[serde(default)]
    pub user_login: Option<String>,
    /// `MAIL`, `REPLY` or `COMMENT`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    // `system_comment` (Thulium's log of its own changes) is not read: it carries no words
    // of a person.
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Value>,
}

/// How Thulium's values become Ferrodesk's.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The Thulium system's clock.
    pub tz: jiff::tz::TimeZone,
    /// Status ids named on the command line.
    pub statuses: HashMap<String, Status>,
    /// Agents' addresses by Thulium login.
    pub agents: HashMap<String, String>,
    /// `login@domain` for logins not in `agents`.
    pub agent_domain: Option<String>,
}

impl Mapping {
    fn agent(&self, login: &str) -> Option<String> {
        self.agents.get(login).cloned().or_else(|| {
            self.agent_domain
                .as_ref()
                .map(|d| format!("{}@{d}", login.to_ascii_lowercase()))
        })
    }

    /// A Thulium time on the system's clock (or an RFC 3339 instant), in microseconds.
    #[must_use]
    pub fn time(&self, s: &str) -> Option<i64> {
        let s = s.trim();
        if let Ok(t) = s.parse::<jiff::Timestamp>() {
            return Some(t.as_microsecond());
        }
        let civil = s
            .parse::<jiff::civil::DateTime>()
            .ok()
            .or_else(|| jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", s).ok())
            .or_else(|| {
                s.parse::<jiff::civil::Date>()
                    .ok()
                    .map(|d| d.at(0, 0, 0, 0))
            })?;
        civil
            .to_zoned(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_microsecond())
    }

    /// The ticket's status: by id when named, else by name, else closed when Thulium closed it.
    fn status(&self, t: &ApiTicket) -> Result<Status, String> {
        let id = t.status_id.as_ref().map(ExternalId::text);
        if let Some(s) = id.as_ref().and_then(|i| self.statuses.get(i)) {
            return Ok(*s);
        }
        let name = t.full_status_name.as_deref().unwrap_or_default();
        if let Some(s) = status_name(name) {
            return Ok(s);
        }
        if t.closed_at.as_deref().is_some_and(|c| !c.trim().is_empty()) {
            return Ok(Status::Closed);
        }
        if id.is_none() && name.trim().is_empty() {
            return Ok(Status::Open);
        }
        Err(format!(
            "status {} ({name:?}) is not mapped: pass --status-map {}=new|open|pending|resolved|closed",
            id.as_deref().unwrap_or("?"),
            id.as_deref().unwrap_or("ID"),
        ))
    }

    /// The bridge's ticket and what only the backfill knows of it.
    pub fn convert(&self, t: ApiTicket) -> Result<(ThuliumTicket, History), String> {
        let status = self.status(&t)?;
        let created_at = match t.created_at.as_deref() {
            Some(s) => self
                .time(s)
                .ok_or_else(|| format!("created_at `{s}` is not a time"))?,
            None => return Err("no created_at".into()),
        };
        let updated_at = t
            .updated_at
            .as_deref()
            .and_then(|s| self.time(s))
            .unwrap_or(created_at);
        let mut history = History {
            created_at,
            updated_at,
            assignee_email: t.user_login.as_deref().and_then(|l| self.agent(l)),
            ..History::default()
        };
        let mut messages = Vec::new();
        for m in t.messages {
            let direction = match m.kind.to_ascii_uppercase().as_str() {
                "MAIL" => "in",
                "REPLY" => "out",
                "COMMENT" => "note",
                other => {
                    return Err(format!(
                        "message {}: unknown type `{other}`",
                        m.message_id.text()
                    ));
                }
            };
            let words = if direction == "note" {
                m.comment
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .or(m.body.clone())
            } else {
                m.body.clone()
            };
            let Some(body) = words.filter(|b| !b.trim().is_empty()) else {
                continue;
            };
            let at = match m.created_at.as_deref() {
                Some(s) => Some(self.time(s).ok_or_else(|| {
                    format!(
                        "message {}: created_at `{s}` is not a time",
                        m.message_id.text()
                    )
                })?),
                None => None,
            };
            if let Some(login) = m.user_login.as_deref().filter(|l| !l.trim().is_empty())
                && let Some(email) = self.agent(login)
            {
                history.agents.insert(login.to_owned(), email);
            }
            let files: Vec<FileRef> = m.attachments.iter().filter_map(file_ref).collect();
            if !files.is_empty() {
                history.files.insert(m.message_id.text(), files);
            }
            messages.push(ThuliumMessage {
                id: m.message_id,
                body,
                direction: direction.to_owned(),
                author: m.user_login.filter(|_| direction != "in"),
                created_at: at.map(|t| crate::store::timestamp(t).to_string()),
            });
        }
        let ticket = ThuliumTicket {
            id: t.ticket_id,
            subject: t.subject,
            status: Some(status.as_str().to_owned()),
            priority: t.priority.filter(|p| !p.trim().is_empty()),
            customer: Some(ThuliumCustomer {
                id: t.customer_id,
                email: t.from,
                name: None,
            }),
            messages,
        };
        Ok((ticket, history))
    }
}

/// A status as Thulium names it (the part before ` - `, the sub-status, is read first).
#[must_use]
pub fn status_name(full: &str) -> Option<Status> {
    let name = full
        .split(" - ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    if name.is_empty() {
        return None;
    }
    if let Some(s) = map_status(&name.replace(' ', "_")) {
        return Some(s);
    }
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    Some(
        if has(&["zamkni", "closed", "zakończ", "zakoncz", "archiw"]) {
            Status::Closed
        } else if has(&[
            "rozwiąz",
            "rozwiaz",
            "zrealizow",
            "resolved",
            "solved",
            "done",
        ]) {
            Status::Resolved
        } else if has(&[
            "oczekuj", "wstrzym", "waiting", "pending", "on hold", "hold",
        ]) {
            Status::Pending
        } else if has(&["nowe", "nowy", "new"]) {
            Status::New
        } else if has(&[
            "otwart",
            "w toku",
            "w trakcie",
            "w realizacji",
            "open",
            "progress",
            "assigned",
        ]) {
            Status::Open
        } else {
            return None;
        },
    )
}

/// An attachment Thulium lists with a name and a link (its shape is not documented; the
/// common field names are read).
fn file_ref(v: &Value) -> Option<FileRef> {
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(k).and_then(Value::as_str))
            .map(str::to_owned)
    };
    let url = text(&["url", "download_url", "link", "href"])?;
    Some(FileRef {
        file_name: text(&["file_name", "filename", "name"]).unwrap_or_else(|| "file".into()),
        url,
    })
}

/// A client of one Thulium system's API.
pub struct Api {
    http: reqwest::Client,
    base: String,
    login: String,
    password: String,
}

impl Api {
    /// `base` is the system's address (`https://acme.thulium.com`).
    pub fn new(base: &str, login: &str, password: &str) -> anyhow::Result<Api> {
        let base = base.trim().trim_end_matches('/');
        let base = base.strip_suffix("/api").unwrap_or(base).to_owned();
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "--url must be the Thulium system's http(s) address"
        );
        Ok(Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .user_agent("Ferrodesk import")
                .build()?,
            base,
            login: login.to_owned(),
            password: password.to_owned(),
        })
    }

    /// GET with Basic authentication; 429 and 5xx answers are retried (after `Retry-After`
    /// when given), four times at most.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/{path}", self.base), query)?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let res = self
                .http
                .get(url.clone())
                .basic_auth(&self.login, Some(&self.password))
                .header("accept", "application/json")
                .send()
                .await;
            let retry = match res {
                Ok(r) if r.status().is_success() => return Ok(r.json().await?),
                Ok(r)
                    if r.status() == reqwest::StatusCode::UNAUTHORIZED
                        || r.status() == reqwest::StatusCode::FORBIDDEN =>
                {
                    anyhow::bail!(
                        "Thulium refused the API user ({}): check --login and the password",
                        r.status()
                    )
                }
                Ok(r)
                    if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || r.status().is_server_error() =>
                {
                    let wait = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1 << attempt)
                        .min(60);
                    (format!("{url}: {}", r.status()), wait)
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    anyhow::bail!(
                        "{url}: {status}: {}",
                        text.chars().take(300).collect::<String>()
                    )
                }
                Err(e) => (format!("{url}: {e}"), 1 << attempt),
            };
            if attempt >= 5 {
                anyhow::bail!("{} (gave up after {attempt} attempts)", retry.0);
            }
            tokio::time::sleep(Duration::from_secs(retry.1)).await;
        }
    }

    /// The ticket ids of one list page (`offset` counts tickets), changed on or after `since`
    /// when given.
    pub async fn page(&self, offset: usize, since: Option<&str>) -> anyhow::Result<Vec<String>> {
        let mut query = vec![("limit", PAGE.to_string()), ("offset", offset.to_string())];
        if let Some(s) = since {
            query.push(("date_from", s.to_owned()));
        }
        let v = self.get("tickets", &query).await?;
        // The list is an array of tickets (some systems wrap it in an object).
        let items = match &v {
            Value::Array(a) => a.clone(),
            Value::Object(o) => ["tickets", "data", "items", "results"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_array).cloned())
                .ok_or_else(|| anyhow::anyhow!("GET /api/tickets answered no list of tickets"))?,
            _ => anyhow::bail!("GET /api/tickets answered no list of tickets"),
        };
        items
            .iter()
            .map(|t| {
                t.get("ticket_id")
                    .or_else(|| t.get("id"))
                    .and_then(|i| serde_json::from_value::<ExternalId>(i.clone()).ok())
                    .map(|i| i.text())
                    .ok_or_else(|| anyhow::anyhow!("a listed ticket has no ticket_id: {t}"))
            })
            .collect()
    }

    /// One ticket with its messages; `Err` names what was wrong with it.
    pub async fn ticket(&self, id: &str) -> Result<ApiTicket, String> {
        let v = self
            .get(&format!("tickets/{}", urlencode(id)), &[])
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_value(v).map_err(|e| format!("not a Thulium ticket: {e}"))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            tz: jiff::tz::TimeZone::get("Europe/Warsaw").expect("zone"),
            statuses: HashMap::from([("7".to_owned(), Status::Pending)]),
            agents: HashMap::from([("akowalski".to_owned(), "anna@acme.example".to_owned())]),
            agent_domain: None,
        }
    }

    #[test]
    fn thulium_status_names() {
        assert_eq!(status_name("Nowe"), Some(Status::New));
        assert_eq!(
            status_name("Oczekuje na klienta - telefon"),
            Some(Status::Pending)
        );
        assert_eq!(status_name("Zamknięte"), Some(Status::Closed));
        assert_eq!(status_name("In progress"), Some(Status::Open));
        assert_eq!(status_name("Rozwiązane"), Some(Status::Resolved));
        assert_eq!(status_name("Eskalacja"), None);
    }

    #[test]
    fn times_are_on_the_systems_clock() {
        let m = mapping();
        // 08:05 in Warsaw in July is 06:05 UTC.
        let t = m.time("2014-07-08 08:05").expect("time");
        assert_eq!(
            crate::store::timestamp(t).to_string(),
            "2014-07-08T06:05:00Z"
        );
        assert_eq!(
            m.time("2014-07-08 08:05:30").map(|t| t % 60_000_000),
            Some(30_000_000)
        );
        assert!(m.time("yesterday").is_none());
    }

    #[test]
    fn a_ticket_becomes_the_bridges() {
        let t: ApiTicket = serde_json::from_value(serde_json::json!({
            "ticket_id": 1234, "from": "john.doe@foo.bar", "subject": "Inverter", "status_id": "7",
            "full_status_name": "Czeka", "customer_id": 32122, "user_login": "akowalski",
            "created_at": "2014-07-08 08:05", "updated_at": "2014-07-11 08:05",
            "messages": [
                {"message_id": 432, "user_login": "akowalski", "type": "COMMENT", "body": "", "comment": "Call back", "system_comment": "", "created_at": "2014-07-08 09:00", "attachments": []},
                {"message_id": 433, "user_login": "akowalski", "type": "COMMENT", "body": "", "comment": "", "system_comment": "Changed status", "created_at": "2014-07-08 09:01", "attachments": []},
                {"message_id": 431, "type": "MAIL", "body": "It is offline", "created_at": "2014-07-08 08:05", "attachments": [{"name": "log.txt", "url": "https://x/log.txt"}]}
            ]
        }))
        .expect("ticket");
        let (b, h) = mapping().convert(t).expect("converts");
        assert_eq!(b.status.as_deref(), Some("pending"), "by --status-map");
        assert_eq!(b.messages.len(), 2, "the system comment carries no words");
        assert_eq!(b.messages[0].direction, "note");
        assert_eq!(b.messages[1].direction, "in");
        assert_eq!(h.assignee_email.as_deref(), Some("anna@acme.example"));
        assert_eq!(h.files["431"][0].file_name, "log.txt");
        let unmapped: ApiTicket = serde_json::from_value(serde_json::json!({
            "ticket_id": 9, "status_id": 12, "full_status_name": "Eskalacja", "created_at": "2014-07-08 08:05"
        }))
        .expect("ticket");
        let err = mapping().convert(unmapped).expect_err("unmapped status");
        assert!(err.contains("--status-map 12="), "{err}");
    }
}
