//! One request, start to end: virtual host, normalised path, route, action, counters.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use lockgate_compiled::{Action, Forward, Route, RouteOptions, Target};
use tokio::time::Instant;

use crate::authority;
use crate::body::{ProxyBody, RequestBody};
use crate::forward::{self, Outgoing};
use crate::path;
use crate::redirect::{self, Origin};
use crate::rng;
use crate::route::{self, RequestView};
use crate::stats::Counters;
use crate::table::Table;
use crate::upgrade;
use crate::{Inner, headers};

/// Envoy's default route timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

impl Inner {
    pub(crate) async fn handle(
        &self,
        request: http::Request<Incoming>,
        client_ip: &HeaderValue,
    ) -> Response<ProxyBody> {
        let start = Instant::now();
        let table = self.table();
        let response = self.route(&table, request, client_ip, start).await;
        let listener = &self.registry.listener;
        listener.request();
        listener.response(response.status().as_u16(), start.elapsed());
        response
    }

    async fn route(
        &self,
        table: &Table,
        request: http::Request<Incoming>,
        client_ip: &HeaderValue,
        start: Instant,
    ) -> Response<ProxyBody> {
        let config = &*table.config;
        let (mut parts, body) = request.into_parts();
        if headers::head_bytes(&parts) > self.limits.max_request_header_bytes {
            return local(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request headers too large",
            );
        }
        let routed = match authority::routed(&parts) {
            Ok(routed) => routed,
            Err(error) => return local(StatusCode::BAD_REQUEST, error.to_string()),
        };
        let authority = routed.authority;
        // What was routed is what the upstream is told: absolute-form and HTTP/2 requests get a
        // `Host` rebuilt from their authority (validated, so it is a valid header value).
        let rebuilt_host = routed
            .rebuild_host
            .then(|| HeaderValue::from_str(authority).ok())
            .flatten();
        let Some(vh) = config.virtual_host(authority) else {
            return local(
                StatusCode::NOT_FOUND,
                Bytes::from_static(b"no route matched"),
            );
        };
        let normalised = match path::normalise(parts.uri.path(), self.escaped_slashes) {
            Ok(path) => path,
            Err(error) => return local(StatusCode::BAD_REQUEST, error.to_string()),
        };
        let query = parts.uri.query();
        let view = RequestView {
            method: &parts.method,
            path: &normalised,
            query,
            authority,
            headers: &parts.headers,
        };
        let Some((index, route)) = route::find(&vh.routes, &view) else {
            return local(
                StatusCode::NOT_FOUND,
                Bytes::from_static(b"no route matched"),
            );
        };
        let counters = table.route_counters(&self.registry, vh, index);
        counters.request();
        let prefix = route::rewritable_prefix_len(&route.matcher.path, &normalised);
        let mut response = match &route.action {
            Action::DirectResponse { status, body } => local(
                status_code(*status),
                Bytes::copy_from_slice(body.as_bytes()),
            ),
            Action::Redirect(redirect) => {
                let location = redirect::location(
                    redirect,
                    &Origin {
                        authority,
                        path: &normalised,
                        query,
                        rewritable_prefix: prefix,
                    },
                );
                let status = if redirect.status == 0 {
                    StatusCode::MOVED_PERMANENTLY
                } else {
                    status_code(redirect.status)
                };
                let mut response = local(status, Bytes::new());
                match HeaderValue::try_from(location) {
                    Ok(location) => {
                        response.headers_mut().insert(header::LOCATION, location);
                    }
                    Err(_) => *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
                }
                response
            }
            Action::Forward(forward) => {
                // The upstream receives the normalised path, rewritten if the route says so,
                // and the query as received.
                let path_and_query = match (&route.options.prefix_rewrite, prefix) {
                    (Some(rewrite), Some(len)) => Some(with_query(
                        &redirect::rewrite_prefix(&normalised, len, rewrite),
                        query,
                    )),
                    _ => match &normalised {
                        Cow::Borrowed(_) => None,
                        Cow::Owned(path) => Some(with_query(path, query)),
                    },
                };
                let path_and_query = match path_and_query {
                    None => Ok(parts
                        .uri
                        .path_and_query()
                        .cloned()
                        .unwrap_or_else(|| PathAndQuery::from_static("/"))),
                    Some(result) => result,
                };
                match path_and_query {
                    Err(()) => local(StatusCode::BAD_REQUEST, Bytes::from_static(b"invalid path")),
                    Ok(path_and_query) => {
                        if let Some(host) = rebuilt_host {
                            parts.headers.insert(header::HOST, host);
                        }
                        drop(normalised);
                        let request = Forwarded {
                            parts,
                            body,
                            path_and_query,
                        };
                        self.forward(table, route, forward, request, client_ip, counters, start)
                            .await
                    }
                }
            }
        };
        manipulate(&mut response, &route.options);
        counters.response(response.status().as_u16(), start.elapsed());
        response
    }

    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        table: &Table,
        route: &Route,
        forward: &Forward,
        request: Forwarded,
        client_ip: &HeaderValue,
        route_counters: &Counters,
        start: Instant,
    ) -> Response<ProxyBody> {
        let Forwarded {
            mut parts,
            body,
            path_and_query,
        } = request;
        // The translator never compiles an empty forward or a dangling cluster; should one slip
        // through, the request gets a 500 rather than the worker a panic.
        if forward.destinations.is_empty() {
            return local(
                StatusCode::INTERNAL_SERVER_ERROR,
                "route has no destination",
            );
        }
        let draw = rng::below(forward.total_weight.max(1));
        let id = match &forward.pick(draw).target {
            Target::Cluster(id) => *id,
            Target::Invalid { status, body } => {
                return local(
                    status_code(*status),
                    Bytes::copy_from_slice(body.as_bytes()),
                );
            }
        };
        let Some(cluster) = table.cluster(&self.registry, id) else {
            return local(
                StatusCode::INTERNAL_SERVER_ERROR,
                "route names an unknown cluster",
            );
        };
        cluster.counters.request();
        if cluster.endpoints.is_empty() {
            let key = &table.config.cluster(id).key;
            tracing::debug!(cluster = %key, "no healthy upstream: the cluster has no endpoints");
            // Envoy's words; the cluster's name stays out of the body (it names another team's
            // upstream as much as ours).
            let response = local(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream");
            cluster.counters.response(503, start.elapsed());
            return response;
        }
        let options = &route.options;
        if parts.version == Version::HTTP_2 {
            headers::join_cookies(&mut parts.headers);
        }
        let upgrade = upgrade::take(&mut parts, options);
        let te_trailers = cluster.http2 && headers::asks_for_trailers(&parts.headers);
        headers::remove_hop_by_hop(&mut parts.headers);
        if te_trailers {
            parts
                .headers
                .insert(header::TE, HeaderValue::from_static("trailers"));
        }
        headers::remove_expect_continue(&mut parts.headers);
        headers::set_forwarded(&mut parts.headers, client_ip);
        headers::manipulate(
            &mut parts.headers,
            &options.request_headers_to_remove,
            &options.request_headers_to_add,
        );
        let timeout = match options.timeout_ms {
            None => Some(DEFAULT_TIMEOUT),
            // 0 turns the timeout off, as in Envoy.
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
        };
        let deadline = timeout.map(|t| start + t);
        let (body, client_body_failed) = if body.is_end_stream() {
            (RequestBody::Empty, None)
        } else {
            let failed = Arc::new(AtomicBool::new(false));
            let body = RequestBody::Streaming {
                body,
                failed: failed.clone(),
            };
            (body, Some(failed))
        };
        let outgoing = Outgoing {
            method: parts.method,
            path_and_query,
            headers: parts.headers,
            body,
        };
        let result = match upgrade {
            None => forward::send(cluster, outgoing, options.retries.as_ref(), deadline)
                .await
                .map(|(response, lease)| (response, Some(lease))),
            Some(upgrade) => upgrade::forward(cluster, outgoing, upgrade, deadline)
                .await
                .map(|response| (response, None)),
        };
        let response = match result {
            Ok((response, lease)) => {
                let (mut head, body) = response.into_parts();
                if head.status != StatusCode::SWITCHING_PROTOCOLS {
                    headers::remove_hop_by_hop(&mut head.headers);
                }
                let body = if body.is_end_stream() {
                    // Nothing will poll an empty body to its end: release the connection now.
                    if let Some(lease) = lease {
                        lease.release();
                    }
                    ProxyBody::Empty
                } else {
                    match deadline {
                        Some(deadline) => ProxyBody::Deadline {
                            body,
                            deadline: tokio::time::sleep_until(deadline),
                            lease,
                        },
                        None => ProxyBody::Streaming { body, lease },
                    }
                };
                Response::from_parts(head, body)
            }
            Err(_)
                if client_body_failed
                    .as_ref()
                    .is_some_and(|failed| failed.load(Ordering::Relaxed)) =>
            {
                // The client's fault (a malformed chunked body, or it left mid-body): not an
                // upstream error. Its framing cannot be trusted further: close.
                let mut response = local(StatusCode::BAD_REQUEST, "malformed request body");
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                response
            }
            Err(failure) => {
                route_counters.error();
                cluster.counters.error();
                // The detail names the endpoint's address: for the logs, never for the client.
                tracing::debug!(route = %route.origin, detail = %failure.detail(), "upstream failure");
                local(failure.status(), failure.body())
            }
        };
        cluster
            .counters
            .response(response.status().as_u16(), start.elapsed());
        response
    }
}

/// A request on its way to a cluster, its upstream path decided.
struct Forwarded {
    parts: Parts,
    body: Incoming,
    path_and_query: PathAndQuery,
}

fn with_query(path: &str, query: Option<&str>) -> Result<PathAndQuery, ()> {
    let text = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    PathAndQuery::try_from(text).map_err(|_| ())
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response the proxy makes itself.
fn local(status: StatusCode, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let body: Bytes = body.into();
    let mut response = Response::new(ProxyBody::Empty);
    *response.status_mut() = status;
    if !body.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        *response.body_mut() = ProxyBody::full(body);
    }
    response
}

fn manipulate(response: &mut Response<ProxyBody>, options: &RouteOptions) {
    if !options.response_headers_to_add.is_empty() || !options.response_headers_to_remove.is_empty()
    {
        headers::manipulate(
            response.headers_mut(),
            &options.response_headers_to_remove,
            &options.response_headers_to_add,
        );
    }
}
