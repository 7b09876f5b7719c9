//! Text hygiene for anything a user or a model wrote before it is stored, shown or sent.

/// Strips what could make a chat platform fire a mention, a link or markup, and caps the length.
/// Slack `<!here>`, `<@U123>`, `<http://x|approve>`; Discord `@everyone`, `<@&role>`, `[text](url)`.
pub fn sanitize_free_text(input: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(input.len().min(max_chars * 4));
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Slack control sequences and Discord mentions both live inside angle brackets.
            '<' => {
                let mut inner = String::new();
                for n in chars.by_ref() {
                    if n == '>' {
                        break;
                    }
                    inner.push(n);
                }
                let shown = inner
                    .split('|')
                    .next_back()
                    .unwrap_or("")
                    .trim_start_matches(['!', '@', '#', '&']);
                out.push_str(shown);
            }
            '@' => out.push('＠'),
            // Markdown links: keep the text, drop the target.
            '[' => out.push('('),
            ']' => {
                out.push(')');
                if chars.peek() == Some(&'(') {
                    for n in chars.by_ref() {
                        if n == ')' {
                            break;
                        }
                    }
                }
            }
            '`' | '*' | '_' | '~' | '>' => out.push(' '),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&collapsed, max_chars)
}

/// Cuts to at most `max` characters, on a character boundary.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_and_links_do_not_survive() {
        let s = sanitize_free_text(
            "<!here> ping <@U123> see <https://evil|APPROVED> @everyone [ok](https://x)",
            200,
        );
        assert!(
            !s.contains('<') && !s.contains("@everyone") && !s.contains("https://"),
            "{s}"
        );
        assert!(s.contains("APPROVED") && s.contains("ok"));
    }

    #[test]
    fn caps_length_on_char_boundary() {
        assert_eq!(sanitize_free_text("ééééé", 3), "ééé…");
    }
}
