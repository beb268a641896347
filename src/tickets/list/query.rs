//! The query string of `GET /api/tickets` and of the console's inbox, read into a typed
//! [`ListQuery`] (serde) and validated once into a [`ListRequest`]. Every problem is reported
//! at once, each under the parameter it concerns.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::{CursorData, ListRequest, PageSpec, sort_name};
use crate::auth::Actor;
use crate::clock::{now_micros, parse_instant};
use crate::error::{Error, FieldError, Result};
use crate::ids::UserId;
use crate::store::dialect;
use crate::store::tickets::{AssigneeFilter, Sort, SortField, TicketFilter};
use crate::tickets::status::{Channel, Kind, Priority, Status};
use crate::validate;

/// The list's query parameters as sent; lists are comma-separated.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    priority: Option<String>,
    kind: Option<String>,
    channel: Option<String>,
    category_id: Option<String>,
    group_id: Option<String>,
    /// User ids, `me` and `none`.
    assignee_id: Option<String>,
    requester_id: Option<String>,
    requester_email: Option<String>,
    tag: Option<String>,
    tags: Option<String>,
    created_at_after: Option<String>,
    created_at_before: Option<String>,
    updated_at_after: Option<String>,
    updated_at_before: Option<String>,
    last_message_at_after: Option<String>,
    last_message_at_before: Option<String>,
    sla_due_at_after: Option<String>,
    sla_due_at_before: Option<String>,
    sla_overdue: Option<String>,
    sla_at_risk: Option<String>,
    ai_auto_resolved: Option<String>,
    has_ai_summary: Option<String>,
    /// Latest AI draft confidence below this (0–1).
    ai_confidence_below: Option<String>,
    /// Latest AI draft confidence at least this (0–1).
    ai_confidence_min: Option<String>,
    /// `mine`, `unassigned` or `all`.
    view: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    page: Option<String>,
    limit: Option<String>,
    /// The seeds' name for `limit`.
    per_page: Option<String>,
    cursor: Option<String>,
    /// `cursor` or `offset`.
    pagination: Option<String>,
    include: Option<String>,
    /// Anything else: each is an error.
    #[serde(flatten)]
    unknown: BTreeMap<String, String>,
}

/// What may be side-loaded with `include=`.
const INCLUDES: [&str; 4] = ["requester", "assignee", "category", "group"];

fn list_of(v: Option<&String>) -> impl Iterator<Item = &str> {
    v.into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Reads and validates the query string of a ticket list.
pub fn parse(params: &HashMap<String, String>, actor: &Actor) -> Result<ListRequest> {
    // Through JSON, whose deserializer reads a present string as `Some`.
    let map: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let query = ListQuery::deserialize(serde_json::Value::Object(map))
        .map_err(|e| Error::bad_request(format!("the query string could not be read: {e}")))?;
    query.validate(actor)
}

impl ListQuery {
    /// The list request this query asks for, or every problem with it.
    pub fn validate(&self, actor: &Actor) -> Result<ListRequest> {
        let mut errors: Vec<FieldError> = self
            .unknown
            .keys()
            .map(|k| FieldError::new(k.clone(), "unknown query parameter"))
            .collect();
        let mut filter = TicketFilter::default();
        self.words(&mut filter, &mut errors);
        self.ids(&mut filter, &mut errors);
        self.assignee(&mut filter, actor, &mut errors);
        self.times(&mut filter, &mut errors);
        let sort = self.sort(&mut errors);
        let page = self.page(sort, &mut errors);
        let include = self.include(&mut errors);
        if errors.is_empty() {
            Ok(ListRequest {
                filter,
                sort,
                page,
                include,
            })
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// The vocabulary filters: status, priority, kind, channel.
    fn words(&self, f: &mut TicketFilter, errors: &mut Vec<FieldError>) {
        fn each<T>(
            key: &'static str,
            v: Option<&String>,
            parse: impl Fn(&str) -> Option<T>,
            expected: impl Fn() -> String,
            mut keep: impl FnMut(T),
            errors: &mut Vec<FieldError>,
        ) {
            for w in list_of(v) {
                match parse(w) {
                    Some(x) => keep(x),
                    None => errors.push(FieldError::new(
                        key,
                        format!("unknown value `{w}`, expected one of: {}", expected()),
                    )),
                }
            }
        }
        let st = &mut f.statuses;
        each(
            "status",
            self.status.as_ref(),
            Status::parse,
            Status::expected,
            |x| st.push(x.as_str().to_owned()),
            errors,
        );
        let pr = &mut f.priorities;
        each(
            "priority",
            self.priority.as_ref(),
            Priority::parse,
            Priority::expected,
            |x| pr.push(x.rank()),
            errors,
        );
        let ki = &mut f.kinds;
        each(
            "kind",
            self.kind.as_ref(),
            Kind::parse,
            Kind::expected,
            |x| ki.push(x.as_str().to_owned()),
            errors,
        );
        let ch = &mut f.channels;
        each(
            "channel",
            self.channel.as_ref(),
            Channel::parse,
            Channel::expected,
            |x| ch.push(x.as_str().to_owned()),
            errors,
        );
    }

    /// The id filters, the requester's email and the tags.
    fn ids(&self, f: &mut TicketFilter, errors: &mut Vec<FieldError>) {
        fn uuids<T: std::str::FromStr>(
            key: &'static str,
            v: Option<&String>,
            errors: &mut Vec<FieldError>,
        ) -> Vec<T> {
            list_of(v)
                .filter_map(|w| {
                    w.parse::<T>()
                        .map_err(|_| {
                            errors.push(FieldError::new(key, format!("`{w}` is not a UUID")))
                        })
                        .ok()
                })
                .collect()
        }
        f.category_ids = uuids("category_id", self.category_id.as_ref(), errors);
        f.group_ids = uuids("group_id", self.group_id.as_ref(), errors);
        f.requester_ids = uuids("requester_id", self.requester_id.as_ref(), errors);
        if self.requester_email.is_some() {
            f.requester_emails = list_of(self.requester_email.as_ref())
                .map(str::to_lowercase)
                .collect();
        }
        for (key, v) in [("tag", &self.tag), ("tags", &self.tags)] {
            for t in list_of(v.as_ref()) {
                match validate::tag(t) {
                    Ok(t) => f.tags.push(t),
                    Err(e) => errors.push(FieldError::new(key, e.message)),
                }
            }
        }
    }

    /// `assignee_id` (ids, `me`, `none`) and `view` (which narrows it).
    fn assignee(&self, f: &mut TicketFilter, actor: &Actor, errors: &mut Vec<FieldError>) {
        if self.assignee_id.is_some() {
            let mut ids: Vec<UserId> = Vec::new();
            let mut none = false;
            for w in list_of(self.assignee_id.as_ref()) {
                match w {
                    "me" => ids.push(actor.user_id),
                    "none" => none = true,
                    w => match w.parse::<UserId>() {
                        Ok(u) => ids.push(u),
                        Err(_) => errors.push(FieldError::new(
                            "assignee_id",
                            format!("`{w}` is not a UUID, `me` or `none`"),
                        )),
                    },
                }
            }
            f.assignee = match (ids.is_empty(), none) {
                (true, true) => AssigneeFilter::Nobody,
                (true, false) => AssigneeFilter::Any,
                (false, _) => AssigneeFilter::OneOf(ids, none),
            };
        }
        match self.view.as_deref() {
            None | Some("all") => {}
            Some("mine") => f.assignee = AssigneeFilter::OneOf(vec![actor.user_id], false),
            Some("unassigned") => f.assignee = AssigneeFilter::Nobody,
            Some(v) => errors.push(FieldError::new(
                "view",
                format!("unknown value `{v}`, expected one of: mine, unassigned, all"),
            )),
        }
    }

    /// The time ranges, the SLA switches and the search text.
    fn times(&self, f: &mut TicketFilter, errors: &mut Vec<FieldError>) {
        let ranges: [(&str, &Option<String>, &mut Option<i64>); 8] = [
            (
                "created_at_after",
                &self.created_at_after,
                &mut f.created_after,
            ),
            (
                "created_at_before",
                &self.created_at_before,
                &mut f.created_before,
            ),
            (
                "updated_at_after",
                &self.updated_at_after,
                &mut f.updated_after,
            ),
            (
                "updated_at_before",
                &self.updated_at_before,
                &mut f.updated_before,
            ),
            (
                "last_message_at_after",
                &self.last_message_at_after,
                &mut f.last_message_after,
            ),
            (
                "last_message_at_before",
                &self.last_message_at_before,
                &mut f.last_message_before,
            ),
            (
                "sla_due_at_after",
                &self.sla_due_at_after,
                &mut f.sla_due_after,
            ),
            (
                "sla_due_at_before",
                &self.sla_due_at_before,
                &mut f.sla_due_before,
            ),
        ];
        for (key, v, slot) in ranges {
            if let Some(v) = v {
                match parse_instant(v) {
                    Some(t) => *slot = Some(t),
                    None => errors.push(FieldError::new(
                        key,
                        "must be an RFC 3339 timestamp, a date (YYYY-MM-DD) or Unix seconds",
                    )),
                }
            }
        }
        for (key, v, slot) in [
            ("sla_overdue", &self.sla_overdue, &mut f.sla_overdue_at),
            ("sla_at_risk", &self.sla_at_risk, &mut f.sla_at_risk_at),
        ] {
            match v.as_deref() {
                None | Some("false") => {}
                Some("true") => *slot = Some(now_micros()),
                Some(_) => errors.push(FieldError::new(key, "must be true or false")),
            }
        }
        for (key, v, slot) in [
            (
                "ai_auto_resolved",
                &self.ai_auto_resolved,
                &mut f.ai_auto_resolved,
            ),
            (
                "has_ai_summary",
                &self.has_ai_summary,
                &mut f.has_ai_summary,
            ),
        ] {
            match v.as_deref() {
                None => {}
                Some("true") => *slot = Some(true),
                Some("false") => *slot = Some(false),
                Some(_) => errors.push(FieldError::new(key, "must be true or false")),
            }
        }
        for (key, v, slot) in [
            (
                "ai_confidence_below",
                &self.ai_confidence_below,
                &mut f.ai_confidence_below,
            ),
            (
                "ai_confidence_min",
                &self.ai_confidence_min,
                &mut f.ai_confidence_min,
            ),
        ] {
            if let Some(v) = v {
                match v.trim().parse::<f64>() {
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "a fraction from 0 to 1 in thousandths"
                    )]
                    Ok(x) if (0.0..=1.0).contains(&x) => *slot = Some((x * 1000.0).round() as i64),
                    _ => errors.push(FieldError::new(key, "must be a number from 0 to 1")),
                }
            }
        }
        if let Some(q) = &self.q {
            if q.chars().count() > 200 {
                errors.push(FieldError::new("q", "must be at most 200 characters"));
            }
            let terms = dialect::search_terms(q);
            if !terms.is_empty() {
                f.q = Some(terms);
            }
        }
    }

    /// `sort`: a field with an optional `-` for descending; latest activity first by default.
    fn sort(&self, errors: &mut Vec<FieldError>) -> Sort {
        let latest = Sort {
            field: SortField::LastMessageAt,
            desc: true,
        };
        let Some(s) = self.sort.as_deref().filter(|s| !s.is_empty()) else {
            return latest;
        };
        let (desc, name) = s.strip_prefix('-').map_or((false, s), |n| (true, n));
        let field = match name {
            "created_at" => SortField::CreatedAt,
            "updated_at" => SortField::UpdatedAt,
            "last_message_at" => SortField::LastMessageAt,
            "priority" => SortField::Priority,
            "sla_due_at" => SortField::SlaDueAt,
            _ => {
                errors.push(FieldError::new("sort", "must be one of created_at, updated_at, last_message_at, priority, sla_due_at, with an optional - prefix"));
                return latest;
            }
        };
        Sort { field, desc }
    }

    /// Offset pages (`page`, `limit`) or cursor pages (`cursor`, `pagination=cursor`).
    fn page(&self, sort: Sort, errors: &mut Vec<FieldError>) -> PageSpec {
        let limit = validate::page_limit(self.limit.as_deref().or(self.per_page.as_deref()))
            .unwrap_or_else(|e| {
                errors.push(e);
                validate::DEFAULT_LIMIT
            });
        if self.cursor.is_none() && self.pagination.as_deref() != Some("cursor") {
            let page = validate::page_number(self.page.as_deref()).unwrap_or_else(|e| {
                errors.push(e);
                1
            });
            self.check_pagination(errors);
            return PageSpec::Offset { page, limit };
        }
        let after = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .and_then(|c| {
                let data = URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<CursorData>(&b).ok());
                match data {
                    Some(d) if d.s == sort_name(sort) => Some((d.k, d.i)),
                    Some(_) => {
                        errors.push(FieldError::new(
                            "cursor",
                            "the cursor belongs to another sort order",
                        ));
                        None
                    }
                    None => {
                        errors.push(FieldError::new("cursor", "is not a cursor from this API"));
                        None
                    }
                }
            });
        if self.page.is_some() {
            errors.push(FieldError::new(
                "page",
                "cannot be combined with cursor pagination",
            ));
        }
        self.check_pagination(errors);
        PageSpec::Cursor { after, limit }
    }

    fn check_pagination(&self, errors: &mut Vec<FieldError>) {
        if let Some(p) = self.pagination.as_deref()
            && p != "cursor"
            && p != "offset"
        {
            errors.push(FieldError::new("pagination", "must be cursor or offset"));
        }
    }

    /// `include=`: what to side-load.
    fn include(&self, errors: &mut Vec<FieldError>) -> Vec<String> {
        list_of(self.include.as_ref())
            .filter_map(|w| {
                if INCLUDES.contains(&w) {
                    Some(w.to_owned())
                } else {
                    errors.push(FieldError::new(
                        "include",
                        format!(
                            "unknown value `{w}`, expected one of: {}",
                            INCLUDES.join(", ")
                        ),
                    ));
                    None
                }
            })
            .collect()
    }
}
