//! The shape of an automation rule (SPEC §5 Automation): trigger, conditions, actions, and
//! how conditions are evaluated against a ticket.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::ids::{CategoryId, GroupId, UserId};
use crate::store::rules::{Pushdown, TimeColumn};
use crate::store::tickets::TicketRow;
use crate::tickets::status::{Channel, Kind, Priority, Status};
use crate::workflow::assignment::Strategy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Trigger {
    #[serde(rename = "ticket.created")]
    TicketCreated,
    #[serde(rename = "ticket.updated")]
    TicketUpdated,
    #[serde(rename = "comment.added")]
    CommentAdded,
    #[serde(rename = "sla.at_risk")]
    SlaAtRisk,
    #[serde(rename = "sla.breached")]
    SlaBreached,
    /// Evaluated by the scanner; fires once per ticket until its condition resets.
    #[serde(rename = "time")]
    Time,
}

impl Trigger {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::TicketCreated => "ticket.created",
            Trigger::TicketUpdated => "ticket.updated",
            Trigger::CommentAdded => "comment.added",
            Trigger::SlaAtRisk => "sla.at_risk",
            Trigger::SlaBreached => "sla.breached",
            Trigger::Time => "time",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Subject,
    Description,
    Priority,
    Status,
    Kind,
    Channel,
    CategoryId,
    GroupId,
    AssigneeId,
    Tags,
    RequesterEmail,
    RequesterDomain,
    HoursSinceCreated,
    HoursSinceLastAgentReply,
    HoursSinceResolved,
    CustomerRepliesSinceAgent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    Gt,
    Lt,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    /// A string, number, boolean, list or null, as the operator reads it.
    #[serde(default)]
    #[schema(value_type = Value)]
    pub value: Value,
}

/// Every condition of `all` and at least one of `any` (when `any` is not empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default)]
    pub all: Vec<Condition>,
    #[serde(default)]
    pub any: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyChannel {
    Email,
    Wecom,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Assign {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<UserId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strategy: Option<Strategy>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_id: Option<GroupId>,
    },
    SetPriority {
        value: Priority,
    },
    SetCategory {
        value: CategoryId,
    },
    SetGroup {
        value: GroupId,
    },
    SetStatus {
        value: Status,
    },
    AddTag {
        value: String,
    },
    AddWatcher {
        user_id: UserId,
    },
    ReplyWithCanned {
        canned_response_id: uuid::Uuid,
    },
    Notify {
        #[serde(default)]
        user_ids: Vec<UserId>,
        #[serde(default)]
        group_ids: Vec<GroupId>,
        #[serde(default = "email")]
        channel: NotifyChannel,
    },
    Webhook {
        url: String,
    },
}

fn email() -> NotifyChannel {
    NotifyChannel::Email
}

/// What kind of value a field holds, which decides the operators it accepts.
#[derive(Clone, Copy)]
enum FieldType {
    Text,
    Priority,
    /// A closed vocabulary: its parser (aliases allowed) and the accepted words.
    Word(fn(&str) -> Option<&'static str>, fn() -> String),
    Id,
    Tags,
    Number,
}

impl Field {
    fn kind(self) -> FieldType {
        match self {
            Field::Subject
            | Field::Description
            | Field::RequesterEmail
            | Field::RequesterDomain => FieldType::Text,
            Field::Priority => FieldType::Priority,
            Field::Status => {
                FieldType::Word(|s| Status::parse(s).map(Status::as_str), Status::expected)
            }
            Field::Kind => FieldType::Word(|s| Kind::parse(s).map(Kind::as_str), Kind::expected),
            Field::Channel => FieldType::Word(
                |s| Channel::parse(s).map(Channel::as_str),
                Channel::expected,
            ),
            Field::CategoryId | Field::GroupId | Field::AssigneeId => FieldType::Id,
            Field::Tags => FieldType::Tags,
            Field::HoursSinceCreated
            | Field::HoursSinceLastAgentReply
            | Field::HoursSinceResolved
            | Field::CustomerRepliesSinceAgent => FieldType::Number,
        }
    }

    /// Whether the field depends on the passing of time (a `time` rule needs one).
    #[must_use]
    pub fn is_time(self) -> bool {
        matches!(self.kind(), FieldType::Number)
    }
}

fn ops_for(t: FieldType) -> &'static [Op] {
    use Op::*;
    match t {
        FieldType::Text => &[
            Eq,
            Ne,
            In,
            NotIn,
            Contains,
            NotContains,
            StartsWith,
            EndsWith,
        ],
        FieldType::Priority => &[Eq, Ne, In, NotIn, Gt, Lt],
        FieldType::Word(..) | FieldType::Id => &[Eq, Ne, In, NotIn],
        FieldType::Tags => &[Contains, NotContains, In, NotIn],
        FieldType::Number => &[Eq, Ne, Gt, Lt],
    }
}

fn op_name(op: Op) -> String {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Normalises and checks a condition's value for its field and operator.
fn check_value(c: &mut Condition, path: &str) -> Result<(), FieldError> {
    let t = c.field.kind();
    if !ops_for(t).contains(&c.op) {
        return Err(FieldError::new(
            format!("{path}.op"),
            format!(
                "`{}` does not apply to this field; use one of: {}",
                op_name(c.op),
                ops_for(t)
                    .iter()
                    .map(|o| op_name(*o))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let vpath = format!("{path}.value");
    let one = |v: &Value| -> Result<Value, FieldError> {
        match (t, v) {
            (FieldType::Number, Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0) => {
                Ok(v.clone())
            }
            (FieldType::Number, _) => Err(FieldError::new(&vpath, "must be a number from 0")),
            (FieldType::Id, Value::Null) => Ok(Value::Null),
            (FieldType::Id, Value::String(s)) => s
                .parse::<uuid::Uuid>()
                .map(|u| Value::String(u.to_string()))
                .map_err(|_| FieldError::new(&vpath, "must be an id (UUID) or null")),
            (FieldType::Priority, Value::String(s)) => Priority::parse(s)
                .map(|p| Value::String(p.as_str().into()))
                .ok_or_else(|| {
                    FieldError::new(&vpath, format!("must be one of: {}", Priority::expected()))
                }),
            (FieldType::Word(parse, expected), Value::String(s)) => parse(s)
                .map(|w| Value::String(w.into()))
                .ok_or_else(|| FieldError::new(&vpath, format!("must be one of: {}", expected()))),
            (FieldType::Text | FieldType::Tags, Value::String(s))
                if !s.is_empty() && s.chars().count() <= 500 =>
            {
                Ok(Value::String(s.clone()))
            }
            _ => Err(FieldError::new(&vpath, "must be a non-empty string")),
        }
    };
    c.value = if matches!(c.op, Op::In | Op::NotIn) {
        match &c.value {
            Value::Array(items) if !items.is_empty() && items.len() <= 100 => {
                Value::Array(items.iter().map(one).collect::<Result<Vec<_>, _>>()?)
            }
            _ => {
                return Err(FieldError::new(&vpath, "must be a list of 1 to 100 values"));
            }
        }
    } else {
        one(&c.value)?
    };
    Ok(())
}

impl Conditions {
    /// Checks and normalises every condition; errors name the path (`conditions.all[0].value`).
    pub fn check(&mut self, errors: &mut Vec<FieldError>) {
        for (list, name) in [(&mut self.all, "all"), (&mut self.any, "any")] {
            if list.len() > 50 {
                errors.push(FieldError::new(
                    format!("conditions.{name}"),
                    "at most 50 conditions",
                ));
            }
            for (i, c) in list.iter_mut().enumerate() {
                if let Err(e) = check_value(c, &format!("conditions.{name}[{i}]")) {
                    errors.push(e);
                }
            }
        }
    }

    /// Whether any condition depends on the passing of time.
    #[must_use]
    pub fn has_time_condition(&self) -> bool {
        self.all.iter().chain(&self.any).any(|c| c.field.is_time())
    }

    /// Whether the ticket satisfies the conditions at `now`.
    #[must_use]
    pub fn matches(&self, t: &TicketRow, tags: &[String], now: i64) -> bool {
        self.all.iter().all(|c| c.matches(t, tags, now))
            && (self.any.is_empty() || self.any.iter().any(|c| c.matches(t, tags, now)))
    }

    /// The `all` conditions the scanner can turn into SQL to narrow its candidates.
    #[must_use]
    pub fn pushdown(&self, now: i64) -> Vec<Pushdown> {
        let hour = 3_600_000_000f64;
        self.all
            .iter()
            .filter(|c| c.op == Op::Gt)
            .filter_map(|c| {
                let n = c.value.as_f64()?;
                let before = |col| {
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "the SQL bound only narrows; Rust decides exactly"
                    )]
                    Some(Pushdown::Before(col, now - (n * hour) as i64))
                };
                match c.field {
                    Field::HoursSinceCreated => before(TimeColumn::Created),
                    Field::HoursSinceLastAgentReply => before(TimeColumn::LastAgentReply),
                    Field::HoursSinceResolved => before(TimeColumn::Resolved),
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "a reply count far below i64::MAX"
                    )]
                    Field::CustomerRepliesSinceAgent => {
                        Some(Pushdown::RepliesAbove(n.floor() as i64))
                    }
                    _ => None,
                }
            })
            .collect()
    }
}

/// A field's value on a ticket.
enum Fact {
    Text(String),
    Rank(i64),
    Id(Option<String>),
    Tags(Vec<String>),
    Number(Option<f64>),
}

fn hours(since: Option<i64>, now: i64) -> Option<f64> {
    #[expect(
        clippy::cast_precision_loss,
        reason = "microsecond counts fit an f64 exactly up to 2^53 µs (285 years)"
    )]
    since.map(|s| (now - s) as f64 / 3_600_000_000f64)
}

fn fact(f: Field, t: &TicketRow, tags: &[String], now: i64) -> Fact {
    let id = |v: Option<uuid::Uuid>| Fact::Id(v.map(|u| u.to_string()));
    match f {
        Field::Subject => Fact::Text(t.subject.to_lowercase()),
        Field::Description => Fact::Text(t.description.to_lowercase()),
        Field::RequesterEmail => Fact::Text(t.requester_email.to_lowercase()),
        Field::RequesterDomain => Fact::Text(
            t.requester_email
                .rsplit_once('@')
                .map(|(_, d)| d.to_lowercase())
                .unwrap_or_default(),
        ),
        Field::Priority => Fact::Rank(t.priority.rank()),
        Field::Status => Fact::Text(t.status.as_str().to_owned()),
        Field::Kind => Fact::Text(t.kind.as_str().to_owned()),
        Field::Channel => Fact::Text(t.channel.as_str().to_owned()),
        Field::CategoryId => id(t.category_id.map(|c| c.0)),
        Field::GroupId => id(t.group_id.map(|g| g.0)),
        Field::AssigneeId => id(t.assignee_id.map(|a| a.0)),
        Field::Tags => Fact::Tags(tags.iter().map(|s| s.to_lowercase()).collect()),
        Field::HoursSinceCreated => Fact::Number(hours(Some(t.created_at), now)),
        Field::HoursSinceLastAgentReply => Fact::Number(hours(t.last_agent_reply_at, now)),
        Field::HoursSinceResolved => Fact::Number(hours(t.resolved_at, now)),
        #[expect(
            clippy::cast_precision_loss,
            reason = "a reply count is far below 2^53"
        )]
        Field::CustomerRepliesSinceAgent => {
            Fact::Number(Some(t.customer_replies_since_agent as f64))
        }
    }
}

fn rank_of(v: &Value) -> Option<i64> {
    v.as_str().and_then(Priority::parse).map(Priority::rank)
}

impl Condition {
    #[must_use]
    pub fn matches(&self, t: &TicketRow, tags: &[String], now: i64) -> bool {
        let values: Vec<&Value> = match &self.value {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        let text = |v: &Value| v.as_str().map(str::to_lowercase).unwrap_or_default();
        match fact(self.field, t, tags, now) {
            Fact::Text(s) => {
                let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(&text(v)));
                match self.op {
                    Op::Eq | Op::In => any(&|v| s == v),
                    Op::Ne | Op::NotIn => !any(&|v| s == v),
                    Op::Contains => any(&|v| s.contains(v)),
                    Op::NotContains => !any(&|v| s.contains(v)),
                    Op::StartsWith => any(&|v| s.starts_with(v)),
                    Op::EndsWith => any(&|v| s.ends_with(v)),
                    Op::Gt | Op::Lt => false,
                }
            }
            Fact::Rank(r) => {
                let ranks: Vec<i64> = values.iter().filter_map(|v| rank_of(v)).collect();
                match self.op {
                    Op::Eq | Op::In => ranks.contains(&r),
                    Op::Ne | Op::NotIn => !ranks.contains(&r),
                    Op::Gt => ranks.first().is_some_and(|x| r > *x),
                    Op::Lt => ranks.first().is_some_and(|x| r < *x),
                    _ => false,
                }
            }
            Fact::Id(id) => {
                let hit = values
                    .iter()
                    .any(|v| v.as_str().map(str::to_owned) == id.clone());
                match self.op {
                    Op::Eq | Op::In => hit,
                    Op::Ne | Op::NotIn => !hit,
                    _ => false,
                }
            }
            Fact::Tags(have) => {
                let hit = values.iter().any(|v| have.contains(&text(v)));
                match self.op {
                    Op::Contains | Op::In => hit,
                    Op::NotContains | Op::NotIn => !hit,
                    _ => false,
                }
            }
            Fact::Number(n) => {
                let Some(n) = n else {
                    // A clock that never started (no agent reply yet, never resolved).
                    return false;
                };
                let Some(x) = self.value.as_f64() else {
                    return false;
                };
                match self.op {
                    Op::Gt => n > x,
                    Op::Lt => n < x,
                    Op::Eq => (n - x).abs() < f64::EPSILON,
                    Op::Ne => (n - x).abs() >= f64::EPSILON,
                    _ => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Conditions, Pushdown, TimeColumn};
    use crate::ids::{CustomerId, WorkspaceId};
    use crate::store::customers::CustomerRow;
    use crate::store::tickets::TicketRow;

    const HOUR: i64 = 3_600_000_000;

    fn ticket(now: i64) -> TicketRow {
        let c = CustomerRow {
            id: CustomerId::new(),
            workspace_id: WorkspaceId::new(),
            email: "Ann@Shop.Example".into(),
            name: "Ann".into(),
            phone: None,
            company: None,
            notes: String::new(),
            version: 1,
            created_at: now,
            updated_at: now,
            erased_at: None,
        };
        let mut t = crate::tickets::service::new_row(
            &c,
            1001,
            "#1001".into(),
            "Refund for order 42".into(),
            "It broke".into(),
            now - 50 * HOUR,
        );
        t.priority = crate::tickets::status::Priority::High;
        t
    }

    fn conditions(v: serde_json::Value) -> Conditions {
        let mut c: Conditions = serde_json::from_value(v).expect("conditions parse");
        let mut errors = Vec::new();
        c.check(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        c
    }

    fn holds(v: serde_json::Value, t: &TicketRow, tags: &[&str], now: i64) -> bool {
        let tags: Vec<String> = tags.iter().map(|s| (*s).to_owned()).collect();
        conditions(json!({ "all": [v] })).matches(t, &tags, now)
    }

    #[test]
    fn time_fields_need_their_clock_to_have_started() {
        let now = 1_000_000 * HOUR;
        let mut t = ticket(now);
        let since_reply = |op: &str, n: f64| json!({"field": "hours_since_last_agent_reply", "op": op, "value": n});
        assert!(
            !holds(since_reply("gt", 0.0), &t, &[], now),
            "never replied"
        );
        assert!(!holds(since_reply("lt", 100.0), &t, &[], now));
        t.last_agent_reply_at = Some(now - 3 * HOUR);
        assert!(holds(since_reply("gt", 2.5), &t, &[], now));
        assert!(!holds(since_reply("gt", 3.5), &t, &[], now));
        assert!(holds(since_reply("lt", 3.5), &t, &[], now));
        assert!(holds(
            json!({"field": "hours_since_created", "op": "gt", "value": 48}),
            &t,
            &[],
            now
        ));
        assert!(!holds(
            json!({"field": "hours_since_resolved", "op": "gt", "value": 0}),
            &t,
            &[],
            now
        ));
        t.customer_replies_since_agent = 2;
        assert!(holds(
            json!({"field": "customer_replies_since_agent", "op": "gt", "value": 1}),
            &t,
            &[],
            now
        ));
        assert!(!holds(
            json!({"field": "customer_replies_since_agent", "op": "gt", "value": 2}),
            &t,
            &[],
            now
        ));
    }

    #[test]
    fn text_priority_and_tag_operators() {
        let now = 1_000_000 * HOUR;
        let t = ticket(now);
        let c = |f: &str, op: &str, v: serde_json::Value| json!({"field": f, "op": op, "value": v});
        assert!(holds(
            c("subject", "contains", json!("REFUND")),
            &t,
            &[],
            now
        ));
        assert!(holds(
            c("subject", "starts_with", json!("refund for")),
            &t,
            &[],
            now
        ));
        assert!(holds(c("subject", "ends_with", json!("42")), &t, &[], now));
        assert!(!holds(
            c("subject", "not_contains", json!("refund")),
            &t,
            &[],
            now
        ));
        assert!(holds(
            c("requester_domain", "eq", json!("shop.example")),
            &t,
            &[],
            now
        ));
        assert!(holds(
            c(
                "requester_email",
                "in",
                json!(["x@y.z", "ann@shop.example"])
            ),
            &t,
            &[],
            now
        ));
        assert!(
            holds(c("priority", "gt", json!("normal")), &t, &[], now),
            "aliases compare by rank"
        );
        assert!(!holds(c("priority", "lt", json!("high")), &t, &[], now));
        assert!(holds(c("status", "eq", json!("new")), &t, &[], now));
        assert!(
            holds(c("assignee_id", "eq", json!(null)), &t, &[], now),
            "unassigned"
        );
        assert!(holds(
            c("tags", "contains", json!("VIP")),
            &t,
            &["vip"],
            now
        ));
        assert!(holds(
            c("tags", "not_contains", json!("vip")),
            &t,
            &["other"],
            now
        ));
        assert!(holds(
            c("tags", "in", json!(["a", "vip"])),
            &t,
            &["vip"],
            now
        ));
        // `any` needs one; `all` needs every one.
        let mixed = conditions(json!({
            "all": [c("channel", "eq", json!("api"))],
            "any": [c("kind", "eq", json!("billing")), c("subject", "contains", json!("order"))]
        }));
        assert!(mixed.matches(&t, &[], now));
        let none = conditions(json!({"any": [c("kind", "eq", json!("billing"))]}));
        assert!(!none.matches(&t, &[], now));
    }

    #[test]
    fn time_conditions_narrow_the_scanner_in_sql() {
        let now = 1_000_000 * HOUR;
        let c = conditions(json!({"all": [
            {"field": "hours_since_created", "op": "gt", "value": 72},
            {"field": "hours_since_resolved", "op": "lt", "value": 5},
            {"field": "customer_replies_since_agent", "op": "gt", "value": 2}
        ]}));
        let p = c.pushdown(now);
        assert_eq!(p.len(), 2, "only `gt` bounds can be pushed down");
        assert!(matches!(p[0], Pushdown::Before(TimeColumn::Created, at) if at == now - 72 * HOUR));
        assert!(matches!(p[1], Pushdown::RepliesAbove(2)));
    }
}
