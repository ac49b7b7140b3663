//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz builds them outside the workspace):
//! path normalisation and the route matcher, as a request reaches them. Not an API; hidden from
//! the documentation and free to change with the internals.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use lockgate_compiled::CompiledConfig;

use crate::path::EscapedSlashes;
use crate::route::{RouteLookup, RouteRequest, find_route};

/// `path` normalised as the proxy normalises it before matching under `policy`, or why it is
/// refused.
#[doc(hidden)]
pub fn normalise_path(path: &str, policy: EscapedSlashes) -> Result<String, String> {
    crate::path::normalise(path, policy)
        .map(|p| p.into_owned())
        .map_err(|e| e.to_string())
}

/// The index of the route of `config` that a request would take ([`find_route`], the handler's
/// own steps). `None` when the request is refused or nothing matches; headers that are not valid
/// HTTP are left out.
#[doc(hidden)]
pub fn match_route(
    config: &CompiledConfig,
    method: &str,
    target: &str,
    authority: &str,
    headers: &[(String, String)],
    escaped_slashes: EscapedSlashes,
) -> Option<usize> {
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    let request = RouteRequest {
        method: &method,
        authority,
        path,
        query,
        headers: &map,
        escaped_slashes,
    };
    match find_route(config, &request) {
        RouteLookup::Matched { index, .. } => Some(index),
        _ => None,
    }
}
