//! Separates the visible reply from quoted history and signatures: top-posted replies (Gmail,
//! Apple Mail, iPhone, Outlook, localized Outlook headers) keep what comes before the quote;
//! bottom-posted ones (Thunderbird) keep what comes after it. The full original is kept
//! elsewhere (`.eml`), so cutting too much loses nothing.

/// Lines that start a quoted original in the languages support teams meet most.
const SEPARATORS: [&str; 8] = [
    "-----original message-----",
    "-----ursprüngliche nachricht-----",
    "-----message d'origine-----",
    "-----mensaje original-----",
    "-------- original message --------",
    "-------- forwarded message --------",
    "---------- forwarded message ---------",
    "________________________________",
];

/// Header names of an Outlook-style quoted block (`From: … Sent: … To: … Subject: …`).
const FROM: [&str; 5] = ["from:", "von:", "de:", "van:", "da:"];
const HEADER_FOLLOWERS: [&str; 12] = [
    "sent:",
    "date:",
    "to:",
    "subject:",
    "gesendet:",
    "datum:",
    "an:",
    "betreff:",
    "envoyé :",
    "envoyé:",
    "objet :",
    "enviado:",
];

fn is_quote_intro(line: &str, next: Option<&str>) -> bool {
    let l = line.trim().to_lowercase();
    // "On … wrote:", "Am … schrieb Name <a@b>:", "Le … a écrit :", "El … escribió:".
    let ends = |s: &str| {
        s.ends_with(':')
            && [
                " wrote",
                " schrieb",
                " a écrit",
                " escribió",
                " scritto",
                " geschreven",
                " schreef",
            ]
            .iter()
            .any(|v| s.contains(v))
    };
    let starts = ["on ", "am ", "le ", "el ", "il ", "op "]
        .iter()
        .any(|p| l.starts_with(p));
    if starts && ends(&l) {
        return true;
    }
    // An intro wrapped onto a second line by the sender's client.
    if starts && let Some(n) = next {
        let joined = format!("{l} {}", n.trim().to_lowercase());
        return ends(&joined) && l.len() < 200;
    }
    false
}

fn is_header_block(lines: &[&str], i: usize) -> bool {
    let l = lines[i].trim().to_lowercase();
    if !FROM.iter().any(|f| l.starts_with(f)) {
        return false;
    }
    lines[i + 1..].iter().take(4).any(|n| {
        let n = n.trim().to_lowercase();
        HEADER_FOLLOWERS.iter().any(|h| n.starts_with(h))
    })
}

/// Where the quoted original starts (a separator, an "On … wrote:" line, an Outlook header
/// block or a `>` line), if anywhere.
fn quote_start(lines: &[&str]) -> Option<usize> {
    (0..lines.len()).find(|&i| {
        let t = lines[i].trim();
        let lower = t.to_lowercase();
        t.starts_with('>')
            || SEPARATORS.iter().any(|s| lower.starts_with(s))
            || is_quote_intro(t, lines.get(i + 1).copied())
            || is_header_block(lines, i)
    })
}

fn trim_lines(lines: &[&str]) -> String {
    let text = lines.join("\n");
    text.trim_matches(|c: char| c == '\n' || c == '\r' || c.is_whitespace())
        .to_owned()
}

/// Cuts a signature that follows the standard delimiter line (`-- `).
fn strip_signature(lines: &[&str]) -> Vec<String> {
    let end = lines
        .iter()
        .position(|l| *l == "-- " || *l == "--")
        .unwrap_or(lines.len());
    lines[..end].iter().map(|s| (*s).to_owned()).collect()
}

/// The part of a plain-text message body the sender actually wrote.
#[must_use]
pub fn visible_reply(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalized.lines().collect();
    let visible = match quote_start(&lines) {
        Some(start) => {
            let before = trim_lines(&lines[..start]);
            if before.is_empty() {
                // Bottom-posted: the reply follows the quote. Skip the quote's intro (one
                // line, or two when wrapped) and the quoted lines; keep the rest.
                let first = lines[start].trim();
                let skip = if first.starts_with('>') {
                    0
                } else if is_quote_intro(first, None) {
                    1
                } else if is_quote_intro(first, lines.get(start + 1).copied()) {
                    2
                } else {
                    // A separator or header block with nothing before it: all of it is quote.
                    lines.len() - start
                };
                let after: Vec<&str> = lines[start + skip..]
                    .iter()
                    .filter(|l| !l.trim().starts_with('>'))
                    .copied()
                    .collect();
                trim_lines(&after)
            } else {
                before
            }
        }
        None => trim_lines(&lines),
    };
    let kept: Vec<&str> = visible.lines().collect();
    let out = trim_lines(
        &strip_signature(&kept)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    if out.is_empty() {
        normalized.trim().to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::visible_reply;

    #[test]
    fn top_posted_replies_keep_what_comes_first() {
        assert_eq!(
            visible_reply(
                "Thanks!\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan <m@x.io> wrote:\n\n> Hi\n"
            ),
            "Thanks!"
        );
        assert_eq!(
            visible_reply(
                "Sure.\r\n\r\nOn Apr 3, 2012, at 4:19 PM, bob <bob@example.com>\r\nwrote:\r\n> Hi"
            ),
            "Sure."
        );
        assert_eq!(
            visible_reply(
                "Ok\n\nFrom: Support [mailto:s@x.io]\nSent: Monday\nTo: me\nSubject: x\n\nold"
            ),
            "Ok"
        );
        assert_eq!(
            visible_reply("Ja.\n\nAm 02.04.2012 um 18:26 schrieb Megan <m@x.io>:\n> Hallo"),
            "Ja."
        );
    }

    #[test]
    fn bottom_posted_replies_keep_what_follows_the_quote() {
        assert_eq!(
            visible_reply("On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi \nHello\n"),
            "Hello"
        );
    }

    #[test]
    fn signatures_are_cut_and_plain_text_is_kept() {
        assert_eq!(visible_reply("Hi there\n-- \nBob\nCEO"), "Hi there");
        assert_eq!(
            visible_reply("No quote here.\nSecond line."),
            "No quote here.\nSecond line."
        );
        // A message that is only a quote keeps its text rather than becoming empty.
        assert_eq!(visible_reply("> only quoted"), "> only quoted");
    }
}
