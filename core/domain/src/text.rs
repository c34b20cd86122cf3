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
//! most [`MAX_NOTE_BYTES`].

use crate::FieldError;

/// The first character of `text` that the character rule refuses, if any: C0 controls except
/// tab, LF and CR; DEL; C1 controls; noncharacters (U+FDD0..U+FDEF and U+xFFFE/U+xFFFF).
/// Lone surrogates cannot occur in a Rust string (the JSON parser refuses `\ud800` alone).
pub fn forbidden_character(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        let code = u32::from(c);
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || (0xFDD0..=0xFDEF).contains(&code) || (code & 0xFFFE) == 0xFFFE
    })
}

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

/// The longest note or reason, in bytes of UTF-8.
pub const MAX_NOTE_BYTES: usize = 4096;

/// An optional note: trimmed; blank is no note.
pub fn optional_note(field: &str, text: Option<String>) -> Result<Option<String>, FieldError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.len() > MAX_NOTE_BYTES => Err(FieldError::new(field, format!("must be at most {MAX_NOTE_BYTES} bytes"))),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// A reason that must be given (an override of a certification gate).
pub fn required_reason(field: &str, text: &str) -> Result<String, FieldError> {
    match text.trim() {
        "" => Err(FieldError::new(field, format!("an override gives a reason (at most {MAX_NOTE_BYTES} bytes)"))),
        t if t.len() > MAX_NOTE_BYTES => {
            Err(FieldError::new(field, format!("an override gives a reason (at most {MAX_NOTE_BYTES} bytes)")))
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
    fn notes_are_trimmed_blank_is_none_and_long_is_refused() {
        assert_eq!(optional_note("note", None).unwrap(), None);
        assert_eq!(optional_note("note", Some("  ".into())).unwrap(), None);
        assert_eq!(optional_note("note", Some(" ok ".into())).unwrap().as_deref(), Some("ok"));
        let long = "x".repeat(MAX_NOTE_BYTES + 1);
        assert_eq!(optional_note("note", Some(long)).unwrap_err().field, "note");
        assert_eq!(optional_note("note", Some("x".repeat(MAX_NOTE_BYTES))).unwrap().map(|n| n.len()), Some(MAX_NOTE_BYTES));
    }

    #[test]
    fn an_override_reason_must_be_given_and_fit() {
        assert_eq!(required_reason("override.reason", " because ").unwrap(), "because");
        assert_eq!(required_reason("override.reason", "  ").unwrap_err().field, "override.reason");
        assert!(required_reason("override.reason", &"x".repeat(MAX_NOTE_BYTES + 1)).is_err());
    }
}
