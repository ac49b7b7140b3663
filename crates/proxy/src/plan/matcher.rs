//! What a route's matcher needs typed: its methods as [`Method`]s and the header names it looks
//! at as [`HeaderName`]s (or the pseudo-header they stand for), so that matching neither parses
//! nor hashes a string per request. The conditions themselves (paths, values, regexes) are read
//! from the compiled [`Matcher`], where the translator compiled them.

use http::{HeaderName, Method};
use lockgate_compiled::Matcher;

pub(crate) struct MatcherPlan {
    /// `None`: any method. A name that is not a valid method allows nothing, never "any".
    pub(crate) methods: Option<Box<[Method]>>,
    /// Beside the compiled matcher's `headers`.
    pub(crate) headers: Box<[HeaderKey]>,
}

/// Where a header condition's value comes from. The pseudo-headers of HTTP/2 are available to
/// HTTP/1.1 requests too, as in Envoy.
pub(crate) enum HeaderKey {
    Authority,
    Method,
    Path,
    Scheme,
    Name(HeaderName),
    /// Not a valid header name: no request has it (so only an inverted condition holds).
    Absent,
}

impl MatcherPlan {
    pub(crate) fn build(matcher: &Matcher) -> MatcherPlan {
        MatcherPlan {
            methods: (!matcher.methods.is_empty()).then(|| {
                matcher
                    .methods
                    .iter()
                    .filter_map(|name| Method::from_bytes(name.as_bytes()).ok())
                    .collect()
            }),
            headers: matcher
                .headers
                .iter()
                .map(|h| HeaderKey::of(&h.name))
                .collect(),
        }
    }

    pub(crate) fn allows(&self, method: &Method) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|methods| methods.iter().any(|m| m == method))
    }
}

impl HeaderKey {
    fn of(name: &str) -> HeaderKey {
        match name {
            ":authority" => HeaderKey::Authority,
            ":method" => HeaderKey::Method,
            ":path" => HeaderKey::Path,
            ":scheme" => HeaderKey::Scheme,
            _ => HeaderName::from_bytes(name.as_bytes()).map_or(HeaderKey::Absent, HeaderKey::Name),
        }
    }
}
