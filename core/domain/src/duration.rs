//! Target durations written the way service teams say them: `30s`, `4h`, `1h30m`, `2d`.

use super::FieldError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetDuration {
    seconds: u64,
}

const UNITS: [(char, u64); 5] = [('w', 7 * 86_400), ('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

impl TargetDuration {
    pub const fn from_seconds(seconds: u64) -> Self {
        TargetDuration { seconds }
    }

    pub const fn as_seconds(self) -> u64 {
        self.seconds
    }

    pub fn as_millis(self) -> i64 {
        i64::try_from(self.seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Parses a sequence of `<number><unit>` parts with units w, d, h, m, s, largest first.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new(field, format!("`{text}` is not a duration such as 30s, 15m, 4h, 1h30m or 2d"));
        let mut seconds: u64 = 0;
        let mut number = String::new();
        let mut last_unit_rank = None;
        for ch in text.trim().chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let rank = UNITS.iter().position(|(u, _)| *u == ch).ok_or_else(bad)?;
            if number.is_empty() || last_unit_rank.is_some_and(|r| r >= rank) {
                return Err(bad());
            }
            let n: u64 = number.parse().map_err(|_| bad())?;
            seconds = n.checked_mul(UNITS[rank].1).and_then(|s| seconds.checked_add(s)).ok_or_else(bad)?;
            number.clear();
            last_unit_rank = Some(rank);
        }
        if !number.is_empty() || last_unit_rank.is_none() || seconds == 0 {
            return Err(bad());
        }
        Ok(TargetDuration { seconds })
    }
}

impl fmt::Display for TargetDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.seconds;
        for (unit, size) in UNITS {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for TargetDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TargetDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TargetDuration::parse("duration", &text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(TargetDuration::parse("t", "30s").unwrap().as_seconds(), 30);
        assert_eq!(TargetDuration::parse("t", "4h").unwrap().as_seconds(), 14_400);
        assert_eq!(TargetDuration::parse("t", "1h30m").unwrap().as_seconds(), 5_400);
        assert_eq!(TargetDuration::parse("t", "2d").unwrap().as_seconds(), 172_800);
        assert_eq!(TargetDuration::parse("t", "1w").unwrap().as_seconds(), 604_800);
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "4", "h", "4x", "30m1h", "1h1h", "0s", "-1h", "4 h"] {
            assert!(TargetDuration::parse("t", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn displays_in_the_compact_form_it_parses() {
        for text in ["30s", "4h", "1h30m", "2d", "1d2h3m4s"] {
            assert_eq!(TargetDuration::parse("t", text).unwrap().to_string(), text);
        }
    }
}
