//! The built-in summarizer (seed 001 "Ticket Summarization"): an extractive ticket summary
//! and a conversation summary from a ticket's facts and thread, offline and deterministic.
//!
//! Every text from the thread is masked first ([`super::mask`]), so card numbers, IBANs,
//! email addresses and phone numbers never reach a summary; who the customer is comes from
//! the ticket's own fields. Key points are the thread's most central customer sentences
//! (TextRank, [`super::extract`]); the sentiment is the customer's words read by
//! [`super::sentiment`]; suggested actions follow from the state of the conversation (who
//! spoke last, what was asked, the SLA, the mood, matching articles).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{key_sentences, sentences};
use super::mask::mask;
use super::sentiment::{self, Sentiment};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Customer,
    Agent,
    System,
}

/// One message of the thread, oldest first.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub party: Party,
    pub internal: bool,
    pub author: &'a str,
    pub body: &'a str,
    /// Microseconds since the epoch.
    pub at: i64,
}

/// What the summary needs to know of the ticket itself.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub subject: &'a str,
    pub description: &'a str,
    /// Status as people read it (`Open`, `Pending`).
    pub status: &'a str,
    pub resolved: bool,
    pub pending: bool,
    pub priority: &'a str,
    pub requester_name: &'a str,
    pub assignee_name: Option<&'a str>,
    pub created_at: i64,
    pub first_response_due_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub sla_breached: bool,
    /// Published articles that match the ticket, best first: (id, title).
    pub articles: Vec<(String, String)>,
}

/// One entry of the conversation's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub at: String,
    /// `customer`, `agent`, `internal_note` or `system`.
    pub kind: String,
    pub author: String,
    pub gist: String,
}

/// Seed 001's conversation summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub timeline: Vec<TimelineEntry>,
    pub resolution_attempts: Vec<String>,
    pub key_decisions: Vec<String>,
    pub action_items: Vec<String>,
    pub current_status: String,
    #[schema(value_type = String)]
    pub member_sentiment: Sentiment,
}

/// Seed 001's ticket summary with the conversation summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub summary: String,
    pub key_points: Vec<String>,
    pub sentiment: Sentiment,
    pub suggested_actions: Vec<String>,
    pub conversation: Conversation,
}

/// Longest key point or gist, in characters.
const GIST: usize = 220;

fn clip(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max).collect();
    if let Some(sp) = out.rfind(' ') {
        out.truncate(sp);
    }
    out.push('…');
    out
}

fn masked(s: &str) -> String {
    mask(s).text
}

/// The first key sentence of a text, masked and clipped (or its first line).
fn gist(body: &str) -> String {
    let m = masked(body);
    let first = key_sentences(&m, 1)
        .into_iter()
        .next()
        .or_else(|| {
            m.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    clip(&first, GIST)
}

fn date(us: i64) -> String {
    crate::clock::rfc3339(us)
}

/// Sentences of `texts` that contain one of `cues` (lower case), masked, at most `max`.
fn with_cues(texts: &[&str], cues: &[&str], max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in texts {
        for s in sentences(&masked(t)) {
            let l = s.to_lowercase();
            if cues.iter().any(|c| l.contains(c)) {
                let c = clip(&s, GIST);
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    let skip = out.len().saturating_sub(max);
    out.into_iter().skip(skip).collect()
}

/// Words of an agent trying a fix or asking the customer to try one.
const ATTEMPT_CUES: [&str; 14] = [
    "try ",
    "tried",
    "please ",
    "restart",
    "clear ",
    "reset",
    "reinstall",
    "update",
    "we have ",
    "i have ",
    "could you",
    "we replaced",
    "we sent",
    "i've",
];
/// Words of a decision.
const DECISION_CUES: [&str; 12] = [
    "we will",
    "we'll",
    "decided",
    "approved",
    "agreed",
    "refund",
    "replace",
    "escalat",
    "credit",
    "we can offer",
    "rma",
    "technician",
];
/// Words of something still to do.
const ACTION_CUES: [&str; 9] = [
    "will ",
    "need to",
    "next step",
    "follow up",
    "by tomorrow",
    "please send",
    "please confirm",
    "waiting for",
    "as soon as",
];

/// Topics in the customer's words and the check each suggests.
const TOPIC_ACTIONS: [(&[&str], &str); 5] = [
    (
        &[
            "refund", "charged", "charge", "invoice", "payment", "billing",
        ],
        "Check the payment history and refund eligibility",
    ),
    (
        &[
            "password",
            "log in",
            "login",
            "sign in",
            "locked out",
            "2fa",
        ],
        "Verify the account status and recent sign-in attempts",
    ),
    (
        &["cancel", "unsubscribe", "terminate"],
        "Review the cancellation request and offer alternatives",
    ),
    (
        &[
            "broken",
            "damaged",
            "dead on arrival",
            "won't turn on",
            "does not turn on",
            "cracked",
        ],
        "Check the warranty and consider an RMA escalation",
    ),
    (
        &[
            "error",
            "crash",
            "bug",
            "not working",
            "doesn't work",
            "does not work",
        ],
        "Reproduce the error and check for known issues",
    ),
];

/// The customer's last open question, if their message is the latest public one.
fn open_question(public: &[&Message<'_>]) -> Option<String> {
    let last = public.last()?;
    if last.party != Party::Customer {
        return None;
    }
    sentences(&masked(last.body))
        .into_iter()
        .rev()
        .find(|s| s.trim_end().ends_with('?') || s.trim_end().ends_with('？'))
        .map(|q| clip(&q, 140))
}

/// Summarizes a ticket and its thread.
#[must_use]
pub fn summarize(f: &Facts<'_>, thread: &[Message<'_>], now: i64) -> Summary {
    let public: Vec<&Message<'_>> = thread.iter().filter(|m| !m.internal).collect();
    // The opening message is the description; a thread without one (an API ticket whose
    // opening was not stored) falls back to the description.
    let mut customer_texts: Vec<&str> = public
        .iter()
        .filter(|m| m.party == Party::Customer)
        .map(|m| m.body)
        .collect();
    if customer_texts.is_empty() {
        customer_texts.push(f.description);
    }
    let agent_texts: Vec<&str> = thread
        .iter()
        .filter(|m| m.party == Party::Agent)
        .map(|m| m.body)
        .collect();
    let customer_all = masked(&customer_texts.join("\n"));
    let mood = sentiment::read(&customer_all).sentiment;
    // A latest message that is frustrated outweighs a calm start.
    let latest_mood = public
        .iter()
        .rev()
        .find(|m| m.party == Party::Customer)
        .map(|m| sentiment::read(m.body).sentiment);
    let mood = match (mood, latest_mood) {
        (_, Some(Sentiment::Frustrated)) => Sentiment::Frustrated,
        (Sentiment::Positive | Sentiment::Neutral, Some(Sentiment::Negative)) => {
            Sentiment::Negative
        }
        (m, _) => m,
    };

    let mut key_points: Vec<String> = key_sentences(&customer_all, 5)
        .into_iter()
        .map(|s| clip(&s, GIST))
        .collect();
    if key_points.is_empty() {
        key_points.push(clip(&masked(f.subject), GIST));
    }

    let customers = public.iter().filter(|m| m.party == Party::Customer).count();
    let replies = public.iter().filter(|m| m.party == Party::Agent).count();
    let notes = thread.iter().filter(|m| m.internal).count();
    let issue = key_sentences(&masked(&format!("{}.\n{}", f.subject, f.description)), 1)
        .into_iter()
        .next()
        .unwrap_or_else(|| masked(f.subject));
    let name = if f.requester_name.trim().is_empty() {
        "The customer"
    } else {
        f.requester_name.trim()
    };
    let mut summary = format!("{name} reports: {}", clip(&issue, 240));
    if !summary.ends_with(['.', '!', '?', '…']) {
        summary.push('.');
    }
    summary.push_str(&format!(
        " {customers} customer message{}, {replies} repl{} and {notes} internal note{} since {}.",
        if customers == 1 { "" } else { "s" },
        if replies == 1 { "y" } else { "ies" },
        if notes == 1 { "" } else { "s" },
        &date(f.created_at)[..10],
    ));
    if let Some(last) = public.last().filter(|_| public.len() > 1) {
        let who = match last.party {
            Party::Customer => "the customer",
            Party::Agent => "the agent",
            Party::System => "the system",
        };
        summary.push_str(&format!(" Latest from {who}: {}", gist(last.body)));
        if !summary.ends_with(['.', '!', '?', '…']) {
            summary.push('.');
        }
    }
    let current_status = format!(
        "{}, {} priority, {}{}",
        f.status,
        f.priority,
        f.assignee_name
            .map_or_else(|| "unassigned".to_owned(), |a| format!("assigned to {a}")),
        if f.sla_breached { "; SLA breached" } else { "" }
    );
    summary.push_str(&format!(" Status: {current_status}."));

    let question = open_question(&public);
    let mut actions: Vec<String> = Vec::new();
    let agent_replied = public.iter().any(|m| m.party == Party::Agent);
    if f.resolved {
        actions.push("Confirm with the customer that the solution worked".into());
    } else {
        if f.sla_breached {
            actions.push("The SLA is breached: reply or escalate now".into());
        }
        if !agent_replied && f.first_response_at.is_none() {
            actions.push(match f.first_response_due_at {
                Some(d) if d > now => format!("Send a first response (due {})", date(d)),
                _ => "Send a first response".into(),
            });
        } else if public.last().is_some_and(|m| m.party == Party::Customer) {
            actions.push("Reply to the customer's latest message".into());
        } else if f.pending {
            actions.push("Wait for the customer's reply and follow up if none comes".into());
        }
        if let Some(q) = &question {
            actions.push(format!("Answer the customer's question: “{q}”"));
        }
        match mood {
            Sentiment::Frustrated => actions.push(
                "Acknowledge the customer's frustration and give a concrete next step with a time"
                    .into(),
            ),
            Sentiment::Negative => {
                actions.push("Reassure the customer and explain what happens next".into());
            }
            _ => {}
        }
        if let Some((_, title)) = f.articles.first() {
            actions.push(format!("Share the article “{title}”"));
        }
        let lower = customer_all.to_lowercase();
        for (words, action) in TOPIC_ACTIONS {
            if words.iter().any(|w| lower.contains(w)) {
                actions.push(action.to_owned());
            }
        }
    }
    actions.dedup();
    actions.truncate(6);

    let timeline = thread
        .iter()
        .map(|m| TimelineEntry {
            at: date(m.at),
            kind: match (m.party, m.internal) {
                (_, true) => "internal_note",
                (Party::Customer, _) => "customer",
                (Party::Agent, _) => "agent",
                (Party::System, _) => "system",
            }
            .to_owned(),
            author: m.author.to_owned(),
            gist: gist(m.body),
        })
        .collect();
    let mut action_items = with_cues(
        &thread
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|m| m.body)
            .collect::<Vec<_>>(),
        &ACTION_CUES,
        4,
    );
    if let Some(q) = question {
        action_items.push(format!("Answer: {q}"));
    }
    let conversation = Conversation {
        timeline,
        resolution_attempts: with_cues(
            &public
                .iter()
                .filter(|m| m.party == Party::Agent)
                .map(|m| m.body)
                .collect::<Vec<_>>(),
            &ATTEMPT_CUES,
            5,
        ),
        key_decisions: with_cues(&agent_texts, &DECISION_CUES, 5),
        action_items,
        current_status,
        member_sentiment: mood,
    };
    Summary {
        summary,
        key_points,
        sentiment: mood,
        suggested_actions: actions,
        conversation,
    }
}

#[cfg(test)]
mod tests {
    use super::{Facts, Message, Party, summarize};
    use crate::ai::sentiment::Sentiment;

    const DAY: i64 = 86_400_000_000;

    fn facts<'a>(description: &'a str) -> Facts<'a> {
        Facts {
            subject: "Cannot log in after password reset",
            description,
            status: "Open",
            resolved: false,
            pending: false,
            priority: "High",
            requester_name: "Jane Roe",
            assignee_name: Some("Sam"),
            created_at: 1_734_000_000_000_000,
            first_response_due_at: None,
            first_response_at: Some(1_734_000_000_000_000 + DAY / 24),
            sla_breached: false,
            articles: vec![("a1".into(), "Reset a forgotten password".into())],
        }
    }

    #[test]
    fn summarizes_masks_and_suggests() {
        let f = facts(
            "I have been unable to log in since Dec 10. I reset my password twice. \
             My card 4111 1111 1111 1111 was charged anyway and my email is jane@example.com.",
        );
        let t0 = f.created_at;
        let thread = [
            Message {
                party: Party::Customer,
                internal: false,
                author: "Jane Roe",
                body: f.description,
                at: t0,
            },
            Message {
                party: Party::Agent,
                internal: false,
                author: "Sam",
                body: "Please try clearing your browser cache and sign in again.",
                at: t0 + DAY / 24,
            },
            Message {
                party: Party::Agent,
                internal: true,
                author: "Sam",
                body: "We will escalate to engineering if the cache is not it.",
                at: t0 + DAY / 12,
            },
            Message {
                party: Party::Customer,
                internal: false,
                author: "Jane Roe",
                body: "This is the third time I write. It is still not working and this is unacceptable! \
                       Can you unlock my account today? Call me at +48 601 234 567.",
                at: t0 + DAY,
            },
        ];
        let s = summarize(&f, &thread, t0 + 2 * DAY);
        let all = format!("{s:?}");
        for secret in ["4111", "jane@example.com", "601 234"] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        assert!(s.summary.starts_with("Jane Roe reports: "), "{}", s.summary);
        assert!(
            s.summary
                .contains("2 customer messages, 1 reply and 1 internal note"),
            "{}",
            s.summary
        );
        assert!(
            s.summary
                .contains("Status: Open, High priority, assigned to Sam."),
            "{}",
            s.summary
        );
        assert_eq!(s.sentiment, Sentiment::Frustrated);
        assert!(!s.key_points.is_empty() && s.key_points.len() <= 5);
        assert_eq!(
            s.suggested_actions[0],
            "Reply to the customer's latest message"
        );
        assert!(
            s.suggested_actions
                .iter()
                .any(|a| a == "Answer the customer's question: “Can you unlock my account today?”"),
            "{:?}",
            s.suggested_actions
        );
        assert!(
            s.suggested_actions
                .iter()
                .any(|a| a.contains("frustration"))
        );
        assert!(
            s.suggested_actions
                .iter()
                .any(|a| a.contains("Reset a forgotten password"))
        );
        let c = &s.conversation;
        assert_eq!(
            c.timeline
                .iter()
                .map(|e| e.kind.as_str())
                .collect::<Vec<_>>(),
            ["customer", "agent", "internal_note", "customer"]
        );
        assert_eq!(
            c.resolution_attempts,
            ["Please try clearing your browser cache and sign in again."]
        );
        assert_eq!(
            c.key_decisions,
            ["We will escalate to engineering if the cache is not it."]
        );
        assert!(
            c.action_items
                .iter()
                .any(|a| a.contains("unlock my account")),
            "{:?}",
            c.action_items
        );
    }

    #[test]
    fn a_new_ticket_asks_for_a_first_response_and_a_resolved_one_for_confirmation() {
        let mut f = facts("The printer in room 4 shows error E-204.");
        f.first_response_at = None;
        f.first_response_due_at = Some(f.created_at + DAY);
        f.articles.clear();
        let s = summarize(&f, &[], f.created_at);
        assert!(
            s.suggested_actions[0].starts_with("Send a first response (due "),
            "{:?}",
            s.suggested_actions
        );
        assert_eq!(s.key_points, ["The printer in room 4 shows error E-204."]);
        assert_eq!(s.sentiment, Sentiment::Negative, "a fault is negative");
        f.resolved = true;
        let s = summarize(&f, &[], f.created_at);
        assert_eq!(
            s.suggested_actions,
            ["Confirm with the customer that the solution worked"]
        );
    }
}
