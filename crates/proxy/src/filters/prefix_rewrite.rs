//! The path the upstream receives: the normalised path, with the matched prefix replaced when
//! the route says `prefixRewrite`, and the query as received. A request whose path needed no
//! normalising and no rewrite keeps its own `PathAndQuery` (no copy).

use std::borrow::Cow;

use http::uri::{PathAndQuery, Uri};
use lockgate_compiled::PathMatch;

use crate::filters::redirect::rewrite_prefix;

/// The length of the path prefix a prefix rewrite replaces: the prefix for prefix routes, the
/// whole path for exact ones; regex routes are not rewritten.
pub(crate) fn rewritable_prefix_len(path_match: &PathMatch, path: &str) -> Option<usize> {
    match path_match {
        PathMatch::Prefix { value, .. } => Some(value.len()),
        PathMatch::Exact { .. } => Some(path.len()),
        PathMatch::Regex(_) => None,
    }
}

/// The upstream's path and query, or `Err` when the result is not a valid request target.
/// Takes the `Cow` itself: a borrowed path is the request's own, which needs no new target.
#[allow(clippy::ptr_arg)]
pub(crate) fn upstream_path(
    uri: &Uri,
    normalised: &Cow<'_, str>,
    rewrite: Option<(&str, usize)>,
) -> Result<PathAndQuery, ()> {
    let query = uri.query();
    match (rewrite, normalised) {
        (Some((rewrite, len)), _) => with_query(&rewrite_prefix(normalised, len, rewrite), query),
        (None, Cow::Owned(path)) => with_query(path, query),
        (None, Cow::Borrowed(_)) => Ok(uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"))),
    }
}

fn with_query(path: &str, query: Option<&str>) -> Result<PathAndQuery, ()> {
    let text = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    PathAndQuery::try_from(text).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &'static str) -> Uri {
        Uri::from_static(text)
    }

    #[test]
    fn an_untouched_path_is_kept_as_received() {
        let u = uri("/echo/a?x=1");
        let path = upstream_path(&u, &Cow::Borrowed("/echo/a"), None).unwrap();
        assert_eq!(path.as_str(), "/echo/a?x=1");
    }

    #[test]
    fn a_normalised_path_keeps_the_query() {
        let u = uri("/echo/./a?x=1");
        let normalised = Cow::Owned("/echo/a".to_string());
        assert_eq!(
            upstream_path(&u, &normalised, None).unwrap().as_str(),
            "/echo/a?x=1"
        );
    }

    #[test]
    fn the_matched_prefix_is_replaced() {
        let u = uri("/app/x?q");
        let path = upstream_path(&u, &Cow::Borrowed("/app/x"), Some(("/", 4))).unwrap();
        assert_eq!(path.as_str(), "/x?q");
        let exact = PathMatch::Exact {
            value: "/app".into(),
            case_sensitive: true,
        };
        assert_eq!(rewritable_prefix_len(&exact, "/app"), Some(4));
    }
}
