//! One route's conditions: checking and compiling matchers, and the rules that tie a delegated
//! child route to its parent (inheritance, and the child staying inside the parent's matcher).

use lockgate_api as api;
use lockgate_compiled::{self as compiled, Pattern, ValueMatch};

use crate::problem::{Code, Flaw};

/// A matcher problem at `field`.
fn bad(field: String, message: impl Into<String>) -> Flaw {
    Flaw::new(Code::InvalidMatcherError, field, message)
}

/// The path condition of a matcher as written. A matcher with none matches every path (`/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathSpec<'a> {
    Prefix(&'a str),
    Exact(&'a str),
    Regex(&'a str),
}

impl<'a> PathSpec<'a> {
    pub(crate) fn of(m: &'a api::Matcher) -> Result<PathSpec<'a>, String> {
        match (&m.prefix, &m.exact, &m.regex) {
            (None, None, None) => Ok(PathSpec::Prefix("/")),
            (Some(p), None, None) => Ok(PathSpec::Prefix(p)),
            (None, Some(e), None) => Ok(PathSpec::Exact(e)),
            (None, None, Some(r)) => Ok(PathSpec::Regex(r)),
            _ => Err("set only one of prefix, exact and regex".into()),
        }
    }

    fn text(self) -> &'a str {
        match self {
            PathSpec::Prefix(t) | PathSpec::Exact(t) | PathSpec::Regex(t) => t,
        }
    }
}

/// Checks and compiles one matcher. `field` is its path in the resource
/// (`spec.routes[0].matchers[1]`), used in every message.
pub(crate) fn compile(m: &api::Matcher, field: &str) -> Result<compiled::Matcher, Flaw> {
    let case_sensitive = m.case_sensitive.unwrap_or(true);
    let path = match PathSpec::of(m).map_err(|e| bad(field.to_string(), e))? {
        PathSpec::Prefix(value) => {
            check_path_literal(value, &|| format!("{field}.prefix"))?;
            compiled::PathMatch::Prefix {
                value: value.to_string(),
                case_sensitive,
            }
        }
        PathSpec::Exact(value) => {
            check_path_literal(value, &|| format!("{field}.exact"))?;
            compiled::PathMatch::Exact {
                value: value.to_string(),
                case_sensitive,
            }
        }
        PathSpec::Regex(source) => {
            compiled::PathMatch::Regex(Pattern::new(source, case_sensitive).map_err(|e| {
                bad(
                    format!("{field}.regex"),
                    format!("invalid regular expression: {}", first_line(&e.to_string())),
                )
            })?)
        }
    };
    let mut headers = Vec::with_capacity(m.headers.len());
    for (i, h) in m.headers.iter().enumerate() {
        let at = || format!("{field}.headers[{i}]");
        if !is_token(&h.name) {
            return Err(bad(
                format!("{}.name", at()),
                format!("{:?} is not a valid header name", h.name),
            ));
        }
        headers.push(compiled::HeaderMatch {
            name: h.name.to_ascii_lowercase(),
            value: value_match(h.value.as_deref(), h.regex, &at)?,
            invert: h.invert_match,
        });
    }
    let mut query = Vec::with_capacity(m.query_parameters.len());
    for (i, q) in m.query_parameters.iter().enumerate() {
        let at = || format!("{field}.queryParameters[{i}]");
        if q.name.is_empty() {
            return Err(bad(format!("{}.name", at()), "must not be empty"));
        }
        query.push(compiled::QueryMatch {
            name: q.name.clone(),
            value: value_match(q.value.as_deref(), q.regex, &at)?,
        });
    }
    let mut methods = Vec::with_capacity(m.methods.len());
    for (i, method) in m.methods.iter().enumerate() {
        if !is_token(method) {
            return Err(bad(
                format!("{field}.methods[{i}]"),
                format!("{method:?} is not an HTTP method"),
            ));
        }
        let method = method.to_ascii_uppercase();
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    Ok(compiled::Matcher {
        path,
        headers,
        query,
        methods,
        within: Vec::new(),
    })
}

fn value_match(
    value: Option<&str>,
    regex: bool,
    at: &dyn Fn() -> String,
) -> Result<ValueMatch, Flaw> {
    match (value, regex) {
        (None, false) | (Some(""), false) => Ok(ValueMatch::Present),
        (None, true) => Err(bad(at(), "regex is true but no value is given")),
        (Some(v), false) => Ok(ValueMatch::Exact(v.to_string())),
        (Some(v), true) => Pattern::new(v, true).map(ValueMatch::Regex).map_err(|e| {
            bad(
                format!("{}.value", at()),
                format!("invalid regular expression: {}", first_line(&e.to_string())),
            )
        }),
    }
}

fn check_path_literal(value: &str, field: &dyn Fn() -> String) -> Result<(), Flaw> {
    if !value.starts_with('/') {
        return Err(bad(field(), format!("{value:?} must start with '/'")));
    }
    if value.contains(['?', '#']) || value.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad(
            field(),
            format!(
                "{value:?} must be a path without query, fragment, spaces or control characters"
            ),
        ));
    }
    Ok(())
}

/// RFC 9110 token characters, which header names and methods are made of.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

/// The matcher a child route gets under a delegating route whose matcher is `parent`: with
/// `inherit_path` the parent's path replaces the child's; with `inherit_matchers` the parent's
/// headers, query parameters and methods are added to the child's. A child with no matcher at
/// all stays inside its parent by taking the parent's path (Gloo would give it `/`, which can
/// never fit under a non-root parent; that trap is fixed here).
pub(crate) fn inherit(
    parent: &api::Matcher,
    child: &api::Matcher,
    child_has_no_matchers: bool,
    inherit_matchers: bool,
    inherit_path: bool,
) -> api::Matcher {
    let mut out = child.clone();
    if inherit_path || child_has_no_matchers {
        out.prefix = parent.prefix.clone().or_else(|| Some("/".into()));
        out.exact = None;
        out.regex = None;
        out.case_sensitive = parent.case_sensitive;
    }
    if inherit_matchers {
        for h in &parent.headers {
            if !out.headers.contains(h) {
                out.headers.push(h.clone());
            }
        }
        for q in &parent.query_parameters {
            if !out.query_parameters.contains(q) {
                out.query_parameters.push(q.clone());
            }
        }
        if out.methods.is_empty() {
            out.methods = parent.methods.clone();
        }
    }
    out
}

/// Why `child` does not fit under `parent` (a delegating prefix matcher), if it does not: a
/// prefix or exact path must start with the parent's prefix (a regex is checked by `guard`
/// instead) and it must carry the parent's headers, query
/// parameters and methods, so that delegation can only narrow what the parent matches.
pub(crate) fn misfit(parent: &api::Matcher, child: &api::Matcher) -> Option<String> {
    let prefix = parent.prefix.as_deref().unwrap_or("/");
    let child_path = PathSpec::of(child).ok()?;
    if matches!(child_path, PathSpec::Regex(_)) {
        // Whether a regex stays inside is proven on the compiled matcher (`guard`), and one
        // that may not is served guarded rather than dropped.
        return misfit_conditions(parent, child);
    }
    let parent_insensitive = parent.case_sensitive == Some(false);
    let starts = if parent_insensitive {
        child_path
            .text()
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
    } else {
        child_path.text().starts_with(prefix)
    };
    // A case-insensitive child under a case-sensitive parent would match more than the parent.
    let widens_case = !parent_insensitive && child.case_sensitive == Some(false) && prefix != "/";
    if !starts || widens_case {
        let kind = match child_path {
            PathSpec::Prefix(_) => "prefix",
            PathSpec::Exact(_) | PathSpec::Regex(_) => "exact path",
        };
        return Some(format!(
            "{kind} {:?} does not start with the parent route's prefix {prefix:?}",
            child_path.text()
        ));
    }
    misfit_conditions(parent, child)
}

/// The header, query parameter and method part of [`misfit`].
fn misfit_conditions(parent: &api::Matcher, child: &api::Matcher) -> Option<String> {
    if let Some(h) = parent.headers.iter().find(|h| !child.headers.contains(h)) {
        return Some(format!(
            "it does not carry the parent route's header matcher {:?}",
            h.name
        ));
    }
    if let Some(q) = parent
        .query_parameters
        .iter()
        .find(|q| !child.query_parameters.contains(q))
    {
        return Some(format!(
            "it does not carry the parent route's query parameter matcher {:?}",
            q.name
        ));
    }
    if !parent.methods.is_empty() {
        let upper = |m: &String| m.to_ascii_uppercase();
        let allowed: Vec<String> = parent.methods.iter().map(upper).collect();
        if child.methods.is_empty()
            || child
                .methods
                .iter()
                .map(upper)
                .any(|m| !allowed.contains(&m))
        {
            return Some(format!(
                "its methods must be among the parent route's methods {allowed:?}"
            ));
        }
    }
    None
}

#[cfg(test)]
#[path = "matcher_test.rs"]
mod tests;
