//! Extractive summaries: the sentences of a conversation that say the most, picked by their
//! centrality (TextRank: a sentence that shares words with many others ranks high), with
//! near-repeats dropped and the picks kept in the order they were written. Works offline on
//! any language with spaces between words; Chinese and Japanese are compared by character
//! pairs.

use std::collections::HashSet;

/// Words too common to tell sentences apart (English and German, the corpus's largest).
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "do", "does",
    "for", "from", "had", "has", "have", "he", "her", "his", "i", "if", "in", "into", "is", "it",
    "its", "me", "my", "no", "not", "of", "on", "or", "our", "please", "she", "so", "that", "the",
    "their", "them", "then", "there", "this", "to", "us", "was", "we", "were", "what", "when",
    "which", "will", "with", "would", "you", "your", "hi", "hello", "thanks", "thank", "regards",
    "der", "die", "das", "und", "ist", "ich", "sie", "wir", "nicht", "mit", "ein", "eine", "zu",
    "den", "von", "auf", "für", "bitte", "danke",
];

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

/// The sentences of `text`: split after `.`, `!`, `?` (and their full-width forms) and at line
/// breaks; quoted lines (`>`) and fragments too short to say anything are left out.
#[must_use]
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('>') {
            continue;
        }
        let mut current = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            current.push(c);
            let ends = matches!(c, '。' | '！' | '？')
                || (matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace()));
            if ends {
                push_sentence(&mut out, &current);
                current.clear();
            }
        }
        push_sentence(&mut out, &current);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, s: &str) {
    let s = s.trim();
    let words = s.split_whitespace().count();
    let cjk = s.chars().filter(|c| is_cjk(*c)).count();
    if words >= 4 || cjk >= 6 {
        out.push(s.to_owned());
    }
}

/// The comparable terms of a sentence: lower-cased words without stop words, and pairs of
/// adjacent characters in Chinese or Japanese runs.
fn terms(sentence: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let lower = sentence.to_lowercase();
    let mut run: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_word = |word: &mut String, out: &mut HashSet<String>| {
        if word.chars().count() > 1 && !STOPWORDS.contains(&word.as_str()) {
            out.insert(std::mem::take(word));
        }
        word.clear();
    };
    let flush_run = |run: &mut Vec<char>, out: &mut HashSet<String>| {
        for pair in run.windows(2) {
            out.insert(pair.iter().collect());
        }
        run.clear();
    };
    for c in lower.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.push(c);
        } else {
            flush_word(&mut word, &mut out);
            flush_run(&mut run, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_run(&mut run, &mut out);
    out
}

/// TextRank's similarity: shared terms over the logs of the sentences' sizes.
fn similarity(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let shared = a.intersection(b).count();
    if shared == 0 || a.len() < 2 || b.len() < 2 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "sentence sizes are small")]
    let (s, la, lb) = (shared as f64, a.len() as f64, b.len() as f64);
    s / (la.ln() + lb.ln())
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "sentence sizes are small")]
    let j = a.intersection(b).count() as f64 / union as f64;
    j
}

/// Centrality of each sentence (PageRank over the similarity graph, damping 0.85).
fn rank(sets: &[HashSet<String>]) -> Vec<f64> {
    let n = sets.len();
    let mut w = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let s = similarity(&sets[i], &sets[j]);
            w[i][j] = s;
            w[j][i] = s;
        }
    }
    let out_sum: Vec<f64> = w.iter().map(|row| row.iter().sum()).collect();
    #[expect(
        clippy::cast_precision_loss,
        reason = "a conversation's sentence count"
    )]
    let nf = n as f64;
    let mut score = vec![1.0 / nf; n];
    for _ in 0..50 {
        let next: Vec<f64> = (0..n)
            .map(|i| {
                let flow: f64 = (0..n)
                    .filter(|&j| out_sum[j] > 0.0)
                    .map(|j| w[j][i] / out_sum[j] * score[j])
                    .sum();
                0.15 / nf + 0.85 * flow
            })
            .collect();
        let delta: f64 = next.iter().zip(&score).map(|(a, b)| (a - b).abs()).sum();
        score = next;
        if delta < 1e-9 {
            break;
        }
    }
    score
}

/// Up to `k` sentences that summarize `text`, in the order they were written. A sentence
/// sharing more than half its terms with one already picked is skipped as a repeat.
#[must_use]
pub fn key_sentences(text: &str, k: usize) -> Vec<String> {
    let all = sentences(text);
    if all.len() <= k {
        return all;
    }
    let sets: Vec<HashSet<String>> = all.iter().map(|s| terms(s)).collect();
    let score = rank(&sets);
    let mut order: Vec<usize> = (0..all.len()).collect();
    // Highest score first; on a tie the earlier sentence.
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    let mut picked: Vec<usize> = Vec::new();
    for i in order {
        if picked.len() == k {
            break;
        }
        if picked.iter().all(|&p| jaccard(&sets[p], &sets[i]) <= 0.5) {
            picked.push(i);
        }
    }
    picked.sort_unstable();
    picked.into_iter().map(|i| all[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::{key_sentences, sentences};

    const THREAD: &str = "Hi Sam,\n\
        Our label printer in the Berlin warehouse stopped printing shipping labels this morning.\n\
        The label printer shows error E-204 after every restart.\n\
        We restarted the label printer twice and replaced the label roll.\n\
        Our courier pickup is at 4 pm today.\n\
        By the way, the weather in Berlin is lovely.\n\
        > On Monday you wrote: please update the firmware.\n\
        Could you send a technician for the label printer before the pickup?\n\
        Thanks,\nAnna";

    #[test]
    fn sentences_skip_greetings_quotes_and_fragments() {
        let s = sentences(THREAD);
        assert_eq!(s.len(), 6, "{s:?}");
        assert!(
            s.iter()
                .all(|x| !x.starts_with('>') && !x.starts_with("Hi"))
        );
        assert_eq!(
            sentences("First part is here. Second part is here! 第三句话在这里说明问题。"),
            [
                "First part is here.",
                "Second part is here!",
                "第三句话在这里说明问题。"
            ]
        );
    }

    #[test]
    fn the_central_sentences_are_picked_in_order() {
        let picked = key_sentences(THREAD, 3);
        assert_eq!(picked.len(), 3);
        // The printer is what the thread is about; the weather is not.
        assert!(picked.iter().all(|s| s.contains("label")), "{picked:?}");
        assert!(!picked.iter().any(|s| s.contains("weather")));
        // Kept in the order they were written.
        let all = sentences(THREAD);
        let pos: Vec<usize> = picked
            .iter()
            .map(|p| {
                all.iter()
                    .position(|s| s == p)
                    .expect("a sentence of the text")
            })
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
    }

    #[test]
    fn repeats_are_picked_once() {
        let text = "The VPN drops every twenty minutes for the whole office.\n\
            The VPN drops every twenty minutes for the whole office!\n\
            The VPN drops every twenty minutes for the whole office today.\n\
            Sales cannot reach the CRM while the VPN is down.\n\
            The office router was replaced last week by the provider.";
        let picked = key_sentences(text, 2);
        let vpn_repeats = picked
            .iter()
            .filter(|s| s.starts_with("The VPN drops"))
            .count();
        assert_eq!(vpn_repeats, 1, "{picked:?}");
    }

    #[test]
    fn short_texts_come_back_whole() {
        assert!(key_sentences("", 3).is_empty());
        assert_eq!(
            key_sentences("The invoice for March is missing.", 3),
            ["The invoice for March is missing."]
        );
    }
}
