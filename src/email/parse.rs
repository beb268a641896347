//! Reads an inbound RFC 5322 message with `mail-parser` (MIME structure, transfer encodings,
//! RFC 2047 words, RFC 2231 names, legacy charsets) into what the helpdesk needs.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

use super::reply::visible_reply;

/// Largest message accepted (the raw bytes).
pub const MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;
/// Largest body text kept on a comment.
const MAX_BODY_CHARS: usize = 60 * 1024;

/// A file carried by a message.
#[derive(Debug, Clone)]
pub struct Part {
    pub file_name: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
    pub content_id: Option<String>,
    pub inline: bool,
}

/// An inbound message, decoded.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub message_id: Option<String>,
    /// `In-Reply-To` then `References`, newest first: the messages this one answers.
    pub parents: Vec<String>,
    pub from_email: Option<String>,
    pub from_name: Option<String>,
    pub subject: String,
    /// The whole text body (the unit tests check its decoding; `visible` is made from it).
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "kept for the decoding tests; the app uses `visible`"
        )
    )]
    pub text: String,
    /// What the sender wrote, without quoted history and signature.
    pub visible: String,
    /// The HTML body after sanitizing, when there is one.
    pub html: Option<String>,
    pub parts: Vec<Part>,
    /// Why this message must not open a ticket or get a reply (auto-reply, bounce, receipt).
    pub automated: Option<&'static str>,
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let clean = |s: &str| s.trim().trim_matches(['<', '>']).to_owned();
    match v {
        HeaderValue::Text(t) => t
            .split_whitespace()
            .map(clean)
            .filter(|s| !s.is_empty())
            .collect(),
        HeaderValue::TextList(l) => l
            .iter()
            .map(|s| clean(s))
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

fn header_text(m: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    m.header_raw(name).map(|s| s.trim().to_lowercase())
}

/// Why a message is automated, from its headers and structure (RFC 3834, RFC 3464,
/// RFC 8098 and the common vendor headers), or `None` for mail a person sent.
fn automated(m: &mail_parser::Message<'_>, from: Option<&str>) -> Option<&'static str> {
    if let Some(ct) = m.root_part().content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        return Some(
            match ct
                .attribute("report-type")
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("disposition-notification") => "read-receipt",
                _ => "delivery-report",
            },
        );
    }
    if let Some(v) = header_text(m, "Auto-Submitted")
        && v != "no"
    {
        return Some("auto-submitted");
    }
    if m.header_raw("X-Autoreply").is_some()
        || m.header_raw("X-Autorespond").is_some()
        || m.header_raw("X-Autoresponse").is_some()
    {
        return Some("auto-reply");
    }
    if let Some(p) = header_text(m, "Precedence")
        && matches!(p.as_str(), "bulk" | "junk" | "list" | "auto_reply")
    {
        return Some("bulk");
    }
    if let Some(f) = from {
        let local = f.split('@').next().unwrap_or_default();
        if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
            return Some("bounce");
        }
    }
    None
}

/// Decodes a header written as raw 8-bit bytes in a legacy charset (no RFC 2047), using the
/// charset of the body, as mail clients do.
fn raw_header(raw: &[u8], name: &str, charset: Option<&str>) -> Option<String> {
    let charset = charset?;
    let decoder = mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes())?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    let head = &raw[..end];
    let prefix = format!("{}:", name.to_ascii_lowercase());
    for line in head.split(|b| *b == b'\n') {
        if line.len() > prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        {
            let value = decoder(&line[prefix.len()..]);
            return Some(value.trim().to_owned());
        }
    }
    None
}

fn first_addr(a: Option<&Address<'_>>) -> (Option<String>, Option<String>) {
    let Some(a) = a else { return (None, None) };
    match a.first() {
        Some(addr) => (
            addr.address().map(|s| s.trim().to_lowercase()),
            addr.name().map(|s| s.trim().trim_matches('"').to_owned()),
        ),
        None => (None, None),
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max).collect()
    }
}

/// Parses a raw message; `None` when it is not a message at all.
#[must_use]
// Long: one pass over a message's headers and parts (addresses, threading headers, auto-reply
// signals, bodies, attachments); the parts share the parsed message.
pub fn parse(raw: &[u8]) -> Option<Inbound> {
    // Some stores prefix messages with blank or space-only lines; the headers follow them.
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let raw = &raw[start..];
    let m = MessageParser::default().parse(raw)?;
    // Text without any of the header fields every message has is not a message.
    let known = [
        "from",
        "sender",
        "message-id",
        "subject",
        "date",
        "to",
        "content-type",
        "mime-version",
        "received",
        "return-path",
    ];
    if !m
        .headers()
        .iter()
        .any(|h| known.iter().any(|k| h.name().eq_ignore_ascii_case(k)))
    {
        return None;
    }
    let body_charset = m
        .text_bodies()
        .chain(m.html_bodies())
        .find_map(|p| p.content_type().and_then(|c| c.attribute("charset")))
        .map(str::to_owned);
    let (mut from_email, mut from_name) = first_addr(m.from());
    if from_email.is_none() {
        (from_email, from_name) = first_addr(m.sender());
    }
    let mut subject = m.subject().unwrap_or_default().to_owned();
    // Raw 8-bit headers that were not UTF-8 come out with replacement characters: decode
    // them with the body's charset.
    if subject.contains('\u{fffd}')
        && let Some(s) = raw_header(raw, "Subject", body_charset.as_deref())
    {
        subject = s;
    }
    if from_name.as_deref().is_some_and(|n| n.contains('\u{fffd}'))
        && let Some(f) = raw_header(raw, "From", body_charset.as_deref())
    {
        let name = f
            .split('<')
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"');
        if !name.is_empty() {
            from_name = Some(name.to_owned());
        }
    }
    let mut parents = ids(m.in_reply_to());
    let mut refs = ids(m.references());
    refs.reverse();
    for r in refs {
        if !parents.contains(&r) {
            parents.push(r);
        }
    }
    let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let html = m
        .body_html(0)
        .filter(|_| m.html_body_count() > 0)
        .map(|h| crate::html::SanitizedHtml::clean(&h).into_string());
    let mut parts = Vec::new();
    for (i, p) in m.attachments().enumerate() {
        let (bytes, default_name, mime) = match &p.body {
            PartType::Message(inner) => (
                inner.raw_message().to_vec(),
                format!(
                    "{}.eml",
                    inner
                        .subject()
                        .map(|s| s
                            .chars()
                            .filter(|c| c.is_alphanumeric() || *c == ' ')
                            .take(60)
                            .collect::<String>())
                        .filter(|s| !s.trim().is_empty())
                        .unwrap_or_else(|| "forwarded-message".into())
                        .trim()
                ),
                "message/rfc822".to_owned(),
            ),
            _ => (
                p.contents().to_vec(),
                format!("attachment-{}", i + 1),
                p.content_type()
                    .map(|c| {
                        format!(
                            "{}/{}",
                            c.ctype().to_ascii_lowercase(),
                            c.subtype().unwrap_or("octet-stream").to_ascii_lowercase()
                        )
                    })
                    .unwrap_or_else(|| "application/octet-stream".into()),
            ),
        };
        let inline = matches!(p.body, PartType::InlineBinary(_))
            || p.content_disposition().is_some_and(|d| d.is_inline());
        parts.push(Part {
            file_name: p
                .attachment_name()
                .map(str::to_owned)
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(default_name),
            mime_type: mime,
            bytes,
            content_id: p
                .content_id()
                .map(|c| c.trim_matches(['<', '>']).to_owned()),
            inline,
        });
    }
    let automated = automated(&m, from_email.as_deref());
    Some(Inbound {
        message_id: m
            .message_id()
            .map(|s| s.trim().trim_matches(['<', '>']).to_owned()),
        parents,
        from_email,
        from_name,
        subject: cut(subject.trim(), 255),
        visible: cut(&visible_reply(&text), MAX_BODY_CHARS),
        text: cut(&text, MAX_BODY_CHARS),
        html,
        parts,
        automated,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn corpus(path: &str) -> Vec<u8> {
        let p = format!(
            "{}/tests/fixtures/email-corpus/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn decodes_utf16_and_binary_parts() {
        // Dovecot's fixture via stalwart: UTF-16LE/BE, binary and base64 transfer encodings.
        let m = parse(&corpus("mime/stalwart-thirdparty-005.eml")).expect("a message");
        assert!(m.text.contains("Test message"), "{:?}", m.text);
        assert!(!m.text.contains('\u{fffd}'), "{:?}", m.text);
        assert!(m.from_email.is_none());
    }

    #[test]
    fn reads_threading_headers_newest_first() {
        let raw = b"From: a@x.io\r\nMessage-ID: <3@x>\r\nIn-Reply-To: <2@x>\r\nReferences: <1@x> <2@x>\r\n\r\nhi";
        let m = parse(raw).expect("message");
        assert_eq!(m.message_id.as_deref(), Some("3@x"));
        assert_eq!(m.parents, ["2@x", "1@x"]);
    }

    #[test]
    fn decodes_legacy_charsets_and_encoded_words() {
        let raw = "From: =?KOI8-R?B?98HT0Q==?= <v@x.ru>\r\nSubject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 =80 100\r\n";
        let m = parse(raw.as_bytes()).expect("message");
        assert_eq!(m.from_name.as_deref(), Some("Вася"));
        assert_eq!(m.subject, "こんにちは");
        assert_eq!(m.text.trim(), "Café € 100");
    }
}
