//! The built-in reply draft (seed 001 "AI Draft Response"): a template in one of three tones
//! that greets the requester by name, acknowledges their mood, and either walks them through
//! the best-matching article's steps, starts from a canned response, or — when the ticket
//! does not say enough — asks the clarifying questions instead of guessing.
//!
//! Confidence (0–1) rests on how well the best article answers the question:
//! `coverage` is the share of the question's search terms found in the article (title and
//! body, stems compared). With an article whose coverage is at least [`ANSWERS`]:
//! `0.35 + 0.45·coverage + 0.1·(it has numbered steps) + 0.1·(its lead over the runner-up)`,
//! at most 0.95. A canned response alone: 0.5. Nothing that answers: 0.25, and the draft
//! asks questions; a question of fewer than three search terms lowers it to 0.15.

use super::sentiment::Sentiment;
use super::settings::{Term, Tone};

/// Coverage from which an article is taken to answer the question.
pub const ANSWERS: f64 = 0.5;

/// An article that may answer the ticket, with what the draft quotes from it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub title: String,
    /// Plain text of title and body (for coverage).
    pub text: String,
    /// Its numbered steps.
    pub steps: Vec<String>,
    /// The sentence of it that matched best.
    pub snippet: String,
    /// Where customers can read it.
    pub url: String,
}

/// Everything a draft is written from.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub tone: Tone,
    pub requester_name: &'a str,
    pub agent_name: &'a str,
    pub subject: &'a str,
    pub sentiment: Sentiment,
    /// The canned response to start from, already filled in.
    pub canned: Option<String>,
    /// Candidate articles, best first.
    pub articles: Vec<Candidate>,
    pub terminology: &'a [Term],
}

/// A written draft.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub text: String,
    pub confidence: f64,
    /// Indexes into `Context::articles` of the articles cited.
    pub cited: Vec<usize>,
    /// The draft asks the customer for what is missing.
    pub clarifying: bool,
}

fn first_name(full: &str) -> &str {
    let n = full.trim();
    if n.is_empty() || n.contains('@') {
        return "";
    }
    n.split_whitespace().next().unwrap_or("")
}

/// The share of the question's terms (stems compared) found in `text`.
#[must_use]
pub fn coverage(question_terms: &[String], text: &str) -> f64 {
    if question_terms.is_empty() {
        return 0.0;
    }
    let words: std::collections::HashSet<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| stem(&w.to_lowercase()))
        .collect();
    let hit = question_terms
        .iter()
        .filter(|t| words.contains(&stem(t)))
        .count();
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let share = hit as f64 / question_terms.len() as f64;
    share
}

/// A light English stem: plural and verb endings off, a doubled final consonant undone.
#[must_use]
pub fn stem(w: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(r) = w.strip_suffix(suffix)
            && r.chars().count() >= 3
        {
            let c: Vec<char> = r.chars().collect();
            let n = c.len();
            if suffix.len() > 1 && n >= 2 && c[n - 1] == c[n - 2] && !"aeiouls".contains(c[n - 1]) {
                return c[..n - 1].iter().collect();
            }
            return r.to_owned();
        }
    }
    w.to_owned()
}

/// Replaces the words a workspace avoids with its own (whole words; a capital kept).
#[must_use]
pub fn apply_terminology(text: &str, terms: &[Term]) -> String {
    let mut out = text.to_owned();
    for t in terms {
        for avoid in &t.instead_of {
            out = replace_word(&out, avoid, &t.term);
        }
    }
    out
}

fn replace_word(text: &str, from: &str, to: &str) -> String {
    let from_l = from.to_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.to_lowercase() == from_l {
            if word.chars().next().is_some_and(char::is_uppercase) {
                let mut c = to.chars();
                if let Some(f) = c.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(c.as_str());
                }
            } else {
                out.push_str(to);
            }
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The questions a draft asks when the ticket does not say enough.
const CLARIFY: [&str; 3] = [
    "What exactly happens when you try — is there an error message, or could you send a screenshot?",
    "When did this start, and has anything changed since (an update, a new device, a new setting)?",
    "Which device, browser or version are you using?",
];

/// Writes a draft.
#[must_use]
pub fn write(c: &Context<'_>, question_terms: &[String]) -> Draft {
    let name = first_name(c.requester_name);
    let greeting = match (c.tone, name.is_empty()) {
        (Tone::Professional, false) => format!("Dear {name},"),
        (Tone::Professional, true) => "Hello,".to_owned(),
        (_, false) => format!("Hi {name},"),
        (_, true) => "Hi there,".to_owned(),
    };
    let subject = c.subject.trim();
    let thanks = match c.tone {
        Tone::Professional => Some(format!("Thank you for contacting us about “{subject}”.")),
        Tone::Friendly => Some(format!(
            "Thanks so much for reaching out about “{subject}”!"
        )),
        Tone::Concise => None,
    };
    let sorry = match (c.sentiment, c.tone) {
        (Sentiment::Frustrated, Tone::Professional) => Some(
            "I am sorry for the trouble this has caused, and I understand how frustrating it is.",
        ),
        (Sentiment::Negative, Tone::Professional) => {
            Some("I am sorry for the trouble this has caused.")
        }
        (Sentiment::Frustrated | Sentiment::Negative, Tone::Friendly) => {
            Some("I'm really sorry about the hassle — let's get this sorted out.")
        }
        (Sentiment::Frustrated | Sentiment::Negative, Tone::Concise) => {
            Some("Sorry for the trouble.")
        }
        _ => None,
    };
    let covers: Vec<f64> = c
        .articles
        .iter()
        .map(|a| coverage(question_terms, &a.text))
        .collect();
    let best = covers
        .iter()
        .enumerate()
        .filter(|(_, v)| **v >= ANSWERS)
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .map(|(i, v)| (i, *v));
    let mut body: Vec<String> = Vec::new();
    let mut cited = Vec::new();
    if let Some(canned) = &c.canned {
        body.push(canned.trim().to_owned());
    }
    let clarifying = best.is_none() && c.canned.is_none();
    let mut confidence;
    if let Some((i, cov)) = best {
        let a = &c.articles[i];
        cited.push(i);
        let intro = match (c.tone, c.canned.is_some()) {
            (_, true) => format!("Our article “{}” may also help:", a.title),
            (Tone::Professional, false) => {
                format!("Our article “{}” covers this. Here are the steps:", a.title)
            }
            (Tone::Friendly, false) => {
                format!("Good news — our article “{}” walks through this:", a.title)
            }
            (Tone::Concise, false) => format!("From “{}”:", a.title),
        };
        if a.steps.is_empty() {
            body.push(format!("{intro}\n\n> {}", a.snippet));
        } else {
            let steps = a
                .steps
                .iter()
                .enumerate()
                .map(|(n, s)| format!("{}. {s}", n + 1))
                .collect::<Vec<_>>()
                .join("\n");
            body.push(format!("{intro}\n\n{steps}"));
        }
        body.push(format!("The full article: {}", a.url));
        let runner_up = covers
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, v)| *v)
            .fold(0.0, f64::max);
        confidence = 0.35
            + 0.45 * cov
            + if a.steps.is_empty() { 0.0 } else { 0.1 }
            + 0.1 * (cov - runner_up).clamp(0.0, 1.0);
        if c.canned.is_some() {
            confidence += 0.05;
        }
    } else if c.canned.is_some() {
        confidence = 0.5;
    } else {
        let lead = match c.tone {
            Tone::Concise => "To help, could you tell us:",
            Tone::Friendly => "So we can get to the bottom of this, could you tell us a bit more?",
            Tone::Professional => {
                "So that we can help you quickly, could you please tell us a little more:"
            }
        };
        let qs = CLARIFY
            .iter()
            .map(|q| format!("- {q}"))
            .collect::<Vec<_>>()
            .join("\n");
        body.push(format!("{lead}\n\n{qs}"));
        if let Some(a) = c.articles.first() {
            body.push(format!(
                "In the meantime, our article “{}” may be related: {}",
                a.title, a.url
            ));
            cited.push(0);
        }
        confidence = if question_terms.len() < 3 { 0.15 } else { 0.25 };
    }
    let closing = match c.tone {
        Tone::Professional => format!("Kind regards,\n{}", c.agent_name),
        Tone::Friendly => format!("Cheers,\n{}", c.agent_name),
        Tone::Concise => format!("Best,\n{}", c.agent_name),
    };
    let mut parts = vec![greeting];
    let opening = [thanks.as_deref(), sorry]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !opening.is_empty() {
        parts.push(opening);
    }
    parts.extend(body);
    if !clarifying && c.tone != Tone::Concise {
        parts.push(match c.tone {
            Tone::Friendly => "Let me know how it goes!".to_owned(),
            _ => "If this does not solve it, just reply to this message and we will take it from there.".to_owned(),
        });
    }
    parts.push(closing);
    Draft {
        text: apply_terminology(&parts.join("\n\n"), c.terminology),
        confidence: (confidence.min(0.95) * 100.0).round() / 100.0,
        cited,
        clarifying,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article() -> Candidate {
        Candidate {
            id: "a1".into(),
            title: "Reset a forgotten password".into(),
            text: "Reset a forgotten password. If you cannot sign in, reset your password from the sign-in page.".into(),
            steps: vec!["Open the sign-in page.".into(), "Choose Forgot password.".into()],
            snippet: "Reset your password from the sign-in page.".into(),
            url: "https://help.example.com/portal/default/help/articles/a1".into(),
        }
    }

    fn ctx<'a>(terms: &'a [Term]) -> Context<'a> {
        Context {
            tone: Tone::Professional,
            requester_name: "Jane Roe",
            agent_name: "Sam",
            subject: "Cannot sign in",
            sentiment: Sentiment::Frustrated,
            canned: None,
            articles: vec![article()],
            terminology: terms,
        }
    }

    fn terms(q: &str) -> Vec<String> {
        crate::kb::text::query_terms(q)
    }

    #[test]
    fn an_answering_article_is_quoted_step_by_step_with_high_confidence() {
        let t = [Term {
            term: "member".into(),
            instead_of: vec!["customer".into()],
        }];
        let c = ctx(&t);
        let d = write(&c, &terms("forgot password sign in"));
        assert!(
            d.text.starts_with(
                "Dear Jane,\n\nThank you for contacting us about “Cannot sign in”. I am sorry"
            ),
            "{}",
            d.text
        );
        assert!(
            d.text
                .contains("1. Open the sign-in page.\n2. Choose Forgot password."),
            "{}",
            d.text
        );
        assert!(d.text.ends_with("Kind regards,\nSam"), "{}", d.text);
        assert_eq!(d.cited, [0]);
        assert!(!d.clarifying);
        assert!(d.confidence >= 0.8, "{}", d.confidence);
    }

    #[test]
    fn without_an_answer_the_draft_asks_and_confidence_is_low() {
        let t = [];
        let mut c = ctx(&t);
        c.tone = Tone::Friendly;
        c.sentiment = Sentiment::Neutral;
        let d = write(&c, &terms("invoice vat number wrong country"));
        assert!(d.clarifying);
        assert!(
            d.text.starts_with("Hi Jane,\n\nThanks so much"),
            "{}",
            d.text
        );
        assert!(
            d.text.contains("could you tell us a bit more?"),
            "{}",
            d.text
        );
        assert!(d.text.contains("may be related"), "{}", d.text);
        assert!(d.confidence <= 0.25, "{}", d.confidence);
        let d = write(&c, &terms("help"));
        assert!(d.confidence <= 0.15);
    }

    #[test]
    fn a_canned_response_starts_the_draft_and_terminology_is_applied() {
        let t = [Term {
            term: "member".into(),
            instead_of: vec!["customer".into(), "client".into()],
        }];
        let mut c = ctx(&t);
        c.tone = Tone::Concise;
        c.articles.clear();
        c.canned =
            Some("As a valued Customer, your refund is on its way to the client account.".into());
        let d = write(&c, &terms("refund"));
        assert!(
            d.text
                .contains("As a valued Member, your refund is on its way to the member account."),
            "{}",
            d.text
        );
        assert!(
            d.text.starts_with("Hi Jane,\n\nSorry for the trouble."),
            "{}",
            d.text
        );
        assert!((d.confidence - 0.5).abs() < 1e-9);
        assert!(!d.clarifying);
    }

    #[test]
    fn coverage_compares_stems() {
        let t = terms("resetting passwords");
        assert!((coverage(&t, "How to reset a password") - 1.0).abs() < 1e-9);
        assert!((coverage(&t, "Billing") - 0.0).abs() < 1e-9);
    }
}
