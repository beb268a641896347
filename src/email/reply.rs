//! Separates the visible reply from quoted history and signatures: top-posted replies (Gmail,
//! Apple Mail, iPhone, Outlook, Thunderbird, Yahoo, Mail.ru, QQ…) keep what comes before the
//! quote; bottom-posted ones keep what follows it. The shapes are recognized in English,
//! German, French, Spanish, Italian, Portuguese, Dutch, Polish, Russian, Swedish, Japanese and
//! Chinese (see `tests/fixtures/replies/`). The full original is kept elsewhere (`.eml`), so
//! cutting too much loses nothing.
//!
//! (The `email_reply_parser` crate ports GitHub's English-only rules; these are wider.)

/// The words of a separator line once its dashes, underscores and colon are taken off:
/// `----- Original Message -----`, `-------- Weitergeleitete Nachricht --------`,
/// `Begin forwarded message:`, `------------------ 原始邮件 ------------------`.
const SEPARATOR_WORDS: &[&str] = &[
    "original message",
    "forwarded message",
    "begin forwarded message",
    "ursprüngliche nachricht",
    "originalnachricht",
    "weitergeleitete nachricht",
    "anfang der weitergeleiteten nachricht",
    "message d'origine",
    "message original",
    "message transféré",
    "début du message réexpédié",
    "début du message transféré",
    "mensaje original",
    "mensaje reenviado",
    "inicio del mensaje reenviado",
    "messaggio originale",
    "messaggio inoltrato",
    "inizio messaggio inoltrato",
    "mensagem original",
    "mensagem encaminhada",
    "início da mensagem encaminhada",
    "oorspronkelijk bericht",
    "origineel bericht",
    "doorgestuurd bericht",
    "begin doorgestuurd bericht",
    "wiadomość oryginalna",
    "oryginalna wiadomość",
    "przekazana wiadomość",
    "wiadomość przekazana dalej",
    "początek przekazywanej wiadomości",
    "исходное сообщение",
    "пересылаемое сообщение",
    "пересланное сообщение",
    "начало переадресованного сообщения",
    "ursprungligt meddelande",
    "vidarebefordrat meddelande",
    "vidarebefordrat brev",
    "元のメッセージ",
    "転送メッセージ",
    "転送されたメッセージ",
    "原始邮件",
    "原始郵件",
    "原邮件",
    "转发的邮件",
    "转发邮件",
    "转发邮件信息",
    "轉寄的郵件",
    "轉寄郵件",
];

/// Verbs of a "… wrote:" intro: `On … wrote:`, `Am … schrieb …:`, `Le … a écrit :`,
/// `El … escribió:`, `Il … ha scritto:`, `Em … escreveu:`, `Op … schreef …:`,
/// `W dniu … pisze:` / `napisał(a):`, `… написал:` / `пишет:`, `Den … skrev …:`,
/// `…さんは書きました:` / `…のメール:`, `… 写道：` / `寫道：`.
const INTRO_VERBS: &[&str] = &[
    "wrote",
    "schrieb",
    "a écrit",
    "escribió",
    "scritto",
    "escreveu",
    "schreef",
    "geschreven",
    "napisał",
    "pisze",
    "написал",
    "пишет",
    "skrev",
    "写道",
    "寫道",
    "書きました",
    "のメール",
    "のメッセージ",
];

/// How an intro starts in languages where it starts with a fixed word (`On …`, `Am …`).
const INTRO_STARTS: &[&str] = &[
    "on ", "am ", "le ", "el ", "il ", "em ", "op ", "w dniu ", "den ", "在 ", "於 ",
];

/// The first header of an Outlook-style quoted block (`From:`, `Von:`, `De :`, `差出人:`…).
const FROM_KEYS: &[&str] = &[
    "from",
    "von",
    "de",
    "da",
    "van",
    "od",
    "от",
    "från",
    "差出人",
    "发件人",
    "寄件者",
    "寄件人",
];

/// The headers that follow it (`Sent:`, `To:`, `Subject:`… in the same languages).
const HEADER_KEYS: &[&str] = &[
    "sent",
    "date",
    "to",
    "cc",
    "subject", // en
    "gesendet",
    "datum",
    "an",
    "betreff", // de
    "envoyé",
    "à",
    "a",
    "objet",
    "pour",
    "sujet", // fr
    "enviado",
    "enviado el",
    "para",
    "asunto",
    "fecha", // es
    "inviato",
    "oggetto",
    "data", // it
    "enviada em",
    "assunto", // pt
    "verzonden",
    "aan",
    "onderwerp", // nl
    "wysłane",
    "wysłano",
    "do",
    "dw",
    "temat", // pl
    "отправлено",
    "кому",
    "копия",
    "тема",
    "дата", // ru
    "skickat",
    "till",
    "kopia",
    "ämne", // sv
    "送信日時",
    "宛先",
    "件名",
    "日付", // ja
    "发送时间",
    "收件人",
    "抄送",
    "主题",
    "日期",
    "寄件日期",
    "收件者",
    "副本",
    "主旨", // zh
];

/// Lines a phone or mail app adds under the reply: "Sent from my iPhone", "Von meinem iPhone
/// gesendet", "iPhoneから送信"…
const MOBILE_STARTS: &[&str] = &[
    "sent from my ",
    "sent from outlook",
    "sent from mail for",
    "sent from yahoo mail",
    "sent from samsung",
    "sent via ",
    "get outlook for ",
    "von meinem ",
    "gesendet von meinem ",
    "gesendet mit ",
    "envoyé de mon ",
    "envoyé depuis ",
    "enviado desde mi ",
    "enviado desde ",
    "inviato da ",
    "enviado do meu ",
    "enviado de meu ",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
    "wysłane z ",
    "wysłano z ",
    "отправлено с ",
    "отправлено из ",
    "skickat från ",
    "发自我的",
    "从我的",
    "從我的",
];
const MOBILE_ENDS: &[&str] = &["から送信", "から送信しました"];

/// A line made comparable: trimmed, lower case, full-width colons as ASCII, and without the
/// `*bold*` marks a client leaves when it turns HTML into text.
fn norm(line: &str) -> String {
    line.trim()
        .replace('：', ":")
        .trim_matches('*')
        .trim()
        .to_lowercase()
}

fn is_separator(line: &str) -> bool {
    let l = norm(line);
    // Outlook's rule above its header block.
    if l.chars().count() >= 20 && l.chars().all(|c| c == '_') {
        return true;
    }
    let words =
        l.trim_matches(|c: char| c == '-' || c == '_' || c == '=' || c == ':' || c.is_whitespace());
    SEPARATOR_WORDS.contains(&words)
}

/// Whether (already normalized) text is a whole "… wrote:" intro.
fn intro_text(l: &str) -> bool {
    if !l.ends_with(':') || l.chars().count() > 300 {
        return false;
    }
    let dated = l.chars().any(|c| c.is_ascii_digit()) || l.contains('@');
    let started = INTRO_STARTS.iter().any(|p| l.starts_with(p));
    if INTRO_VERBS.iter().any(|v| l.contains(v)) && (dated || started) {
        return true;
    }
    // Gmail in Russian, Japanese and others: a date, then the sender, then only a colon
    // (`пн, 4 мар. 2024 г. в 09:12, Name <a@b>:`).
    let without_colon = l[..l.len() - 1].trim_end();
    without_colon.ends_with('>') && l.contains('@') && l.chars().any(|c| c.is_ascii_digit())
}

/// Whether the line starts an intro, alone or wrapped onto the next line by the sender's
/// client (`On … Support <` / `support@x> wrote:`).
fn is_quote_intro(line: &str, next: Option<&str>) -> bool {
    let l = norm(line);
    if l.is_empty() {
        return false;
    }
    if intro_text(&l) {
        return true;
    }
    let Some(next) = next else { return false };
    let n = norm(next);
    if n.is_empty() || l.ends_with(':') {
        return false;
    }
    // The first half must already look like an intro: its opening word, a date first, or the
    // sender's address (`On … Support <` / `support@x> wrote:`).
    let looks = INTRO_STARTS.iter().any(|p| l.starts_with(p))
        || l.starts_with(|c: char| c.is_ascii_digit())
        || l.contains('@')
        || l.contains('<');
    // A sentence of the reply just above a one-line intro is not its first half.
    let sentence = l.ends_with(['.', '!', '?', '。', '！', '？']);
    looks && !(sentence && intro_text(&n)) && intro_text(&format!("{l} {n}"))
}

/// The header name of a `Name: value` line, if it has one.
fn header_key(line: &str) -> Option<String> {
    let l = norm(line);
    let (key, _) = l.split_once(':')?;
    let key = key.trim().trim_matches('*').trim();
    (!key.is_empty() && key.chars().count() <= 24).then(|| key.to_owned())
}

/// An Outlook-style block: a `From:` line followed within five lines by another header.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let Some(key) = header_key(lines[i]) else {
        return false;
    };
    if !FROM_KEYS.contains(&key.as_str()) {
        return false;
    }
    lines[i + 1..]
        .iter()
        .take(5)
        .any(|n| header_key(n).is_some_and(|k| HEADER_KEYS.contains(&k.as_str())))
}

/// Where the quoted original starts (a separator, an "On … wrote:" line, an Outlook header
/// block or a `>` line), if anywhere.
fn quote_start(lines: &[&str]) -> Option<usize> {
    (0..lines.len()).find(|&i| {
        lines[i].trim_start().starts_with('>')
            || is_separator(lines[i])
            || is_quote_intro(lines[i], lines.get(i + 1).copied())
            || is_header_block(lines, i)
    })
}

fn trim_lines<S: AsRef<str>>(lines: &[S]) -> String {
    let text = lines
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("\n");
    text.trim_matches(|c: char| c == '\n' || c == '\r' || c.is_whitespace())
        .to_owned()
}

fn is_mobile_signature(line: &str) -> bool {
    let l = norm(line);
    l.chars().count() <= 80
        && (MOBILE_STARTS.iter().any(|p| l.starts_with(p))
            || MOBILE_ENDS.iter().any(|e| l.ends_with(e)))
}

/// Cuts a signature that follows the standard delimiter line (`-- `), and a phone's
/// "Sent from my …" line when it is the last thing written.
fn strip_signature<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let mut end = lines
        .iter()
        .position(|l| *l == "-- " || *l == "--")
        .unwrap_or(lines.len());
    if let Some(last) = lines[..end].iter().rposition(|l| !l.trim().is_empty())
        && is_mobile_signature(lines[last])
    {
        end = last;
    }
    lines[..end].to_vec()
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
                let first = lines[start];
                let skip = if first.trim_start().starts_with('>') {
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
                    .filter(|l| !l.trim_start().starts_with('>'))
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
    let out = trim_lines(&strip_signature(&kept));
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

    /// One case of the written test set (`tests/fixtures/replies/`).
    struct Case {
        name: String,
        body: String,
        expect: String,
    }

    fn cases(file: &str, text: &str) -> Vec<Case> {
        let mut out = Vec::new();
        for chunk in text.split("%%% case ").skip(1) {
            let (head, rest) = chunk.split_once('\n').expect("a case name line");
            let (body, expect) = rest.split_once("%%% expect\n").expect("an expect marker");
            out.push(Case {
                name: format!("{file}/{}", head.trim()),
                body: body.to_owned(),
                expect: expect.trim().to_owned(),
            });
        }
        out
    }

    #[test]
    fn written_corpus() {
        let files: [(&str, &str); 12] = [
            ("en", include_str!("../../tests/fixtures/replies/en.txt")),
            ("de", include_str!("../../tests/fixtures/replies/de.txt")),
            ("fr", include_str!("../../tests/fixtures/replies/fr.txt")),
            ("es", include_str!("../../tests/fixtures/replies/es.txt")),
            ("it", include_str!("../../tests/fixtures/replies/it.txt")),
            ("pt", include_str!("../../tests/fixtures/replies/pt.txt")),
            ("nl", include_str!("../../tests/fixtures/replies/nl.txt")),
            ("pl", include_str!("../../tests/fixtures/replies/pl.txt")),
            ("ru", include_str!("../../tests/fixtures/replies/ru.txt")),
            ("sv", include_str!("../../tests/fixtures/replies/sv.txt")),
            ("ja", include_str!("../../tests/fixtures/replies/ja.txt")),
            ("zh", include_str!("../../tests/fixtures/replies/zh.txt")),
        ];
        let all: Vec<Case> = files.iter().flat_map(|(f, t)| cases(f, t)).collect();
        assert!(all.len() >= 100, "the set has {} messages", all.len());
        let failed: Vec<String> = all
            .iter()
            .filter_map(|c| {
                let got = visible_reply(&c.body);
                (got != c.expect)
                    .then(|| format!("{}:\n--- got\n{got}\n--- want\n{}", c.name, c.expect))
            })
            .collect();
        println!(
            "reply extraction: {} of {} written messages right",
            all.len() - failed.len(),
            all.len()
        );
        assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    }
}
