//! A regular expression compiled once, that serialises as its source text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Matches whole strings only: the source is anchored when compiled, as Envoy's safe regex is.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    case_sensitive: bool,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `source` to match entire values.
    pub fn new(source: &str, case_sensitive: bool) -> Result<Pattern, regex::Error> {
        let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .case_insensitive(!case_sensitive)
            // Bound the compiled size so a hostile pattern cannot eat the gateway's memory.
            .size_limit(1 << 20)
            .build()?;
        Ok(Pattern {
            source: source.to_string(),
            case_sensitive,
            regex,
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn case_sensitive(&self) -> bool {
        self.case_sensitive
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.case_sensitive == other.case_sensitive
    }
}

#[derive(Serialize, Deserialize)]
struct PatternText {
    regex: String,
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    case_sensitive: bool,
}

fn yes() -> bool {
    true
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PatternText {
            regex: self.source.clone(),
            case_sensitive: self.case_sensitive,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = PatternText::deserialize(deserializer)?;
        Pattern::new(&text.regex, text.case_sensitive).map_err(serde::de::Error::custom)
    }
}
