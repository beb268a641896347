//! How a customer feels, from their own words: `positive`, `neutral`, `negative` or
//! `frustrated` (seed 001's summary field). VADER (the `vader_sentiment` crate: a lexicon with
//! negation, intensifiers, capitals and exclamation marks) scores the text; support phrases
//! VADER's general lexicon does not weigh — "still not working", "third time", "cancel my
//! subscription" — move it further, and repeated or strong ones make it `frustrated`.

use std::sync::LazyLock;

use serde::Serialize;

/// The customer's mood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
    Frustrated,
}

/// The verdict and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub sentiment: Sentiment,
    /// VADER's compound score, −1 to 1, of the text with support idioms read plainly.
    pub compound: f64,
    /// The support phrases found (lower case).
    pub cues: Vec<&'static str>,
}

/// Phrases of a customer whose problem persists or who is losing patience; each is a cue.
const FRUSTRATION: &[&str] = &[
    "third time",
    "fourth time",
    "again and again",
    "how many times",
    "still not",
    "still doesn't",
    "still does not",
    "still broken",
    "still waiting",
    "still no ",
    "unacceptable",
    "cancel my",
    "cancel the subscription",
    "cancel our",
    "want a refund",
    "want my money back",
    "waste of time",
    "fed up",
    "sick of",
    "no one has",
    "nobody has",
    "nobody answers",
    "no response",
    "ridiculous",
    "escalate",
    "lawyer",
    "worst",
];

/// Phrases that describe a fault without feeling: negative, never frustrated on their own.
const FAULT: &[&str] = &[
    "not working",
    "doesn't work",
    "does not work",
    "isn't working",
    "stopped working",
    "broken",
    "can't log in",
    "cannot log in",
    "crashes",
    "keeps failing",
];

/// Support idioms VADER's general lexicon misreads, read as the plain word they mean
/// ("please" is politeness in a request, not joy; "no problem" is fine, not a problem).
const IDIOMS: &[(&str, &str)] = &[
    ("no problem", "fine"),
    ("no worries", "fine"),
    ("not a problem", "fine"),
    ("not bad", "good"),
    ("please", ""),
    ("kindly", ""),
];

/// VADER's compound score past which a text leans one way (wider than VADER's own ±0.05:
/// requests are mostly matter-of-fact).
const LEAN: f64 = 0.15;

static ANALYZER: LazyLock<vader_sentiment::SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(vader_sentiment::SentimentIntensityAnalyzer::new);

/// Reads the sentiment of a customer's text.
#[must_use]
pub fn read(text: &str) -> Reading {
    let lower = text.to_lowercase();
    let mut plain = lower.clone();
    for (idiom, means) in IDIOMS {
        plain = plain.replace(idiom, means);
    }
    // Scored in lower case with the capitals' emphasis added back by `shouting` below.
    let compound = ANALYZER
        .polarity_scores(&plain)
        .get("compound")
        .copied()
        .unwrap_or(0.0);
    let cues: Vec<&'static str> = FRUSTRATION
        .iter()
        .copied()
        .filter(|p| lower.contains(p))
        .collect();
    let fault = FAULT.iter().any(|p| lower.contains(p));
    let shouting = text.matches("!!").count() > 0
        || text
            .split_whitespace()
            .filter(|w| {
                w.len() >= 4
                    && w.chars().all(|c| !c.is_lowercase())
                    && w.chars().any(char::is_uppercase)
            })
            .count()
            >= 2;
    let sentiment =
        if cues.len() >= 2 || (!cues.is_empty() && (compound <= -LEAN || shouting || fault)) {
            Sentiment::Frustrated
        } else if !cues.is_empty() || fault || compound <= -LEAN {
            Sentiment::Negative
        } else if compound >= LEAN {
            Sentiment::Positive
        } else {
            Sentiment::Neutral
        };
    Reading {
        sentiment,
        compound,
        cues,
    }
}

#[cfg(test)]
mod tests {
    use super::{Sentiment, read};

    #[test]
    fn support_words_move_the_verdict() {
        let cases = [
            (
                "Thanks a lot, that fixed it! Great support.",
                Sentiment::Positive,
            ),
            ("The invoice number is 5531.", Sentiment::Neutral),
            (
                "The printer is not working since the update.",
                Sentiment::Negative,
            ),
            ("This is not good at all.", Sentiment::Negative),
            (
                "This is the third time I write and it is still not fixed.",
                Sentiment::Frustrated,
            ),
            (
                "Unacceptable. Cancel my subscription.",
                Sentiment::Frustrated,
            ),
            ("STILL BROKEN!! Nobody answers.", Sentiment::Frustrated),
            // Negation of a negative is not negative.
            ("No problem, it is not bad at all.", Sentiment::Positive),
            // Politeness is not joy.
            ("Please send the invoice again.", Sentiment::Neutral),
        ];
        for (text, want) in cases {
            let r = read(text);
            assert_eq!(r.sentiment, want, "{text}: {r:?}");
        }
    }

    #[test]
    fn cues_are_reported() {
        let r = read("I want a refund, this is a waste of time.");
        assert_eq!(r.cues, ["want a refund", "waste of time"]);
        assert_eq!(r.sentiment, Sentiment::Frustrated);
    }
}
