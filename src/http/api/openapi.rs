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

/// Rewrites `doc` (the document utoipa generated) in place.
pub fn conform(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let has_path_params = path.contains('{');
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let has_body = op.contains_key("requestBody");
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                params.iter_mut().for_each(bound_parameter);
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
            if has_path_params {
                add("404", "no such record (or one of another workspace)");
            }
            if has_body {
                add("413", "the body is larger than allowed");
                add("415", "the body is not of the documented type");
            }
            if method != "get" {
                add("409", "the change conflicts with the record's state");
            }
        }
    }
}

/// The real bounds of the shared query and header parameters.
fn bound_parameter(p: &mut Value) {
    let name = p.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let place = p.get("in").and_then(Value::as_str).unwrap_or_default().to_owned();
    let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut) else {
        return;
    };
    match (place.as_str(), name.as_str()) {
        ("query", "page") => {
            schema.insert("type".into(), json!("integer"));
            schema.insert("minimum".into(), json!(1));
            schema.insert("maximum".into(), json!(crate::validate::MAX_PAGE));
        }
        ("query", "limit") => {
            schema.insert("type".into(), json!("integer"));
            schema.insert("minimum".into(), json!(1));
            let max = schema
                .get("maximum")
                .and_then(Value::as_u64)
                .unwrap_or(100);
            schema.insert("maximum".into(), json!(max));
        }
        ("header", "If-Match") => {
            schema.insert("type".into(), json!("string"));
            schema.insert("pattern".into(), json!(r#"^(\*|(W/)?"[0-9]{1,15}")$"#));
        }
        ("header", "Idempotency-Key") => {
            schema.insert("type".into(), json!("string"));
            schema.insert("pattern".into(), json!("^[!-~]{1,255}$"));
        }
        _ => {}
    }
}
