//! Text of articles: Markdown to plain text (search documents, snippets, embeddings), the
//! numbered steps a draft quotes, search terms without filler words, and the snippet that
//! shows where a search matched.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use crate::html::SanitizedHtml;

/// The words of an article without its Markdown: paragraphs, headings and list items on
/// lines of their own, code kept as text, links by their text.
#[must_use]
pub fn plain_text(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    for e in Parser::new(md) {
        match e {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::Html(t) | Event::InlineHtml(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableRow,
            ) if !out.ends_with('\n') => out.push('\n'),
            Event::End(TagEnd::TableCell) => out.push(' '),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The items of the article's first numbered list (its steps), as plain text.
#[must_use]
pub fn steps(md: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut depth = 0usize;
    let mut in_ordered = false;
    let mut current: Option<String> = None;
    for e in Parser::new(md) {
        match e {
            Event::Start(Tag::List(first)) => {
                depth += 1;
                if depth == 1 && first.is_some() && steps.is_empty() {
                    in_ordered = true;
                }
            }
            Event::End(TagEnd::List(_)) => {
                depth = depth.saturating_sub(1);
                if depth == 0 && in_ordered {
                    return steps;
                }
            }
            Event::Start(Tag::Item) if in_ordered && depth == 1 => current = Some(String::new()),
            Event::End(TagEnd::Item) if in_ordered && depth == 1 => {
                if let Some(s) = current.take() {
                    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !s.is_empty() {
                        steps.push(s);
                    }
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(c) = current.as_mut() {
                    c.push(' ');
                }
            }
            _ => {}
        }
    }
    steps
}

/// English filler words a search ignores ("how do I reset my password" searches for
/// "reset password"). When a query is nothing but filler, its words are kept.
const STOP_WORDS: [&str; 72] = [
    "a", "about", "after", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but",
    "by", "can", "cannot", "could", "did", "do", "does", "doing", "for", "from", "get", "got",
    "had", "has", "have", "having", "hello", "help", "hi", "how", "i", "if", "in", "into", "is",
    "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "please", "so", "some", "that",
    "the", "their", "then", "there", "this", "to", "up", "was", "we", "what", "when", "where",
    "which", "why", "will", "with", "would", "you", "your",
];

/// Search terms of a query: the safe terms of [`crate::store::dialect::search_terms`]
/// without filler words.
#[must_use]
pub fn query_terms(q: &str) -> Vec<String> {
    let all = crate::store::dialect::search_terms(q);
    let kept: Vec<String> = all
        .iter()
        .filter(|t| !STOP_WORDS.contains(&t.as_str()))
        .cloned()
        .collect();
    if kept.is_empty() { all } else { kept }
}

/// A crude root of a word so a snippet finds "resetting" for "reset" and "passwords" for
/// "password" (the index itself stems properly): common endings off, a doubled final
/// consonant undone.
fn root(t: &str) -> String {
    let t = t.to_lowercase();
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(r) = t.strip_suffix(suffix)
            && r.chars().count() >= 4
        {
            let c: Vec<char> = r.chars().collect();
            let n = c.len();
            if suffix.len() > 1 && c[n - 1] == c[n - 2] && !"aeiouls".contains(c[n - 1]) {
                return c[..n - 1].iter().collect();
            }
            return r.to_owned();
        }
    }
    t
}

fn matches_term(word: &str, roots: &[String]) -> bool {
    let w = word.to_lowercase();
    let wr = root(&w);
    roots.iter().any(|r| w.starts_with(r.as_str()) || wr == *r)
}

/// The part of `text` a search matched, at most about `width` characters: the sentence
/// (or line) holding the most distinct terms, cut around its first match. Answers the
/// snippet as text and as HTML with the matched words in `<mark>` (everything escaped).
#[must_use]
pub fn snippet(text: &str, terms: &[String], width: usize) -> (String, SanitizedHtml) {
    let roots: Vec<String> = terms.iter().map(|t| root(t)).collect();
    let pieces: Vec<&str> = text
        .split_inclusive(['.', '!', '?', '\n', '。'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let score = |s: &str| {
        roots
            .iter()
            .filter(|r| {
                s.split(|c: char| !c.is_alphanumeric())
                    .any(|w| matches_term(w, std::slice::from_ref(*r)))
            })
            .count()
    };
    let best = pieces
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (score(s), std::cmp::Reverse(*i)))
        .map(|(_, s)| *s)
        .unwrap_or("");
    let chars: Vec<char> = best.chars().collect();
    let mut cut: String = if chars.len() <= width {
        best.to_owned()
    } else {
        // Start a little before the first match, at a word boundary.
        let first = best
            .split_inclusive(|c: char| !c.is_alphanumeric())
            .scan(0usize, |at, w| {
                let start = *at;
                *at += w.chars().count();
                Some((start, w))
            })
            .find(|(_, w)| matches_term(w.trim_end_matches(|c: char| !c.is_alphanumeric()), &roots))
            .map_or(0, |(s, _)| s);
        let start = first.saturating_sub(width / 4);
        let start = (start..first.max(start))
            .find(|&i| i == 0 || chars[i - 1].is_whitespace())
            .unwrap_or(start);
        let end = (start + width).min(chars.len());
        let mut s: String = chars[start..end].iter().collect();
        if end < chars.len() {
            if let Some(sp) = s.rfind(char::is_whitespace) {
                s.truncate(sp);
            }
            s.push('…');
        }
        if start > 0 {
            s.insert(0, '…');
        }
        s
    };
    cut = cut.trim().to_owned();
    let html = SanitizedHtml::with_marks(&cut, |w| matches_term(w, &roots));
    (cut, html)
}

#[cfg(test)]
mod tests {
    use super::{plain_text, query_terms, snippet, steps};

    const ARTICLE: &str = "# Reset your password\n\nIf you forgot it, *don't worry*.\n\n\
        1. Open the [sign-in page](https://example.com).\n2. Choose **Forgot password**.\n\
        3. Follow the link we email you\n   within an hour.\n\n- a bullet\n\nDone.";

    #[test]
    fn markdown_becomes_plain_text_and_steps() {
        let t = plain_text(ARTICLE);
        assert!(
            t.starts_with("Reset your password\nIf you forgot it, don't worry."),
            "{t}"
        );
        assert!(t.contains("Open the sign-in page."), "{t}");
        assert!(!t.contains("https://"), "{t}");
        assert_eq!(
            steps(ARTICLE),
            [
                "Open the sign-in page.",
                "Choose Forgot password.",
                "Follow the link we email you within an hour."
            ]
        );
        assert!(steps("- only\n- bullets").is_empty());
    }

    #[test]
    fn filler_words_are_dropped_unless_nothing_else_is_left() {
        assert_eq!(
            query_terms("How do I reset my password?"),
            ["reset", "password"]
        );
        assert_eq!(query_terms("how do I"), ["how", "do", "i"]);
    }

    #[test]
    fn snippet_marks_the_best_sentence_and_escapes() {
        let text = "Welcome <b>friends</b>. Nothing here. To reset a forgotten password, \
            open settings. Passwords expire yearly.";
        let terms = query_terms("resetting password");
        let (s, html) = snippet(text, &terms, 200);
        assert_eq!(s, "To reset a forgotten password, open settings.");
        assert_eq!(
            html.as_ref(),
            "To <mark>reset</mark> a forgotten <mark>password</mark>, open settings."
        );
        let (_, html) = snippet(text, &query_terms("friends"), 200);
        assert!(
            html.as_ref()
                .contains("&lt;b&gt;<mark>friends</mark>&lt;/b&gt;"),
            "{html}"
        );
    }

    #[test]
    fn long_sentences_are_cut_around_the_match() {
        let long = format!(
            "{} the invoice is attached {}",
            "word ".repeat(80),
            "tail ".repeat(80)
        );
        let (s, _) = snippet(&long, &query_terms("invoice"), 60);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("invoice"), "{s}");
        assert!(s.chars().count() <= 62, "{}", s.chars().count());
    }
}
