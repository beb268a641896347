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
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
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
            if path == "/api/settings/business-hours"
                && let Some(c) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.pointer_mut("/content/application~1json"))
            {
                c["schema"] = business_hours_schema();
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
            add("400", "the request cannot be read: malformed query, JSON or header");
            add("422", "invalid fields or unknown query parameters (`errors` lists them)");
            add("429", "over the rate limit; `Retry-After` says when to come back");
            add("408", "the request body did not arrive in time");
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
                add("412", "`If-Match` names an older version than the current one");
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

/// `a,b,c` lists of the given words.
fn list_of(words: &[&str]) -> String {
    let alt = words.join("|");
    format!("^({alt})(,({alt}))*$")
}

fn words<T: Copy>(all: &[T], word: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|x| word(*x)).collect()
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
    let name = p.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let place = p.get("in").and_then(Value::as_str).unwrap_or_default().to_owned();
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
        ("query", "status") => set("pattern", json!(list_of(&words(Status::ALL, Status::as_str)))),
        ("query", "priority") => {
            set("pattern", json!(list_of(&words(Priority::ALL, Priority::as_str))));
        }
        ("query", "kind") => set("pattern", json!(list_of(&words(Kind::ALL, Kind::as_str)))),
        ("query", "channel") => {
            set("pattern", json!(list_of(&words(Channel::ALL, Channel::as_str))));
        }
        ("query", "assignee_id") => {
            set("pattern", json!(list_of(&["me", "none", UUID])));
        }
        ("query", "view") => set("enum", json!(["mine", "unassigned", "all"])),
        ("query", "pagination") => set("enum", json!(["cursor", "offset"])),
        ("query", "sort") => set(
            "pattern",
            json!("^-?(created_at|updated_at|last_message_at|priority|sla_due_at)$"),
        ),
        ("query", "include") => set(
            "pattern",
            json!(list_of(&["requester", "assignee", "category", "group"])),
        ),
        ("query", n) if n.ends_with("_after") || n.ends_with("_before") => {
            set("format", json!("date-time"));
        }
        ("query", "email" | "requester_email") => set("format", json!("email")),
        ("query", n) if is_id(n) => set("format", json!("uuid")),
        ("header", "If-Match") => {
            set("type", json!("string"));
            set("pattern", json!(r#"^(\*|(W/)?"[0-9]{1,15}")$"#));
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

/// Request bodies: ids are UUIDs, required text is not empty, no text holds a NUL.
fn bound_body_schema(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let required: Vec<String> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            let Some(p) = prop.as_object_mut() else { continue };
            let is_string = match p.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_string && !p.contains_key("enum") && !p.contains_key("format") {
                if name == "timezone" {
                    p.insert("enum".into(), json!(time_zones()));
                } else if is_id(name) {
                    p.insert("format".into(), json!("uuid"));
                } else {
                    p.entry("pattern").or_insert(json!(NO_NUL));
                    if required.contains(name) {
                        p.entry("minLength").or_insert(json!(1));
                    }
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
