//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz builds them outside the workspace):
//! path normalisation and the route matcher, as a request reaches them. Not an API; hidden from
//! the documentation and free to change with the internals.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use lockgate_compiled::CompiledConfig;

use crate::route::RequestView;

/// `path` normalised as the proxy normalises it before matching, or why it is refused.
#[doc(hidden)]
pub fn normalise_path(path: &str) -> Result<String, String> {
    crate::path::normalise(path)
        .map(|p| p.into_owned())
        .map_err(|e| e.to_string())
}

/// The index of the route of `config` that a request would take: the virtual host by
/// `authority`, the path (before `?`) normalised, then the first matching route. `None` when the
/// request is refused or nothing matches; headers that are not valid HTTP are left out.
#[doc(hidden)]
pub fn match_route(
    config: &CompiledConfig,
    method: &str,
    target: &str,
    authority: &str,
    headers: &[(String, String)],
) -> Option<usize> {
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let path = crate::path::normalise(path).ok()?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    let host = config.virtual_host(authority)?;
    let view = RequestView {
        method: &method,
        path: &path,
        query,
        authority,
        headers: &map,
    };
    crate::route::find(&host.routes, &view).map(|(index, _)| index)
}
