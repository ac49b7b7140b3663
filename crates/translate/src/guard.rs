//! The guard that keeps a delegated route inside its parents, whatever it writes.
//!
//! A child route's compiled matcher gets its delegating parents' conditions: their header and
//! query parameter conditions are added, methods are intersected, and every parent path the
//! child's own path cannot be *proven* to imply is kept in [`compiled::Matcher::within`], which
//! the proxy checks too. Proofs are conservative: a prefix or exact path by its text, a regex
//! by the literal prefixes every one of its matches must start with (regex-syntax's extractor),
//! never by the regex's text, so `/echo|/.*` is not inside `/echo`.

use lockgate_compiled::{self as compiled, PathMatch};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// What narrowing a child to its parent needed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Narrowed {
    /// Every condition of the parent is now part of the child; nothing was needed beyond what
    /// the child proves on its own.
    Inside,
    /// The child could not be proven inside: these parent paths now guard it.
    Guarded(Vec<PathMatch>),
}

/// Adds `parent`'s conditions to `child` (see the module). `Err` names the methods when the
/// intersection is empty: such a route could never match.
pub(crate) fn narrow(
    child: &mut compiled::Matcher,
    parent: &compiled::Matcher,
) -> Result<Narrowed, (Vec<String>, Vec<String>)> {
    if !parent.methods.is_empty() {
        if child.methods.is_empty() {
            child.methods = parent.methods.clone();
        } else {
            let before = child.methods.clone();
            child.methods.retain(|m| parent.methods.contains(m));
            if child.methods.is_empty() {
                return Err((before, parent.methods.clone()));
            }
        }
    }
    for h in &parent.headers {
        if !child.headers.contains(h) {
            child.headers.push(h.clone());
        }
    }
    for q in &parent.query {
        if !child.query.contains(q) {
            child.query.push(q.clone());
        }
    }
    let mut added = Vec::new();
    for p in parent.within.iter().chain([&parent.path]) {
        if !implies(&child.path, p) && !child.within.contains(p) {
            child.within.push(p.clone());
            added.push(p.clone());
        }
    }
    Ok(if added.is_empty() {
        Narrowed::Inside
    } else {
        Narrowed::Guarded(added)
    })
}

/// Whether every path `child` matches is matched by `guard`. False when unsure.
pub(crate) fn implies(child: &PathMatch, guard: &PathMatch) -> bool {
    match guard {
        PathMatch::Prefix {
            value,
            case_sensitive,
        } => {
            if value == "/" {
                // Every normalised path starts with '/'.
                return true;
            }
            match child {
                PathMatch::Prefix {
                    value: text,
                    case_sensitive: child_sensitive,
                }
                | PathMatch::Exact {
                    value: text,
                    case_sensitive: child_sensitive,
                } => starts_with(text.as_bytes(), value, *case_sensitive, *child_sensitive),
                PathMatch::Regex(pattern) => {
                    regex_prefixes(pattern.as_str(), pattern_case_sensitive(child)).is_some_and(
                        |literals| {
                            literals
                                .iter()
                                // A regex's literals already spell out its case variants.
                                .all(|l| starts_with(l, value, *case_sensitive, true))
                        },
                    )
                }
            }
        }
        PathMatch::Exact {
            value,
            case_sensitive,
        } => match child {
            PathMatch::Exact {
                value: text,
                case_sensitive: child_sensitive,
            } => {
                if *case_sensitive {
                    *child_sensitive && text == value
                } else {
                    text.eq_ignore_ascii_case(value)
                }
            }
            _ => false,
        },
        PathMatch::Regex(_) => child == guard,
    }
}

/// `text` (matched with `text_sensitive`) starts with `prefix` (matched with `sensitive`), so
/// that whatever `text` admits, `prefix` admits too.
fn starts_with(text: &[u8], prefix: &str, sensitive: bool, text_sensitive: bool) -> bool {
    let prefix = prefix.as_bytes();
    if text.len() < prefix.len() {
        return false;
    }
    if sensitive {
        // A case-insensitive child admits case variants a case-sensitive parent does not.
        text_sensitive && &text[..prefix.len()] == prefix
    } else {
        text[..prefix.len()].eq_ignore_ascii_case(prefix)
    }
}

fn pattern_case_sensitive(path: &PathMatch) -> bool {
    match path {
        PathMatch::Regex(pattern) => pattern.case_sensitive(),
        _ => true,
    }
}

/// Literals every match of `source` (anchored at both ends, as the proxy compiles it) starts
/// with; `None` when there is no finite set (`.*`, an empty alternative, too many variants).
fn regex_prefixes(source: &str, case_sensitive: bool) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(!case_sensitive)
        .build()
        .parse(&format!("(?:{source})"))
        .ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

#[cfg(test)]
#[path = "guard_test.rs"]
mod tests;
