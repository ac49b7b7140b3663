//! Protobuf-JSON durations as Gloo writes them: `"15s"`, `"0.5s"`; `"250ms"` is accepted too.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid duration {text:?}: expected seconds like \"15s\" or \"0.5s\", or milliseconds like \"250ms\""
            )
        };
        let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
            (ms, 1e-3)
        } else if let Some(s) = text.strip_suffix('s') {
            (s, 1.0)
        } else {
            return Err(bad());
        };
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        if !value.is_finite() || value < 0.0 || value * scale > 315_576_000_000.0 {
            return Err(bad());
        }
        Ok(Duration(std::time::Duration::from_secs_f64(value * scale)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis.is_multiple_of(1000) {
            write!(f, "{}s", millis / 1000)
        } else {
            write!(f, "{}ms", millis)
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gloo_forms() {
        assert_eq!(
            "15s".parse::<Duration>().unwrap().0,
            std::time::Duration::from_secs(15)
        );
        assert_eq!(
            "0.5s".parse::<Duration>().unwrap().0,
            std::time::Duration::from_millis(500)
        );
        assert_eq!(
            "250ms".parse::<Duration>().unwrap().0,
            std::time::Duration::from_millis(250)
        );
        assert_eq!(
            Duration(std::time::Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "s", "5", "-1s", "NaNs", "1h", "1e400s"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }
}
