//! Validated input newtypes: parse once at the edge, trust afterwards.

use crate::error::FieldError;

/// Trims and bounds a required text field.
pub fn required_text(field: &str, s: &str, max_chars: usize) -> Result<String, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    bounded(field, t, max_chars)
}

/// Bounds an optional text field (kept as given, trimmed).
pub fn bounded(field: &str, s: &str, max_chars: usize) -> Result<String, FieldError> {
    if s.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if s.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(s.trim().to_owned())
}

/// A lowercased email address with a plausible shape (`local@domain.tld`, ≤ 254 chars).
pub fn email(field: &str, s: &str) -> Result<String, FieldError> {
    let e = s.trim().to_lowercase();
    let bad = || FieldError::new(field, "must be an email address like name@example.com");
    if e.len() > 254
        || e.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        })
    {
        return Err(bad());
    }
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(e)
}

/// A tag: 1–64 characters of letters, digits, `-`, `_`, `:` or `.`, lowercased.
pub fn tag(s: &str) -> Result<String, FieldError> {
    let t = s.trim().to_lowercase();
    if t.is_empty()
        || t.chars().count() > 64
        || !t
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
    {
        return Err(FieldError::new(
            "tags",
            format!(
                "`{}` is not a valid tag: use 1-64 letters, digits, - _ : .",
                s.chars().take(70).collect::<String>()
            ),
        ));
    }
    Ok(t)
}

/// Tags, deduplicated and sorted, at most 50.
pub fn tags(list: &[String]) -> Result<Vec<String>, FieldError> {
    if list.len() > 50 {
        return Err(FieldError::new("tags", "at most 50 tags"));
    }
    let mut out = list.iter().map(|t| tag(t)).collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// For `#[serde(deserialize_with)]` on an optional section: an object or null. serde reads a
/// struct from an array too (fields in order), which the document does not promise. The
/// refusal comes from the deserializer itself, so the error names the field.
pub fn object_or_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct ObjectOrNull<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectOrNull<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object or null")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(ObjectOrNull(std::marker::PhantomData))
}

/// Parses JSON, telling syntax errors (400) from shape errors (422 naming the field).
/// Anything after the value is a syntax error, and a string holding a NUL character is a 422
/// naming its place: PostgreSQL cannot store one, and no field of ours means one.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, crate::error::Error> {
    if let Some(field) = nul_in_json(bytes) {
        return Err(crate::error::Error::Validation(vec![FieldError::new(
            field,
            "must not contain NUL characters",
        )]));
    }
    match parse_json_exact(bytes) {
        // JSON does not tell `4` from `4.0`: a whole number written as a float is read as an
        // integer where one is wanted (rarely needed, so only tried after a type error).
        Err(crate::error::Error::Validation(errors))
            if errors
                .iter()
                .any(|e| e.message.starts_with("invalid type: floating point")) =>
        {
            let mut v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
                crate::error::Error::bad_request(format!("the body is not valid JSON: {e}"))
            })?;
            whole_floats_as_integers(&mut v);
            let again = serde_json::to_vec(&v).map_err(anyhow::Error::from)?;
            parse_json_exact(&again)
        }
        other => other,
    }
}

fn whole_floats_as_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                #[expect(clippy::cast_possible_truncation, reason = "whole and within i64")]
                let i = f as i64;
                *v = serde_json::Value::from(i);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(whole_floats_as_integers),
        serde_json::Value::Object(o) => o.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

fn parse_json_exact<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, crate::error::Error> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                // serde's message names the field for missing/unknown fields; strip position info.
                let msg = inner.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
                let field = match (field.as_str(), msg.strip_prefix("missing field `")) {
                    ("body", Some(rest)) => rest.split('`').next().unwrap_or("body").to_owned(),
                    _ => field,
                };
                crate::error::Error::Validation(vec![crate::error::FieldError::new(field, msg)])
            }
            _ => crate::error::Error::bad_request(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    de.end().map_err(|e| {
        crate::error::Error::bad_request(format!("the body is not valid JSON: {e}"))
    })?;
    Ok(value)
}

/// The place (`conversation_id`, `history[2].content`) of the first string or key holding a
/// NUL character. JSON can only carry one as the escape `\u0000`, so bodies without that text
/// are not walked.
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    fn walk(v: &serde_json::Value, at: &str) -> Option<String> {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => Some(at.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &format!("{at}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let place = if at == "body" {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if k.contains('\0') {
                    Some(place)
                } else {
                    walk(x, &place)
                }
            }),
            _ => None,
        }
    }
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    walk(&value, "body")
}

/// A message's body from another system (chat, Thulium): not blank, at most 64 KiB.
pub fn message_body(field: String, body: &str) -> Result<(), FieldError> {
    if body.trim().is_empty() || body.len() > 64 * 1024 {
        return Err(FieldError::new(field, "must be 1 byte to 64 KiB"));
    }
    Ok(())
}

/// Page size when a list's `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 20;

/// A list's `limit`: a whole number from 1 to 100; [`DEFAULT_LIMIT`] when absent.
pub fn page_limit(v: Option<&str>) -> Result<u64, FieldError> {
    match v.map(str::parse::<u64>) {
        None => Ok(DEFAULT_LIMIT),
        Some(Ok(n)) if (1..=100).contains(&n) => Ok(n),
        Some(_) => Err(FieldError::new(
            "limit",
            "must be a whole number from 1 to 100",
        )),
    }
}

/// The last page number a list accepts: with at most 100 rows a page that is ten million
/// rows deep, and `(page - 1) × limit` always fits the database's offset.
pub const MAX_PAGE: u64 = 100_000;

/// A list's `page`: a whole number from 1 to [`MAX_PAGE`]; 1 when absent.
pub fn page_number(v: Option<&str>) -> Result<u64, FieldError> {
    match v.map(str::parse::<u64>) {
        None => Ok(1),
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(FieldError::new(
            "page",
            format!("must be a whole number from 1 to {MAX_PAGE}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_refuse_nul_characters_and_trailing_bytes() {
        #[derive(Debug, serde::Deserialize)]
        struct B {
            #[expect(dead_code, reason = "only parsed")]
            a: String,
        }
        let nul = parse_json::<B>(br#"{"a": "x\u0000y"}"#).expect_err("nul");
        assert!(
            matches!(&nul, crate::error::Error::Validation(v) if v[0].field == "a"),
            "{nul:?}"
        );
        let trailing = parse_json::<B>(br#"{"a": "x"} xx"#).expect_err("trailing");
        assert!(
            matches!(trailing, crate::error::Error::Client(..)),
            "{trailing:?}"
        );
        // The text of an escape is not a NUL, and neither is a backslash before it.
        assert!(parse_json::<B>(br#"{"a": "\\u0000"}"#).is_ok());
        assert!(parse_json::<B>(br#"{"a": "fine"}  "#).is_ok());
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            email("e", " Jane@Example.COM ").expect("valid"),
            "jane@example.com"
        );
        for bad in [
            "",
            "jane",
            "@x.io",
            "jane@",
            "jane@localhost",
            "a b@x.io",
            "a@b@x.io",
            "<a@x.io>",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(required_text("s", "  hi ", 5).expect("ok"), "hi");
        assert!(required_text("s", "   ", 5).is_err());
        assert!(required_text("s", "123456", 5).is_err());
        assert!(bounded("s", "a\0b", 5).is_err());
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(
            tags(&["VIP".into(), "vip".into(), "billing:eu".into()]).expect("ok"),
            ["billing:eu", "vip"]
        );
        assert!(tags(&["two words".into()]).is_err());
    }
}
