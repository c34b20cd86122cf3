//! `steward plugin new|check|test`.
