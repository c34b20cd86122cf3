//! Free-text inputs that accompany a change: a note on a move or a delegation, the reason for a
//! reopen or for overriding a certification gate. Parsed here so every route applies the same
//! rule: trimmed, blank means absent, at most [`MAX_NOTE_BYTES`].

use crate::FieldError;

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
