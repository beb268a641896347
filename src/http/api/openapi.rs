//! Makes the generated OpenAPI document say what the server does in the places utoipa's
//! annotations cannot, once for every route: error answers are problem+json and each
//! operation lists the ones it can give; paging parameters carry their real bounds; the
//! `If-Match` and `Idempotency-Key` headers their real forms. schemathesis (`--checks all`)
//! checks the result against the running server (docs/api.md).

use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
const PROBLEM: &str = "application/problem+json";

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// The IANA names the server accepts (those of its time-zone database).
fn time_zones() -> Vec<String> {
    let mut zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|z| z.as_str().to_owned())
        .collect();
    zones.sort();
    zones
}

/// A ticket alone, or with `?include=` the ticket and the records it names.
fn ticket_with_includes() -> Value {
    let list = |component: &str| json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{component}")}});
    json!({"anyOf": [
        {"$ref": "#/components/schemas/TicketView"},
        {"type": "object", "required": ["ticket"], "properties": {
            "ticket": {"$ref": "#/components/schemas/TicketView"},
            "customers": list("CustomerView"),
            "users": list("UserView"),
            "categories": list("CategoryView"),
            "groups": {"type": "array", "items": {"type": "object",
                "required": ["id", "name", "description"],
                "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "description": {"type": "string"}}}}
        }}
    ]})
}

/// Business hours (`sla::calendar::CalendarSpec`, read as free JSON by its handler).
fn business_hours_schema() -> Value {
    let interval = json!({
        "type": "object",
        "required": ["start", "end"],
        "additionalProperties": false,
        "properties": {
            "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
            "end": {"type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"}
        }
    });
    let day = json!({"oneOf": [{"type": "null"}, interval, {"type": "array", "items": interval}]});
    let days: serde_json::Map<String, Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|d| ((*d).to_owned(), day.clone()))
    .collect();
    json!({
        "type": "object",
        "required": ["timezone"],
        "additionalProperties": false,
        "properties": {
            "timezone": {"type": "string", "enum": time_zones()},
            "schedule": {"type": "object", "additionalProperties": false, "properties": days},
            "holidays": {"type": "array", "items": {"type": "string", "format": "date"}}
        }
    })
}

/// Rewrites `doc` (the document utoipa generated) in place.
pub fn conform(doc: &mut Value) {
    let shared = body_components(doc);
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            if shared.contains(name) {
                bound_body_schema(schema);
            }
        }
        // Where one component differs from the rule for its field name.
        let mut set = |pointer: &str, value: Value| {
            if let Some(slot) = schemas_pointer(schemas, pointer) {
                *slot = value;
            }
        };
        // A new customer without a name is named from the address.
        set("NewCustomer/properties/name/pattern", json!(NO_NUL));
        // Webhook signing secrets: 16 to 200 characters (a Thulium secret may be shorter).
        set(
            "WebhookInput/properties/secret",
            json!({"type": ["string", "null"], "minLength": 16, "maxLength": 200, "pattern": NO_NUL}),
        );
        // Only a resolved or closed ticket can be marked as resolved by AI.
        if let Some(change) = schemas
            .get_mut("StatusChange")
            .and_then(Value::as_object_mut)
        {
            change.insert(
                "if".into(),
                json!({"properties": {"ai_auto_resolved": {"const": true}}, "required": ["ai_auto_resolved"]}),
            );
            change.insert(
                "then".into(),
                json!({"properties": {"status": {"enum": ["resolved", "closed"]}}}),
            );
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            if path == "/api/tickets/{id}"
                && method == "get"
                && let Some(schema) = op
                    .get_mut("responses")
                    .and_then(|r| r.pointer_mut("/200/content/application~1json/schema"))
            {
                *schema = ticket_with_includes();
            }
            if path == "/api/attachments"
                && let Some(schema) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.pointer_mut("/content/multipart~1form-data/schema"))
            {
                *schema = json!({
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": false,
                    "properties": {"file": {"type": "string", "format": "binary",
                        "description": "the file's bytes; its type is sniffed from them"}}
                });
            }
            if path == "/api/settings/business-hours"
                && let Some(c) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.pointer_mut("/content/application~1json"))
            {
                c["schema"] = business_hours_schema();
            }
            // A draft request's every field has a default: the body may be left out.
            if path == "/api/tickets/{id}/draft-response"
                && let Some(b) = op.get_mut("requestBody")
            {
                b["required"] = json!(false);
            }
            let has_body = op.contains_key("requestBody");
            let conditional = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "If-Match"));
            if let Some(content) = op
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(Value::as_object_mut)
            {
                // The inbound mail route takes the raw message as text/plain too.
                if let Some(raw) = content.get("message/rfc822").cloned() {
                    content.entry("text/plain").or_insert(raw);
                }
                for c in content.values_mut() {
                    if let Some(schema) = c.get_mut("schema") {
                        bound_body_schema(schema);
                    }
                }
            }
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                params.iter_mut().for_each(|p| bound_parameter(path, p));
            }
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("responses is an object");
            // utoipa writes every body as application/json; errors are problem documents.
            for response in responses.values_mut() {
                if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
                    && content.get("application/json").is_some_and(|c| {
                        c.pointer("/schema/$ref")
                            .and_then(Value::as_str)
                            .is_some_and(|r| r.ends_with("/Problem"))
                    })
                    && let Some(c) = content.remove("application/json")
                {
                    content.insert(PROBLEM.into(), c);
                }
            }
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| problem_response(description));
            };
            add(
                "400",
                "the request cannot be read: malformed query, JSON or header",
            );
            add(
                "422",
                "invalid fields or unknown query parameters (`errors` lists them)",
            );
            add(
                "429",
                "over the rate limit; `Retry-After` says when to come back",
            );
            add("408", "the request body did not arrive in time");
            add(
                "503",
                "the database did not answer, or undid this write whole as it met another \
                 one at the same moment; `Retry-After` says when to send it again",
            );
            if secured {
                add("401", "no, wrong, expired or revoked credentials");
                add("403", "the role may not do this");
            }
            // A path, query or body may name a record or workspace that does not exist.
            add("404", "no such record (or one of another workspace)");
            if has_body {
                add("413", "the body is larger than allowed");
                add("415", "the body is not of the documented type");
            }
            if conditional {
                add(
                    "412",
                    "`If-Match` names an older version than the current one",
                );
            }
            if method != "get" {
                add("409", "the change conflicts with the record's state");
            }
        }
    }
}

const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
/// No string the server stores may hold a NUL (PostgreSQL cannot).
const NO_NUL: &str = "^[^\\x00]*$";

/// `a,b,c` lists of the given words (items are trimmed; empty ones are skipped).
fn list_of(words: &[&str]) -> String {
    let alt = words.join("|");
    format!("^\\s*({alt})?\\s*(,\\s*({alt})?\\s*)*$")
}

/// Names of fields and parameters that hold one record id (a UUID).
fn is_id(name: &str) -> bool {
    matches!(
        name,
        "category_id"
            | "group_id"
            | "requester_id"
            | "workspace_id"
            | "ticket_id"
            | "customer_id"
            | "sla_policy_id"
            | "canned_response_id"
            | "follow_up_of_id"
            | "parent_id"
    )
}

/// The real forms of the shared query and header parameters.
fn bound_parameter(path: &str, p: &mut Value) {
    use crate::tickets::status::{Channel, Kind, Priority, Status};
    let name = p
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let place = p
        .get("in")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut) else {
        return;
    };
    let mut set = |k: &str, v: Value| {
        schema.insert(k.into(), v);
    };
    match (place.as_str(), name.as_str()) {
        ("query", "page") => {
            set("type", json!("integer"));
            set("minimum", json!(1));
            set("maximum", json!(crate::validate::MAX_PAGE));
        }
        ("query", "limit") => {
            let max = schema.get("maximum").and_then(Value::as_u64).unwrap_or(100);
            schema.insert("type".into(), json!("integer"));
            schema.insert("minimum".into(), json!(1));
            schema.insert("maximum".into(), json!(max));
        }
        ("query", "status") if path == "/api/admin/jobs" => {
            set("enum", json!(["pending", "running", "done", "failed"]));
        }
        ("query", "status") if path == "/api/kb/articles" => {
            set(
                "enum",
                json!(crate::tickets::status::ArticleStatus::ACCEPTED),
            );
        }
        ("query", "from" | "to") if path == "/api/ai/usage" => set("format", json!("date")),
        // Analytics: an RFC 3339 instant or a date; an IANA zone; the route's own words.
        ("query", "from" | "to") if path.starts_with("/api/tickets/analytics/") => {
            schema.remove("type");
            schema.insert(
                "anyOf".into(),
                json!([
                    {"type": "string", "format": "date-time"},
                    {"type": "string", "format": "date"}
                ]),
            );
        }
        ("query", "tz") => set("enum", json!(time_zones())),
        ("query", "interval") => set("enum", json!(["hour", "day", "week", "month"])),
        ("query", "by") => set("enum", json!(crate::analytics::figures::DISTRIBUTIONS)),
        ("query", "format") => set("enum", json!(["csv", "json"])),
        ("query", "tag") if path == "/api/kb/articles" => set("pattern", json!(TAG)),
        ("query", "cursor") if path == "/api/incremental/tickets" => {
            set("pattern", json!("^[A-Za-z0-9_-]+$"));
        }
        ("query", "q") if path == "/api/public/kb/search" => {
            set("pattern", json!(NOT_BLANK));
            set("maxLength", json!(500));
        }
        ("query", "status") => set("pattern", json!(list_of(Status::ACCEPTED))),
        ("query", "priority") => set("pattern", json!(list_of(Priority::ACCEPTED))),
        ("query", "kind") => set("pattern", json!(list_of(Kind::ACCEPTED))),
        ("query", "channel") => {
            set("pattern", json!(list_of(Channel::ACCEPTED)));
        }
        ("query", "assignee_id") => {
            set("pattern", json!(list_of(&["me", "none", UUID])));
        }
        ("query", "view") => set("enum", json!(["mine", "unassigned", "all"])),
        ("query", "pagination") => set("enum", json!(["cursor", "offset"])),
        ("query", "sort") => set(
            "pattern",
            json!("^(-?(created_at|updated_at|last_message_at|priority|sla_due_at))?$"),
        ),
        ("query", "include") => set(
            "pattern",
            json!(list_of(&["requester", "assignee", "category", "group"])),
        ),
        // An RFC 3339 timestamp, a date, or Unix seconds.
        ("query", n) if n.ends_with("_after") || n.ends_with("_before") => {
            schema.remove("type");
            schema.insert(
                "anyOf".into(),
                json!([
                    {"type": "string", "format": "date-time"},
                    {"type": "string", "format": "date"},
                    {"type": "string", "pattern": "^[0-9]{1,11}$"}
                ]),
            );
        }
        ("query", "email") => set("pattern", json!(EMAIL)),
        // The ticket list takes comma lists of ids (empty items skipped).
        ("query", n)
            if is_id(n)
                && (path == "/api/tickets" || path.starts_with("/api/tickets/analytics/")) =>
        {
            set("pattern", json!(list_of(&[UUID])))
        }
        ("query", n) if is_id(n) => set("format", json!("uuid")),
        ("header", "If-Match") => {
            // `"3"` (an ETag from a GET), `W/"3"`, `3`, `*` or nothing (no precondition).
            set("type", json!("string"));
            set("pattern", json!(r#"^\s*(\*|(W/)?"*[0-9]{1,15}"*)?\s*$"#));
        }
        ("header", "Idempotency-Key") => {
            set("type", json!("string"));
            set("pattern", json!("^[!-~]{1,255}$"));
        }
        ("query", _) if schema.get("type") == Some(&json!("string")) => {
            schema.entry("pattern").or_insert(json!(NO_NUL));
        }
        _ => {}
    }
}

/// Text that must hold something besides spaces (and no NUL).
const NOT_BLANK: &str = "^[^\\x00]*[^\\s\\x00][^\\x00]*$";
/// Fields that may be left out of a change but never set blank.
const NAMED: [&str; 6] = ["name", "title", "subject", "body", "content", "admin_name"];
/// What `validate::email` accepts.
const EMAIL: &str = "^[^\\s<>\",;@\\x00-\\x1f\\x7f-\\x9f]+@[^\\s<>\",;@.\\x00-\\x1f\\x7f-\\x9f][^\\s<>\",;@\\x00-\\x1f\\x7f-\\x9f]*\\.[^\\s<>\",;@.\\x00-\\x1f\\x7f-\\x9f]+$";
/// A TCP port, 0 to 65535.
const PORT: &str =
    "([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";
/// What `validate::tag` accepts (ASCII here; the server also takes other letters).
/// Letters and digits of any script and `_ : . -`; the pattern spells the ASCII ones exactly
/// and lets every other character through (the server refuses non-ASCII characters that are
/// not letters or digits with a 422, which `schemathesis.toml` expects).
const TAG: &str = "^(?:[A-Za-z0-9_:.-]|[^\\x00-\\x7F]){1,64}$";

/// The rules the services check for request fields of these names, as JSON Schema.
fn field_rule(name: &str) -> Option<Value> {
    let email = || json!({"type": "string", "pattern": EMAIL, "maxLength": 254});
    Some(match name {
        "email" | "requester_email" | "admin_email" | "customer_email" => email(),
        // Empty clears the address.
        "support_address" | "support_email" => {
            json!({"type": ["string", "null"], "pattern": format!("^$|{EMAIL}"), "maxLength": 254})
        }
        "ticket_number_format" => json!({"type": ["string", "null"], "maxLength": 64,
            "pattern": "^[^{}\\x00-\\x1f\\x7f-\\x9f]*\\{n\\}[^{}\\x00-\\x1f\\x7f-\\x9f]*$"}),
        "password" | "admin_password" => {
            json!({"type": "string", "minLength": 8, "maxLength": 256, "pattern": NO_NUL})
        }
        "color" => {
            json!({"type": ["string", "null"], "pattern": "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"})
        }
        "shortcut" => json!({"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]{1,50}$"}),
        "rating" => json!({"type": "integer", "minimum": 1, "maximum": 5}),
        "first_response_hours" | "resolution_hours" => {
            json!({"type": "number", "exclusiveMinimum": 0, "maximum": 8760})
        }
        "at_risk_percent" => json!({"type": ["integer", "null"], "minimum": 1, "maximum": 99}),
        "created_at" => json!({"type": ["string", "null"], "format": "date-time"}),
        "ticket_number_start" => {
            json!({"type": ["integer", "null"], "minimum": 1, "maximum": 1_000_000_000})
        }
        "imap_folder" => {
            json!({"type": ["string", "null"], "minLength": 1, "maxLength": 200, "pattern": NO_NUL})
        }
        "poll_seconds" => json!({"type": ["integer", "null"], "minimum": 10, "maximum": 86_400}),
        "imap_url" => json!({"type": ["string", "null"], "pattern": format!(
            "^imaps?://([A-Za-z0-9._~%!$&'()*+,;=-]+(:[A-Za-z0-9._~%!$&'()*+,;=-]*)?@)?[A-Za-z0-9.-]+(:{PORT})?/?$"
        )}),
        "url" => json!({"type": "string", "maxLength": 2000,
            "pattern": "^https?://([A-Za-z0-9-]+\\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?(/[!-~]*)?$"}),
        "events" => {
            let names: Vec<&str> = crate::tickets::events::DomainEvent::catalog()
                .filter(|e| e.subscribable())
                .map(crate::tickets::events::DomainEvent::name)
                .collect();
            json!({"type": "array", "minItems": 1, "items": {"type": "string", "enum": names}})
        }
        "add_tag" => json!({"type": ["string", "null"], "pattern": TAG}),
        "tags" => {
            json!({"type": ["array", "null"], "maxItems": 50, "items": {"type": "string", "pattern": TAG}})
        }
        "actions" => json!({"minItems": 1, "maxItems": 20}),
        "source_ticket_ids" => {
            json!({"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "string", "pattern": NOT_BLANK}})
        }
        "assignee_id" | "user_id" => {
            json!({"type": ["string", "null"], "pattern": format!("^(me|{UUID})$")})
        }
        "role" => json!({"type": "string", "enum": ["user", "customer", "bot", "assistant", "ai"]}),
        "position" => json!({"type": ["integer", "null"], "minimum": 0, "maximum": 1_000_000}),
        "priority_overrides" => {
            json!({"propertyNames": {"enum": ["low", "medium", "high", "urgent"]}})
        }
        _ => return None,
    })
}

/// Request bodies: ids are UUIDs, required text is not empty, no text holds a NUL.
fn bound_body_schema(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let required: Vec<String> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            let Some(p) = prop.as_object_mut() else {
                continue;
            };
            let is_string = match p.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            let typed_elsewhere = p.contains_key("$ref") || p.contains_key("oneOf");
            if let Some(rule) = field_rule(name).filter(|_| !typed_elsewhere) {
                for (k, v) in rule.as_object().into_iter().flatten() {
                    // The field's own type says whether it may be null.
                    if k != "type" || !p.contains_key("type") {
                        p.insert(k.clone(), v.clone());
                    }
                }
            } else if is_string && !p.contains_key("enum") && !p.contains_key("format") {
                if name == "timezone" {
                    // An enum holds for every type: a field that may be null lists null too.
                    let mut zones: Vec<Value> = time_zones().into_iter().map(Value::from).collect();
                    if matches!(p.get("type"), Some(Value::Array(ts)) if ts.iter().any(|t| t == "null"))
                    {
                        zones.push(Value::Null);
                    }
                    p.insert("enum".into(), Value::Array(zones));
                } else if is_id(name) {
                    p.insert("format".into(), json!("uuid"));
                } else if required.contains(name) || NAMED.contains(&name.as_str()) {
                    // Trimmed before it is checked: blank is empty.
                    p.entry("pattern").or_insert(json!(NOT_BLANK));
                } else {
                    p.entry("pattern").or_insert(json!(NO_NUL));
                }
            }
            bound_body_schema(prop);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = obj.get_mut(key) {
            bound_body_schema(inner);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = obj.get_mut(key).and_then(Value::as_array_mut) {
            list.iter_mut().for_each(bound_body_schema);
        }
    }
}

/// A place inside the component schemas (`Name/properties/field`).
fn schemas_pointer<'a>(
    schemas: &'a mut serde_json::Map<String, Value>,
    pointer: &str,
) -> Option<&'a mut Value> {
    let (name, rest) = pointer.split_once('/')?;
    schemas.get_mut(name)?.pointer_mut(&format!("/{rest}"))
}

/// The component schemas request bodies use (directly or nested).
fn body_components(doc: &Value) -> std::collections::BTreeSet<String> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str)
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                {
                    out.push(name.to_owned());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            for method in METHODS {
                if let Some(body) = item.get(method).and_then(|op| op.get("requestBody")) {
                    refs(body, &mut todo);
                }
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone())
            && let Some(s) = doc.pointer(&format!("/components/schemas/{name}"))
        {
            refs(s, &mut todo);
        }
    }
    seen
}
