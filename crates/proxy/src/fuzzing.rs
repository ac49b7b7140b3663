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

/// The proxy's routing for one configuration, as the request path runs it: the plan built as
/// [`crate::Proxy::publish`] builds it, the virtual host by authority, the path normalised, the
/// route through the index. For the routing benchmark (`benches/routing.rs`); not an API.
#[doc(hidden)]
pub struct Router {
    plan: crate::plan::Plan,
}

impl Router {
    pub fn new(config: std::sync::Arc<CompiledConfig>) -> Router {
        Router {
            plan: crate::plan::Plan::build(config, &crate::registry::Registry::new()),
        }
    }

    /// The virtual host's and the route's index a request takes, through the route index.
    pub fn route(
        &self,
        method: &Method,
        authority: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<(usize, usize)> {
        self.lookup(method, authority, path, headers, true)
    }

    /// The same answer by visiting every route in order (what the index replaces).
    pub fn scan(
        &self,
        method: &Method,
        authority: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<(usize, usize)> {
        self.lookup(method, authority, path, headers, false)
    }

    fn lookup(
        &self,
        method: &Method,
        authority: &str,
        path: &str,
        headers: &HeaderMap,
        indexed: bool,
    ) -> Option<(usize, usize)> {
        let vh_index = self.plan.config.virtual_host_index(authority)?;
        let vh = &self.plan.config.virtual_hosts[vh_index];
        let vh_plan = &self.plan.virtual_hosts[vh_index];
        let normalised = crate::path::normalise(path, EscapedSlashes::default()).ok()?;
        let view = crate::route::RequestView {
            method,
            path: &normalised,
            query: None,
            authority,
            scheme: "http",
            headers,
        };
        let route = if indexed {
            crate::route::find(vh, vh_plan, &view)
        } else {
            (0..vh.routes.len()).find(|&i| {
                crate::route::matches(&vh.routes[i].matcher, &vh_plan.routes[i].matcher, &view)
            })
        }?;
        Some((vh_index, route))
    }
}
