//! Personal data out of text before it is summarized or sent to a language model: payment
//! card numbers (Luhn-checked), IBANs (ISO 13616 mod-97-checked), email addresses and phone
//! numbers become placeholders. What an agent needs to identify the customer comes from the
//! ticket's own fields (name, address), never from masked text.
//!
//! Checksums keep order numbers, serials and dates that merely look like numbers: a 16-digit
//! number is a card only when its Luhn sum says so, and an IBAN only when mod 97 leaves 1.

use std::sync::LazyLock;

use regex::Regex;

/// Masked text and how much of each kind was masked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Masked {
    pub text: String,
    pub cards: usize,
    pub ibans: usize,
    pub emails: usize,
    pub phones: usize,
}

impl Masked {
    /// Whether anything was masked.
    #[must_use]
    pub fn any(&self) -> bool {
        self.cards + self.ibans + self.emails + self.phones > 0
    }
}

pub const CARD: &str = "[card number]";
pub const IBAN: &str = "[IBAN]";
pub const EMAIL: &str = "[email]";
pub const PHONE: &str = "[phone]";

#[expect(
    clippy::expect_used,
    reason = "constant patterns, checked by the tests"
)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

static IBAN_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}\b"));
static CARD_RE: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d(?:[ -]?\d){12,18}\b"));
static EMAIL_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));
/// International (`+48 601 234 567`, `0049 30 1234567`) and grouped national numbers
/// (`(555) 010-0199`, `030 1234 5678`, `601-234-567`).
static PHONE_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\+|\b00)\d[\d ()./-]{6,20}\d|\(\d{2,5}\)[ ]?\d{2,5}(?:[ ./-]\d{2,5}){0,3}|\b\d{2,5}(?:[ ./-]\d{2,5}){2,4}\b",
    )
});
/// Dates (and a time after them) that the phone pattern would otherwise take (`2024-03-04`,
/// `04.03.2024 09`).
static DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?:\D|$)")
});

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The Luhn checksum of a card number's digits.
#[must_use]
pub fn luhn(number: &str) -> bool {
    let d = digits(number);
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let sum: u32 = d
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let n = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = n * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                n
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ISO 13616 check of an IBAN (spaces allowed).
#[must_use]
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u64 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c.to_digit(36) {
            Some(v) => u64::from(v),
            None => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn is_phone(candidate: &str) -> bool {
    let n = digits(candidate).len();
    let international = candidate.starts_with('+') || candidate.starts_with("00");
    (if international { 8..=15 } else { 9..=15 }).contains(&n)
        && !DATE_RE.is_match(candidate.trim())
}

/// Replaces every match of `re` that `keep` accepts with `placeholder`; answers the count.
fn replace(
    text: &str,
    re: &Regex,
    keep: impl Fn(&str) -> bool,
    placeholder: &str,
) -> (String, usize) {
    let mut n = 0;
    let out = re
        .replace_all(text, |c: &regex::Captures<'_>| {
            let m = &c[0];
            if keep(m) {
                n += 1;
                placeholder.to_owned()
            } else {
                m.to_owned()
            }
        })
        .into_owned();
    (out, n)
}

/// Masks payment cards, IBANs, email addresses and phone numbers in `text`.
#[must_use]
pub fn mask(text: &str) -> Masked {
    // IBANs first (their digits could pass for a card), then cards, addresses, phones.
    let (text, ibans) = replace(text, &IBAN_RE, iban_valid, IBAN);
    let (text, cards) = replace(&text, &CARD_RE, luhn, CARD);
    let (text, emails) = replace(&text, &EMAIL_RE, |_| true, EMAIL);
    let (text, phones) = replace(&text, &PHONE_RE, is_phone, PHONE);
    Masked {
        text,
        cards,
        ibans,
        emails,
        phones,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_masked_only_when_their_checksum_holds() {
        let m = mask("Charged twice on 4111 1111 1111 1111 and 5500-0000-0000-0004.");
        assert_eq!(m.text, "Charged twice on [card number] and [card number].");
        assert_eq!(m.cards, 2);
        // Same shape, wrong checksum: an order number stays.
        let m = mask("Order 1234 5678 9012 3456 is late");
        assert_eq!(m.text, "Order 1234 5678 9012 3456 is late");
        assert!(!m.any());
        assert!(luhn("378282246310005") && !luhn("378282246310006"));
    }

    #[test]
    fn ibans_are_masked_when_valid() {
        let m = mask("Refund to DE89 3704 0044 0532 0130 00 please, or GB82WEST12345698765432.");
        assert_eq!(m.text, "Refund to [IBAN] please, or [IBAN].");
        assert_eq!(m.ibans, 2);
        // One digit off: not an IBAN (and not a card either).
        let m = mask("Reference DE89 3704 0044 0532 0130 01");
        assert_eq!(m.ibans, 0);
        assert!(iban_valid("PL61 1090 1014 0000 0712 1981 2874"));
    }

    #[test]
    fn addresses_and_phones_are_masked() {
        let m = mask(
            "Write to jane.doe+billing@example.co.uk or call +48 601 234 567, (555) 010-0199, 0049 30 1234567 or 030 1234 5678.",
        );
        assert_eq!(
            m.text,
            "Write to [email] or call [phone], [phone], [phone] or [phone]."
        );
        assert_eq!((m.emails, m.phones), (1, 4));
    }

    #[test]
    fn dates_times_and_short_numbers_stay() {
        for text in [
            "Since 2024-03-04 the unit restarts.",
            "Visit on 04.03.2024 09:12 confirmed.",
            "Error E-204 on model X200, serial SN-88213, ticket #1042.",
            "It happened 3 times in 12 hours.",
            "Invoice 2024/118 of 12.05.24",
        ] {
            let m = mask(text);
            assert_eq!(m.text, text, "{m:?}");
        }
    }
}
