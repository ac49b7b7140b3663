//! Path normalisation, done before matching so that a route sees the path the upstream will get.
//!
//! Without it, `/foxtrot/../echo` would match a `/foxtrot` route and reach the echo service, and
//! `/%65cho` would slip past an `/echo` route. The steps, in order (RFC 3986, sections 6.2.2 and
//! 5.2.4): percent-encoded unreserved characters are decoded (so `%2E%2E` becomes a dot segment
//! before dot segments are removed), other escapes get upper-case hex digits, duplicate slashes are
//! merged, and `.` and `..` segments are removed, with `..` above the root clamped to the root.
//!
//! Encoded slashes (`%2F`), encoded backslashes (`%5C`) and backslashes follow one policy,
//! [`EscapedSlashes`]: each is read as a separator by some upstreams and as data by others, so a
//! path holding one can mean two things. Whatever the policy, the upstream receives exactly the
//! path that was matched, so the decoded form the upstream sees is the one routing saw.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// What the proxy does with `%2F`, `%5C` and `\` in a request path, in the spirit of Envoy's
/// `path_with_escaped_slashes_action`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EscapedSlashes {
    /// Answer 400 (`escaped slash or backslash in path`). The default: nothing ambiguous is
    /// routed.
    #[default]
    Reject,
    /// Match and forward them as they are (`%2F` and `%5C` with upper-case hex): data inside a
    /// segment, not separators. Safe for the gateway's own matching; an upstream that decodes
    /// `%2F` or reads `\` as `/` may then see a path the route did not match.
    Keep,
    /// Read all three as `/`, then merge slashes and remove dot segments: the route matches, and
    /// the upstream receives, the unescaped path (`/a%2F..%2Fb` becomes `/b`).
    Unescape,
}

impl EscapedSlashes {
    pub const NAMES: [&'static str; 3] = ["reject", "keep", "unescape"];
}

impl fmt::Display for EscapedSlashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EscapedSlashes::Reject => "reject",
            EscapedSlashes::Keep => "keep",
            EscapedSlashes::Unescape => "unescape",
        })
    }
}

/// A policy name that is not one of [`EscapedSlashes::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown escaped-slashes policy {0:?} (expected reject, keep or unescape)")]
pub struct UnknownPolicy(String);

impl FromStr for EscapedSlashes {
    type Err = UnknownPolicy;

    fn from_str(text: &str) -> Result<EscapedSlashes, UnknownPolicy> {
        match text {
            "reject" => Ok(EscapedSlashes::Reject),
            "keep" => Ok(EscapedSlashes::Keep),
            "unescape" => Ok(EscapedSlashes::Unescape),
            other => Err(UnknownPolicy(other.to_string())),
        }
    }
}

/// Why a path cannot be normalised safely; the proxy answers 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathError {
    #[error("invalid percent-encoding in path")]
    InvalidPercentEncoding,
    #[error("path does not start with '/'")]
    NotAbsolute,
    #[error("escaped slash or backslash in path")]
    EscapedSlash,
}

/// The normalised form of `path` (without query). Borrows when the path is already normal, which
/// is the common case and costs one scan.
pub(crate) fn normalise(path: &str, policy: EscapedSlashes) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_normal(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(path, policy)?;
    Ok(Cow::Owned(remove_dot_segments(&decoded)))
}

/// True when the path has no escapes, no backslashes, no empty segments and no dot segments.
fn is_normal(path: &[u8]) -> bool {
    let mut i = 0;
    while i < path.len() {
        match path[i] {
            b'%' | b'\\' => return false,
            b'/' => {
                let rest = &path[i + 1..];
                if rest.first() == Some(&b'/') {
                    return false;
                }
                let segment_end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
                let segment = &rest[..segment_end];
                if segment == b"." || segment == b".." {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    true
}

fn decode_unreserved(path: &str, policy: EscapedSlashes) -> Result<String, PathError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            match policy {
                EscapedSlashes::Reject => return Err(PathError::EscapedSlash),
                EscapedSlashes::Keep => out.push('\\'),
                EscapedSlashes::Unescape => out.push('/'),
            }
            i += 1;
            continue;
        }
        if b != b'%' {
            // The input is a `str`, so copying byte runs keeps it valid UTF-8.
            let run_end = bytes[i..]
                .iter()
                .position(|&b| b == b'%' || b == b'\\')
                .map_or(bytes.len(), |p| i + p);
            out.push_str(&path[i..run_end]);
            i = run_end;
            continue;
        }
        let (Some(hi), Some(lo)) = (
            bytes.get(i + 1).copied().and_then(hex_value),
            bytes.get(i + 2).copied().and_then(hex_value),
        ) else {
            return Err(PathError::InvalidPercentEncoding);
        };
        let value = hi << 4 | lo;
        if value == b'/' || value == b'\\' {
            match policy {
                EscapedSlashes::Reject => return Err(PathError::EscapedSlash),
                EscapedSlashes::Keep => {}
                EscapedSlashes::Unescape => {
                    out.push('/');
                    i += 3;
                    continue;
                }
            }
        }
        if is_unreserved(value) {
            out.push(char::from(value));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(hi)]));
            out.push(char::from(HEX_UPPER[usize::from(lo)]));
        }
        i += 3;
    }
    Ok(out)
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 section 2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Merges duplicate slashes and removes dot segments of an absolute path; `..` at the root stays
/// at the root. A trailing slash (or a trailing dot segment, which names a directory) is kept.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in path[1..].split('/') {
        trailing_slash = false;
        match segment {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

#[cfg(test)]
#[path = "path_test.rs"]
mod tests;
