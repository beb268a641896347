//! HTML that may be shown without escaping. [`SanitizedHtml`] can only be made by ammonia
//! (untrusted HTML, staff Markdown) or by escaping text, so a template that renders one with
//! `|safe` cannot show a customer's markup. [`text_to_html`] is the plain escaper for
//! building HTML from text (emails, CRM notes).

use serde::{Serialize, Serializer};

/// ammonia's default policy with links marked `noopener noreferrer nofollow`, for what staff
/// write in Markdown. Built once: a builder holds a dozen sets of tags and attributes, and
/// making one took as long as cleaning a reply.
static STAFF_POLICY: std::sync::LazyLock<ammonia::Builder<'static>> =
    std::sync::LazyLock::new(|| {
        let mut b = ammonia::Builder::default();
        b.link_rel(Some("noopener noreferrer nofollow"));
        b
    });

/// HTML made safe to show: the only way to put markup from messages into a page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SanitizedHtml(String);

impl SanitizedHtml {
    /// Untrusted HTML (an email's HTML part) through ammonia's default policy.
    #[must_use]
    pub fn clean(untrusted: &str) -> Self {
        SanitizedHtml(ammonia::clean(untrusted))
    }

    /// A staff message written in Markdown: line breaks are kept (people type them on
    /// purpose), raw HTML is shown as text, and the result passes through ammonia.
    #[must_use]
    pub fn from_markdown(s: &str) -> Self {
        use pulldown_cmark::{Event, Options, Parser, html};
        let events = Parser::new_ext(
            s,
            Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS,
        )
        .map(|e| match e {
            Event::SoftBreak => Event::HardBreak,
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
            e => e,
        });
        let mut out = String::new();
        html::push_html(&mut out, events);
        SanitizedHtml(STAFF_POLICY.clean(&out).to_string())
    }

    /// A knowledge-base article written in Markdown: standard line handling (a soft break is
    /// a space), raw HTML shown as text, headings kept, links marked `nofollow`; the result
    /// passes through ammonia.
    #[must_use]
    pub fn from_article(s: &str) -> Self {
        use pulldown_cmark::{Event, Options, Parser, html};
        let events = Parser::new_ext(
            s,
            Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS,
        )
        .map(|e| match e {
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
            e => e,
        });
        let mut out = String::new();
        html::push_html(&mut out, events);
        SanitizedHtml(STAFF_POLICY.clean(&out).to_string())
    }

    /// Plain text, escaped, with the words `is_match` picks inside `<mark>` (search snippets).
    #[must_use]
    pub fn with_marks(s: &str, is_match: impl Fn(&str) -> bool) -> Self {
        let mut html = String::with_capacity(s.len() + 32);
        let mut word = String::new();
        let flush = |word: &mut String, html: &mut String| {
            if word.is_empty() {
                return;
            }
            if is_match(word) {
                html.push_str("<mark>");
                html.push_str(&text_to_html(word));
                html.push_str("</mark>");
            } else {
                html.push_str(&text_to_html(word));
            }
            word.clear();
        };
        for c in s.chars() {
            if c.is_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut html);
                let mut buf = [0u8; 4];
                html.push_str(&text_to_html(c.encode_utf8(&mut buf)));
            }
        }
        flush(&mut word, &mut html);
        SanitizedHtml(html)
    }

    /// Plain text, escaped, with its line breaks.
    #[must_use]
    pub fn from_text(s: &str) -> Self {
        SanitizedHtml(text_to_html(s))
    }

    /// The HTML, for a document built around it (an email's HTML part).
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for SanitizedHtml {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SanitizedHtml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for SanitizedHtml {}

impl Serialize for SanitizedHtml {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Escapes text for HTML and turns newlines into `<br>`.
#[must_use]
pub fn text_to_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_with_its_line_breaks() {
        assert_eq!(
            text_to_html("<script>x</script>\n&\"'"),
            "&lt;script&gt;x&lt;/script&gt;<br>\n&amp;&quot;&#39;"
        );
        assert_eq!(SanitizedHtml::from_text("<b>").as_ref(), "&lt;b&gt;");
    }

    #[test]
    fn untrusted_html_loses_scripts_and_handlers() {
        let h = SanitizedHtml::clean("<p onclick=\"x()\">Hi<script>alert(1)</script></p>");
        assert_eq!(h.as_ref(), "<p>Hi</p>");
    }

    #[test]
    fn staff_markdown_renders_safely() {
        let html = SanitizedHtml::from_markdown(
            "**Restart** it:\n1. unplug\n2. wait\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) and [docs](https://example.com)",
        )
        .to_string();
        assert!(html.contains("<strong>Restart</strong>"), "{html}");
        assert!(html.contains("<ol>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(
            SanitizedHtml::from_markdown("line one\nline two")
                .as_ref()
                .contains("<br"),
            "soft breaks are kept"
        );
    }
}
