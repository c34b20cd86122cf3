//! One agreed form for instants: milliseconds since the Unix epoch, UTC. Stored as a 64-bit
//! integer on every backend, rendered as RFC 3339 on the wire.

use super::FieldError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(jiff::Timestamp::now().as_millisecond())
    }

    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        text.parse::<jiff::Timestamp>()
            .map(|t| Timestamp(t.as_millisecond()))
            .map_err(|_| FieldError::new(field, format!("`{text}` is not an RFC 3339 timestamp such as 2026-01-31T09:00:00Z")))
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// The UTC date for people to read, e.g. `1 November 2026`.
    pub fn human_date(self) -> String {
        self.human("%-d %B %Y")
    }

    /// The UTC date and minute for people to read, e.g. `2 December 2026, 13:40 UTC`.
    pub fn human_date_time(self) -> String {
        self.human("%-d %B %Y, %H:%M UTC")
    }

    fn human(self, format: &str) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(t) => t.to_zoned(jiff::tz::TimeZone::UTC).strftime(format).to_string(),
            Err(_) => self.to_string(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(t) => write!(f, "{t:.3}"),
            Err(_) => write!(f, "{}ms", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse::<jiff::Timestamp>().map(|t| Timestamp(t.as_millisecond())).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc3339_with_milliseconds_and_parses_back() {
        let t = Timestamp::from_millis(1_767_225_600_123);
        assert_eq!(t.to_string(), "2026-01-01T00:00:00.123Z");
        assert_eq!(Timestamp::parse("at", &t.to_string()).unwrap(), t);
    }

    #[test]
    fn human_forms_spell_the_month_and_drop_the_padding() {
        let t = Timestamp::from_millis(1_767_225_600_123);
        assert_eq!(t.human_date(), "1 January 2026");
        assert_eq!(t.plus_millis(13 * 3_600_000 + 40 * 60_000).human_date_time(), "1 January 2026, 13:40 UTC");
    }

    #[test]
    fn parse_error_names_the_field() {
        let e = Timestamp::parse("created_after", "yesterday").unwrap_err();
        assert_eq!(e.field, "created_after");
    }
}
