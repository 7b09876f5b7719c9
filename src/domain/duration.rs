//! Human durations: "2h", "90m", "1d", "2 hours", "1h30m".

/// Parses a duration written the way people write one. Returns seconds.
pub fn parse_duration(input: &str) -> Option<u64> {
    let s = input.trim().to_ascii_lowercase();
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = s.as_str();
    let mut any = false;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let (num, after) = rest.split_at(digits);
        let n: u64 = num.parse().ok()?;
        let after = after.trim_start();
        let unit_len = after
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let (unit, tail) = after.split_at(unit_len);
        let secs = unit_seconds(unit)?;
        total = total.checked_add(n.checked_mul(secs)?)?;
        any = true;
        rest = tail
            .trim_start_matches([',', ' '])
            .trim_start_matches("and")
            .trim_start();
    }
    (any && total > 0).then_some(total)
}

fn unit_seconds(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "wk" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    })
}

/// Formats seconds compactly: 5400 → "1h30m".
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let (h, rem) = (rem / 3600, rem % 3600);
    let (m, s) = (rem / 60, rem % 60);
    let mut out = String::new();
    for (n, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{u}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_spellings() {
        for (input, want) in [
            ("2h", 7200),
            ("2 hours", 7200),
            ("90m", 5400),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("1 hour and 30 minutes", 5400),
            ("1d", 86_400),
            ("45 mins", 2700),
            ("1 week", 604_800),
        ] {
            assert_eq!(parse_duration(input), Some(want), "{input}");
        }
    }

    #[test]
    fn rejects_nonsense_and_zero() {
        for input in [
            "",
            "h",
            "2 fortnights",
            "0h",
            "forever",
            "-1h",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(input), None, "{input}");
        }
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(86_400 + 60), "1d1m");
        assert_eq!(format_duration(0), "0s");
    }
}
