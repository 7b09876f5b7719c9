//! Splits a message into lower-case words with their byte spans, sentence and clause numbers,
//! after lifting out the two things that must be read verbatim: ticket refs and request ids.

use std::ops::Range;

/// One word of the message, lower-cased, apostrophes dropped ("I'm" → "im").
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub word: String,
    pub span: Range<usize>,
    pub sentence: usize,
    pub clause: usize,
    /// A spaced dash or an em dash came right before this word ("prod-db — fixing refunds").
    pub after_dash: bool,
    /// Joined to the previous word by '-', '_', '.' or '/' ("db" in "prod-db").
    pub glued: bool,
}

#[derive(Debug, Default)]
pub(super) struct Lexed {
    pub tokens: Vec<Token>,
    /// First ticket reference, upper-cased (INC-42).
    pub ticket: Option<String>,
    /// First request id as typed, upper-cased; validation decides whether it is well formed.
    pub request_id: Option<String>,
    /// Byte offset where each clause ends (index = clause number).
    pub clause_ends: Vec<usize>,
    /// Byte offset where each sentence ends (index = sentence number).
    pub sentence_ends: Vec<usize>,
}

/// Lower-case prefixes accepted as tickets even when typed in lower case ("inc-42").
const TICKET_PREFIXES: [&str; 9] = [
    "inc", "jira", "sec", "chg", "tkt", "ops", "bug", "fin", "sre",
];
/// Upper-case prefixes that look like tickets but are not (SEV-1, UTF-8, SHA-256).
const NOT_TICKETS: [&str; 6] = ["SEV", "UTF", "SHA", "ISO", "TLS", "MD"];

enum Ref {
    Ticket(String),
    RequestId(String),
}

pub(super) fn lex(text: &str) -> Lexed {
    let mut lexed = Lexed::default();
    let mut masked: Vec<Range<usize>> = Vec::new();
    for (span, found) in find_refs(text) {
        match found {
            Ref::Ticket(t) if lexed.ticket.is_none() => lexed.ticket = Some(t),
            Ref::RequestId(id) if lexed.request_id.is_none() => lexed.request_id = Some(id),
            _ => {}
        }
        masked.push(span);
    }
    split_words(text, &masked, &mut lexed);
    mark_glued(text, &mut lexed.tokens);
    lexed
}

fn mark_glued(text: &str, tokens: &mut [Token]) {
    for i in 1..tokens.len() {
        let between = &text[tokens[i - 1].span.end..tokens[i].span.start];
        tokens[i].glued = matches!(between, "-" | "_" | "." | "/");
    }
}

/// Runs of `[A-Za-z0-9_#-]`: the only shapes a ticket or a request id can take.
fn find_refs(text: &str) -> Vec<(Range<usize>, Ref)> {
    let is_part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '#');
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (is_part(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if let Some(found) = classify(&text[s..i]) {
                    out.push((s..i, found));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn classify(raw: &str) -> Option<Ref> {
    let hashed = raw.starts_with('#');
    let s = raw.trim_start_matches('#').trim_end_matches(['-', '_']);
    let upper = s.to_ascii_uppercase();
    if upper.starts_with("AR-") && upper.len() > 3 {
        return Some(Ref::RequestId(upper));
    }
    // "#7K3D9QX2": the bare code is only taken with the '#', an 8-letter word is too common.
    if hashed
        && s.len() == 8
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Some(Ref::RequestId(format!("AR-{upper}")));
    }
    is_ticket(s).then_some(Ref::Ticket(upper))
}

/// `[A-Z][A-Z0-9]+-\d+`, in upper case as typed, or a well-known prefix in any case.
fn is_ticket(s: &str) -> bool {
    let Some((prefix, number)) = s.split_once('-') else {
        return false;
    };
    let shaped = prefix.len() >= 2
        && prefix.starts_with(|c: char| c.is_ascii_alphabetic())
        && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        && !number.is_empty()
        && number.len() <= 9
        && number.bytes().all(|b| b.is_ascii_digit());
    let upper_typed = !prefix.bytes().any(|b| b.is_ascii_lowercase());
    let known = TICKET_PREFIXES.contains(&prefix.to_ascii_lowercase().as_str());
    shaped && (upper_typed || known) && !NOT_TICKETS.contains(&prefix.to_ascii_uppercase().as_str())
}

/// Word splitting with the same folding as `catalog::normalize` ('-', '_', '.', '/' separate
/// words), so word n-grams compare equal to catalog keys.
fn split_words(text: &str, masked: &[Range<usize>], out: &mut Lexed) {
    let mut w = WordBuilder::default();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    // `masked` is in text order and does not overlap: one cursor walks it with the text, so
    // each character is checked against one range, not all of them.
    let mut next_mask = 0;
    for (k, &(i, c)) in chars.iter().enumerate() {
        let prev = k.checked_sub(1).map(|p| chars[p].1);
        let next = chars.get(k + 1).map(|&(_, n)| n);
        if std::mem::take(&mut w.skip_next) {
            continue;
        }
        while masked.get(next_mask).is_some_and(|m| m.end <= i) {
            next_mask += 1;
        }
        if masked.get(next_mask).is_some_and(|m| m.contains(&i)) {
            w.flush(out, i);
            continue;
        }
        match c {
            c if c.is_alphanumeric() => w.push(c, i),
            '*' => {
                w.flush(out, i);
                w.push('*', i);
                w.flush(out, i + 1);
            }
            // Possessive "prod-db's": the 's is not part of the name ("what's" stays "whats").
            '\'' | '’' if w.possessive(next, chars.get(k + 2).map(|&(_, n)| n)) => {
                w.flush(out, i);
                w.skip_next = true;
            }
            '\'' | '’' if !w.word.is_empty() => {}
            '.' if prev.is_some_and(|p| p.is_ascii_digit())
                && next.is_some_and(|n| n.is_ascii_digit()) =>
            {
                w.push('.', i)
            }
            '.' if next.is_some_and(char::is_alphanumeric) => w.flush(out, i),
            '.' | '?' | '!' | ';' | '\n' => {
                w.flush(out, i);
                w.end_sentence(out, i);
            }
            ',' | ':' | '(' | ')' | '"' | '“' | '”' => {
                w.flush(out, i);
                w.end_clause(out, i);
            }
            '—' | '–' => {
                w.flush(out, i);
                w.end_clause(out, i);
                w.dash = true;
            }
            '-' if prev.is_some_and(char::is_whitespace)
                && next.is_some_and(char::is_whitespace) =>
            {
                w.flush(out, i);
                w.end_clause(out, i);
                w.dash = true;
            }
            _ => w.flush(out, i),
        }
    }
    w.flush(out, text.len());
    w.end_sentence(out, text.len());
}

#[derive(Default)]
struct WordBuilder {
    word: String,
    start: usize,
    sentence: usize,
    clause: usize,
    dash: bool,
    skip_next: bool,
}

/// Words whose 's is "is", not a possessive.
const CONTRACTED: [&str; 11] = [
    "what", "it", "that", "there", "here", "who", "where", "how", "he", "she", "let",
];

impl WordBuilder {
    fn possessive(&self, next: Option<char>, after: Option<char>) -> bool {
        !self.word.is_empty()
            && matches!(next, Some('s' | 'S'))
            && !after.is_some_and(char::is_alphanumeric)
            && !CONTRACTED.contains(&self.word.as_str())
    }

    fn push(&mut self, c: char, at: usize) {
        if self.word.is_empty() {
            self.start = at;
        }
        self.word.extend(c.to_lowercase());
    }

    fn flush(&mut self, out: &mut Lexed, end: usize) {
        if self.word.is_empty() {
            return;
        }
        out.tokens.push(Token {
            word: std::mem::take(&mut self.word),
            span: self.start..end,
            sentence: self.sentence,
            clause: self.clause,
            after_dash: std::mem::take(&mut self.dash),
            glued: false,
        });
    }

    fn end_clause(&mut self, out: &mut Lexed, at: usize) {
        out.clause_ends.push(at);
        self.clause += 1;
    }

    fn end_sentence(&mut self, out: &mut Lexed, at: usize) {
        self.end_clause(out, at);
        out.sentence_ends.push(at);
        self.sentence += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        lex(text).tokens.into_iter().map(|t| t.word).collect()
    }

    #[test]
    fn folds_like_the_catalog_and_lifts_refs() {
        let l = lex("Need read-only on Prod_DB for 1.5h, INC-42 (AR-7k3d9qx2). I'm done.");
        let w: Vec<&str> = l.tokens.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(
            w,
            [
                "need", "read", "only", "on", "prod", "db", "for", "1.5h", "im", "done"
            ]
        );
        assert_eq!(l.ticket.as_deref(), Some("INC-42"));
        assert_eq!(l.request_id.as_deref(), Some("AR-7K3D9QX2"));
        assert_eq!(l.tokens[8].sentence, 1);
    }

    #[test]
    fn tickets_need_upper_case_or_a_known_prefix() {
        assert_eq!(lex("see jira-12").ticket.as_deref(), Some("JIRA-12"));
        assert_eq!(lex("k8s-1 and staging-2").ticket, None);
        assert_eq!(lex("SEV-1 outage").ticket, None);
        assert_eq!(
            lex("revoke #7K3D9QX2").request_id.as_deref(),
            Some("AR-7K3D9QX2")
        );
        assert_eq!(words("revoke 7K3D9QX2"), ["revoke", "7k3d9qx2"]);
    }

    #[test]
    fn possessives_and_glued_words() {
        let l = lex("prod-db's rows, it's fine");
        let w: Vec<&str> = l.tokens.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(w, ["prod", "db", "rows", "its", "fine"]);
        assert!(l.tokens[1].glued && !l.tokens[2].glued);
    }

    #[test]
    fn every_ref_is_lifted_however_many() {
        let text = "INC-1 a INC-22 b AR-7K3D9QX2 c SEC-3d ".repeat(50);
        let w = words(&text);
        // "SEC-3d" is no ticket: its words stay.
        assert_eq!(w.len(), 250);
        assert_eq!(&w[..6], ["a", "b", "c", "sec", "3d", "a"]);
    }

    #[test]
    fn spaced_dashes_start_a_clause() {
        let l = lex("prod-db - fixing refunds");
        assert!(l.tokens[2].after_dash && l.tokens[2].clause == 1);
        assert!(!l.tokens[1].after_dash);
    }
}
