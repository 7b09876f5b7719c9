//! Durations in words: "for 2h", "90 minutes", "1h30m", "an hour", "until tomorrow".
//!
//! The result is a string `parse_duration` understands, or the user's own words when they are not
//! a duration Warden can grant ("forever", "0h"), so that validation asks instead of guessing.
//! Calendar phrases have fixed meanings (see `PHRASES`); there is no clock here, so
//! "until 5pm" is not understood and the resource's default applies.

use crate::domain::{format_duration, parse_duration};
use std::collections::HashSet;
use std::sync::LazyLock;

/// A duration found at `tokens` (word indices, end exclusive).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Hit {
    pub value: String,
    pub tokens: std::ops::Range<usize>,
    /// "another hour", "30 more minutes": the person wants to extend.
    pub additional: bool,
    /// Introduced by "for", "till", "until"… (used to accept a duration found inside a reason).
    pub led: bool,
}

/// What the literal "forever"-like words become: not a duration, so validation asks how long.
const FOREVER: &str = "forever";

/// Fixed phrases: words, value, whether a lead word ("for", "until"…) must come before.
/// Time-of-day phrases need a lead so that "I broke it this morning" is not a duration.
const PHRASES: &[(&str, &str, bool)] = &[
    ("an hour and a half", "1h30m", false),
    ("one and a half hours", "1h30m", false),
    ("an hour or two", "2h", false),
    ("an hour or so", "1h", false),
    ("half an hour", "30m", false),
    ("half hour", "30m", false),
    ("half a day", "4h", false),
    ("half day", "4h", false),
    ("a few minutes", "15m", false),
    ("a few mins", "15m", false),
    ("a couple of minutes", "5m", false),
    ("the rest of the day", "8h", true),
    ("rest of the day", "8h", true),
    ("the end of the day", "8h", true),
    ("end of the day", "8h", true),
    ("end of day", "8h", true),
    ("close of business", "8h", true),
    ("eod", "8h", true),
    ("cob", "8h", true),
    ("the day", "8h", true),
    ("today", "8h", true),
    ("tomorrow", "8h", true),
    ("the afternoon", "4h", true),
    ("this afternoon", "4h", true),
    ("the morning", "4h", true),
    ("this morning", "4h", true),
    ("tonight", "12h", true),
    ("the night", "12h", true),
    ("overnight", "12h", false),
    ("the rest of the week", "1w", true),
    ("the weekend", "2d", true),
    ("this weekend", "2d", true),
    ("the week", "1w", true),
    ("this week", "1w", true),
    ("my shift", "8h", true),
    ("the shift", "8h", true),
    ("forever", FOREVER, false),
    ("permanently", FOREVER, false),
    ("permanent", FOREVER, false),
    ("indefinitely", FOREVER, false),
    ("for good", FOREVER, false),
    ("no expiry", FOREVER, false),
    ("no expiration", FOREVER, false),
    ("no end date", FOREVER, false),
];

const LEADS: &[&str] = &[
    "for", "till", "til", "until", "untill", "through", "thru", "to", "over", "by",
];
const MORE: &[&str] = &["another", "more", "extra", "additional"];

/// The first duration among the words for which `allowed` holds.
pub(super) fn find(words: &[&str], allowed: impl Fn(usize) -> bool) -> Option<Hit> {
    (0..words.len())
        .filter(|&i| allowed(i))
        .find_map(|i| at(words, i, &allowed))
}

fn at(words: &[&str], i: usize, allowed: &impl Fn(usize) -> bool) -> Option<Hit> {
    let lead = i
        .checked_sub(1)
        .filter(|&p| allowed(p) && LEADS.contains(&words[p]));
    let more_before = i.checked_sub(1).is_some_and(|p| MORE.contains(&words[p]));
    // "by eod" is a deadline for the approval, not how long the access should last.
    let phrase_led = lead.is_some_and(|p| words[p] != "by");
    let (value, len, more_inside) =
        phrase_at(words, i, phrase_led).or_else(|| amount_at(words, i))?;
    let end = i + len;
    if !(i..end).all(allowed) {
        return None;
    }
    Some(Hit {
        value,
        tokens: lead.unwrap_or(i)..end,
        additional: more_before || more_inside,
        led: lead.is_some(),
    })
}

/// The words a phrase can start with: any other word starts none, and is passed over at once.
static PHRASE_STARTS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    PHRASES
        .iter()
        .filter_map(|(phrase, _, _)| phrase.split(' ').next())
        .collect()
});

fn phrase_at(words: &[&str], i: usize, led: bool) -> Option<(String, usize, bool)> {
    if !PHRASE_STARTS.contains(words.get(i)?) {
        return None;
    }
    PHRASES.iter().find_map(|&(phrase, value, needs_lead)| {
        let len = starts_with(words, i, phrase)?;
        (led || !needs_lead).then(|| (value.to_string(), len, false))
    })
}

/// Number of words `phrase` covers when it starts at word `i`.
fn starts_with(words: &[&str], i: usize, phrase: &str) -> Option<usize> {
    let mut len = 0;
    for (k, part) in phrase.split(' ').enumerate() {
        if words.get(i + k) != Some(&part) {
            return None;
        }
        len = k + 1;
    }
    Some(len)
}

/// Most amounts read as one duration ("1w 2d 3h 30m 10s" is five). A longer run is not a
/// duration anyone means, and without a cap every start inside a run of thousands would read
/// to its end again.
const MAX_AMOUNTS: usize = 6;

/// "2h", "1h30m", "2 hours", "1 hour and 30 minutes", "an hour", "two days", "30 more minutes".
fn amount_at(words: &[&str], i: usize) -> Option<(String, usize, bool)> {
    let mut total = 0.0_f64;
    let mut j = i;
    let mut more = false;
    let mut amounts = 0;
    while let Some((secs, used, extra)) = one_amount(words, j) {
        amounts += 1;
        total += secs;
        more |= extra;
        j += used;
        // "1 hour and 30 minutes", "1h 30m"
        let skip = usize::from(words.get(j) == Some(&"and"));
        if amounts == MAX_AMOUNTS || one_amount(words, j + skip).is_none() {
            break;
        }
        j += skip;
    }
    (j > i).then(|| (render(&words[i..j], total), j - i, more))
}

/// One number-and-unit: returns seconds, words used, and whether "more/extra" sat inside it.
fn one_amount(words: &[&str], i: usize) -> Option<(f64, usize, bool)> {
    let first = *words.get(i)?;
    if let Some(secs) = compact(first) {
        return Some((secs, 1, false));
    }
    let n = number(first)?;
    let mut j = i + 1;
    // "a couple of hours", "2 and a half hours"
    if words.get(j) == Some(&"of") {
        j += 1;
    }
    let mut half = 0.0;
    if words.get(j..j + 3) == Some(&["and", "a", "half"][..]) {
        half = 0.5;
        j += 3;
    }
    let more_inside = words.get(j).is_some_and(|w| MORE.contains(w));
    j += usize::from(more_inside);
    let unit_word = *words.get(j)?;
    // "a m", "two h": single-letter units only after digits, where they are unambiguous.
    if unit_word.len() == 1 && !first.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let unit = unit_secs(unit_word)?;
    Some((
        (n + half) * unit,
        j + 1 - i,
        more_inside || first == "another",
    ))
}

/// The user's words when `parse_duration` reads them ("2 hours", "9999h"), else a normalised form.
fn render(words: &[&str], secs: f64) -> String {
    let said = words.join(" ");
    if parse_duration(&said).is_some() {
        return said;
    }
    // Beyond u64 or zero: hand the literal to validation, which will ask.
    if (1.0..1e15).contains(&secs) {
        format_duration(secs.round() as u64)
    } else {
        said
    }
}

/// "2h", "90mins", "1h30m", "1.5h": digits and units run together.
fn compact(word: &str) -> Option<f64> {
    if !word.starts_with(|c: char| c.is_ascii_digit())
        || word.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return None;
    }
    let mut total = 0.0;
    let mut rest = word;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        total += n * unit_secs(&after[..unit_len])?;
        rest = &after[unit_len..];
    }
    Some(total)
}

fn number(word: &str) -> Option<f64> {
    if word.starts_with(|c: char| c.is_ascii_digit()) {
        return word.parse().ok();
    }
    Some(match word {
        "a" | "an" | "one" | "another" => 1.0,
        "two" | "couple" => 2.0,
        "three" | "few" | "several" => 3.0,
        "four" => 4.0,
        "five" => 5.0,
        "six" => 6.0,
        "seven" => 7.0,
        "eight" => 8.0,
        "nine" => 9.0,
        "ten" => 10.0,
        "twelve" => 12.0,
        "fifteen" => 15.0,
        "twenty" => 20.0,
        "thirty" => 30.0,
        "fortyfive" => 45.0,
        "sixty" => 60.0,
        "ninety" => 90.0,
        _ => return None,
    })
}

fn unit_secs(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "wk" | "wks" | "week" | "weeks" => 604_800.0,
        "fortnight" | "fortnights" => 14.0 * 86_400.0,
        "month" | "months" => 30.0 * 86_400.0,
        "y" | "yr" | "yrs" | "year" | "years" => 365.0 * 86_400.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Option<String> {
        let words: Vec<&str> = text.split(' ').collect();
        find(&words, |_| true).map(|h| h.value)
    }

    #[test]
    fn reads_the_usual_spellings() {
        for (text, want) in [
            ("for 2h", "2h"),
            ("2 hours", "2 hours"),
            ("for 90 minutes", "90 minutes"),
            ("1h30m", "1h30m"),
            ("1 hour and 30 minutes", "1 hour and 30 minutes"),
            ("for an hour", "1h"),
            ("half an hour", "30m"),
            ("a couple of hours", "2h"),
            ("for 1.5 hours", "1h30m"),
            ("two days", "2d"),
            ("until tomorrow", "8h"),
            ("for the afternoon", "4h"),
            ("for a year", "365d"),
            ("9999h", "9999h"),
            ("forever", "forever"),
            ("0h", "0h"),
        ] {
            assert_eq!(value(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn ignores_numbers_and_unled_times_of_day() {
        for text in [
            "k8s prod",
            "top 10 queries",
            "broke it this morning",
            "need it today",
            "2fa",
        ] {
            assert_eq!(value(text), None, "{text}");
        }
    }

    #[test]
    fn marks_additional_time() {
        let words = ["another", "hour"];
        assert!(find(&words, |_| true).unwrap().additional);
        let words = ["30", "more", "minutes"];
        assert!(find(&words, |_| true).unwrap().additional);
    }
}
