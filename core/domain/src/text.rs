//! Text rules shared by every route.
//!
//! The character rule: no text that reaches the service (a JSON string or object key in a body,
//! a query parameter, a path segment) may carry a control character other than tab, line feed
//! and carriage return, nor a Unicode noncharacter. Such input is refused naming the field, never
//! stripped: a silently altered value is data lost, and refusing gives both backends the same
//! answer (PostgreSQL cannot store NUL in text; SQLite would store it). The server applies
//! [`check_characters`] where bodies and query strings are parsed, so no handler can forget it.
//!
//! Free-text inputs that accompany a change (a note on a move or a delegation, the reason for a
//! reopen or for overriding a certification gate) are also trimmed, blank means absent, and at
//! most [`MAX_NOTE_CHARS`] as sent.

use crate::FieldError;

/// The first character of `text` that the character rule refuses, if any: C0 controls except
/// tab, LF and CR; DEL; C1 controls; noncharacters (U+FDD0..U+FDEF and U+xFFFE/U+xFFFF).
/// Lone surrogates cannot occur in a Rust string (the JSON parser refuses `\ud800` alone).
pub fn forbidden_character(text: &str) -> Option<char> {
    text.chars().find(|&c| is_forbidden(u32::from(c)))
}

/// Whether the character rule refuses this code point.
fn is_forbidden(code: u32) -> bool {
    FORBIDDEN_RANGES.iter().any(|&(low, high)| (low..=high).contains(&code)) || (code & 0xFFFE) == 0xFFFE
}

/// The code points the character rule refuses, as inclusive ranges, besides the noncharacters
/// that end each plane (U+xFFFE and U+xFFFF, see [`plane_end_noncharacters`]). The OpenAPI
/// document states the rule as a pattern built from this table and that one.
pub const FORBIDDEN_RANGES: &[(u32, u32)] = &[
    (0x00, 0x08), // C0 controls before tab
    (0x0B, 0x0C), // vertical tab, form feed
    (0x0E, 0x1F), // the other C0 controls
    (0x7F, 0x9F), // DEL and the C1 controls
    (0xFDD0, 0xFDEF),
];

/// The two noncharacters that end each of the 17 planes, U+xFFFE and U+xFFFF.
pub fn plane_end_noncharacters() -> impl Iterator<Item = (u32, u32)> {
    (0..=0x10u32).map(|plane| (plane << 16 | 0xFFFE, plane << 16 | 0xFFFF))
}

/// The characters `str::trim` removes (Unicode `White_Space`), as inclusive ranges: what
/// "blank" means for text that must not be blank.
pub const WHITESPACE_RANGES: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];

/// Applies the character rule to one field's text.
pub fn check_characters(field: &str, text: &str) -> Result<(), FieldError> {
    match forbidden_character(text) {
        None => Ok(()),
        Some(c) => Err(FieldError::new(
            field,
            format!(
                "must not contain control characters or noncharacters (found U+{:04X}); tab, line feed and carriage return are allowed",
                u32::from(c)
            ),
        )),
    }
}

/// The longest note or reason, in characters as sent (before trimming).
pub const MAX_NOTE_CHARS: usize = 4096;

/// An optional note: at most [`MAX_NOTE_CHARS`]; trimmed; blank is no note.
pub fn optional_note(field: &str, text: Option<String>) -> Result<Option<String>, FieldError> {
    if text.as_deref().is_some_and(|t| t.chars().count() > MAX_NOTE_CHARS) {
        return Err(FieldError::new(field, format!("must be at most {MAX_NOTE_CHARS} characters")));
    }
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// A reason that must be given (an override of a certification gate): not blank, at most
/// [`MAX_NOTE_CHARS`] as sent.
pub fn required_reason(field: &str, text: &str) -> Result<String, FieldError> {
    match text.trim() {
        t if t.is_empty() || text.chars().count() > MAX_NOTE_CHARS => {
            Err(FieldError::new(field, format!("an override gives a reason (at most {MAX_NOTE_CHARS} characters)")))
        }
        t => Ok(t.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_noncharacters_are_refused_tab_and_newlines_are_not() {
        for bad in
            ["\0", "\u{1}", "\u{1b}", "\u{1f}", "\u{7f}", "\u{80}", "\u{9f}", "\u{fdd0}", "\u{fffe}", "\u{ffff}", "\u{1fffe}", "\u{10ffff}"]
        {
            let text = format!("a{bad}b");
            assert_eq!(forbidden_character(&text), bad.chars().next(), "{text:?}");
            assert_eq!(check_characters("title", &text).unwrap_err().field, "title");
        }
        for good in ["plain", "tab\there", "lines\r\nand\n", "caf\u{e9} \u{1f600} \u{a0}\u{fffd}", ""] {
            assert_eq!(forbidden_character(good), None, "{good:?}");
            assert!(check_characters("title", good).is_ok());
        }
    }

    #[test]
    fn the_tables_say_what_the_rules_do() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let code = u32::from(c);
            let by_table =
                FORBIDDEN_RANGES.iter().chain(plane_end_noncharacters().collect::<Vec<_>>().iter()).any(|&(l, h)| (l..=h).contains(&code));
            let by_rule =
                (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || (0xFDD0..=0xFDEF).contains(&code) || (code & 0xFFFE) == 0xFFFE;
            assert_eq!(by_table, by_rule, "U+{code:04X}");
            assert_eq!(is_forbidden(code), by_rule, "U+{code:04X}");
            let blank = WHITESPACE_RANGES.iter().any(|&(l, h)| (l..=h).contains(&code));
            assert_eq!(blank, c.is_whitespace(), "U+{code:04X}");
        }
    }

    #[test]
    fn notes_are_trimmed_blank_is_none_and_long_is_refused() {
        assert_eq!(optional_note("note", None).unwrap(), None);
        assert_eq!(optional_note("note", Some("  ".into())).unwrap(), None);
        assert_eq!(optional_note("note", Some(" ok ".into())).unwrap().as_deref(), Some("ok"));
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(optional_note("note", Some(long)).unwrap_err().field, "note");
        assert_eq!(optional_note("note", Some("x".repeat(MAX_NOTE_CHARS))).unwrap().map(|n| n.len()), Some(MAX_NOTE_CHARS));
    }

    #[test]
    fn an_override_reason_must_be_given_and_fit() {
        assert_eq!(required_reason("override.reason", " because ").unwrap(), "because");
        assert_eq!(required_reason("override.reason", "  ").unwrap_err().field, "override.reason");
        assert!(required_reason("override.reason", &"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
    }
}
