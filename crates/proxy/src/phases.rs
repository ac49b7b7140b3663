//! One request, start to end, as a fixed sequence of phases over one [`Ctx`].
//!
//! 1. **accept** (per connection, in `lib.rs`): the connection budget, the client's address
//!    formatted once ([`Client`]), the connection timers (`conn`).
//! 2. **request headers**: the head's size and the authority ([`request_head`]).
//! 3. **route**: the virtual host by authority, the path normalised (`path`), the first route
//!    that holds, through the plan's route index (`route`).
//! 4. **local answers**: a direct response ([`direct_response`]) or a redirect ([`redirect`])
//!    ends the request here.
//! 5. **upstream request**: a destination drawn by weight, the upstream path
//!    ([`prefix_rewrite`]), hop-by-hop headers removed, `x-forwarded-*` and `x-request-id`
//!    ([`forwarded`]), the route's request header operations, the route timeout's deadline.
//! 6. **upstream**: endpoint choice, circuit breakers, retries and per-try timeouts, outlier
//!    detection, WebSocket upgrades (`forward`, `upgrade`).
//! 7. **upstream response**: hop-by-hop headers removed, the body streamed under the deadline.
//! 8. **response**: the route's response header operations.
//! 9. **log**: the counters of the listener, the route and the cluster.
//!
//! A phase that answers returns the response as an `Err`, so the ones after it are skipped and
//! the response and log phases still run. A new feature is a filter in one of these phases, in
//! a file of its own under `filters/`.

// A phase's `Err` is the answer to the client, as large as its `Ok`: boxing it would only add an
// allocation to every refused request.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use lockgate_compiled::Action;
use tokio::time::Instant;

use crate::Inner;
use crate::body::{ProxyBody, RequestBody};
use crate::ctx::{Client, Ctx, Matched};
use crate::filters::direct_response::local;
use crate::filters::redirect::{self, Origin};
use crate::filters::{forwarded, prefix_rewrite, request_head};
use crate::forward::{self, Outgoing};
use crate::headers;
use crate::path;
use crate::plan::{ActionPlan, ClusterState, ForwardPlan, Plan, TargetPlan};
use crate::rng;
use crate::route::{self, RequestView};
use crate::upgrade;

type Answer = Response<ProxyBody>;

impl Inner {
    pub(crate) async fn handle(
        &self,
        plan: &Plan,
        client: &Client,
        request: Request<Incoming>,
    ) -> Answer {
        let mut ctx = Ctx::new(plan, client, Instant::now());
        let mut response = match self.run(&mut ctx, request).await {
            Ok(response) | Err(response) => response,
        };
        respond(&ctx, &mut response);
        self.log(&ctx, &response);
        response
    }

    /// Phases 2 to 7.
    async fn run(&self, ctx: &mut Ctx<'_>, request: Request<Incoming>) -> Result<Answer, Answer> {
        let plan = ctx.plan;
        let (mut parts, body) = request.into_parts();
        let routed = request_head::check(&parts, &self.limits)?;
        let authority = routed.authority;

        let not_found = || {
            local(
                StatusCode::NOT_FOUND,
                Bytes::from_static(b"no route matched"),
            )
        };
        let (virtual_host, vh_plan) = plan.virtual_host(authority).ok_or_else(not_found)?;
        let normalised = path::normalise(parts.uri.path(), self.escaped_slashes)
            .map_err(|error| local(StatusCode::BAD_REQUEST, error.to_string()))?;
        let view = RequestView {
            method: &parts.method,
            path: &normalised,
            query: parts.uri.query(),
            authority,
            scheme: ctx.client.scheme.as_str(),
            headers: &parts.headers,
        };
        let index = route::find(virtual_host, vh_plan, &view).ok_or_else(not_found)?;
        let (route, route_plan) = (&virtual_host.routes[index], &vh_plan.routes[index]);
        let matched = Matched {
            index,
            route,
            plan: route_plan,
            counters: route_plan.counters(&self.registry, virtual_host, route),
        };
        ctx.matched = Some(matched);
        matched.counters.request();
        let prefix =
            prefix_rewrite::rewritable_prefix_len(&matched.route.matcher.path, &normalised);

        let forward = match (&matched.plan.action, &matched.route.action) {
            (ActionPlan::Direct { status, body }, _) => {
                return Err(local(*status, body.clone()));
            }
            (ActionPlan::Redirect { status }, Action::Redirect(redirect)) => {
                let origin = Origin {
                    authority,
                    path: &normalised,
                    query: parts.uri.query(),
                    rewritable_prefix: prefix,
                };
                return Err(redirect::respond(*status, redirect, &origin));
            }
            (ActionPlan::Forward(forward), _) => forward,
            (ActionPlan::Redirect { .. }, _) => {
                return Err(local(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "inconsistent route",
                ));
            }
        };

        // Phase 5: the upstream request.
        let rewrite = match (&matched.route.options.prefix_rewrite, prefix) {
            (Some(rewrite), Some(len)) => Some((rewrite.as_str(), len)),
            _ => None,
        };
        let path_and_query = prefix_rewrite::upstream_path(&parts.uri, &normalised, rewrite)
            .map_err(|()| local(StatusCode::BAD_REQUEST, Bytes::from_static(b"invalid path")))?;
        // What was routed is what the upstream is told: absolute-form and HTTP/2 requests get a
        // `Host` rebuilt from their authority (validated, so it is a valid header value).
        let rebuilt_host = routed
            .rebuild_host
            .then(|| HeaderValue::from_str(authority).ok())
            .flatten();
        drop(normalised);
        let cluster = pick(ctx, forward)?;
        cluster.counters.request();
        ctx.cluster = Some(cluster);
        if cluster.endpoints.is_empty() {
            tracing::debug!(route = %matched.route.origin, "no healthy upstream: the cluster has no endpoints");
            // Envoy's words; the cluster's name stays out of the body (it names another team's
            // upstream as much as ours).
            return Err(local(
                StatusCode::SERVICE_UNAVAILABLE,
                "no healthy upstream",
            ));
        }
        if let Some(host) = rebuilt_host {
            parts.headers.insert(header::HOST, host);
        }
        if parts.version == Version::HTTP_2 {
            headers::join_cookies(&mut parts.headers);
        }
        let options = &matched.route.options;
        let upgrade = upgrade::take(&mut parts, options);
        // gRPC over HTTP/2 needs `te: trailers`, which hop-by-hop removal would drop.
        let te_trailers = cluster.http2 && headers::asks_for_trailers(&parts.headers);
        headers::remove_hop_by_hop(&mut parts.headers);
        if te_trailers {
            parts
                .headers
                .insert(header::TE, HeaderValue::from_static("trailers"));
        }
        headers::remove_expect_continue(&mut parts.headers);
        forwarded::set_forwarded(&mut parts.headers, &ctx.client.ip, ctx.client.scheme);
        matched.plan.request_headers.apply(&mut parts.headers);
        ctx.deadline = matched.plan.timeout.map(|t| ctx.start + t);
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

        // Phase 6: the upstream.
        let result = match upgrade {
            None => forward::send(
                cluster,
                outgoing,
                matched.plan.retries.as_ref(),
                ctx.deadline,
            )
            .await
            .map(|(response, lease)| (response, Some(lease))),
            Some(upgrade) => upgrade::forward(cluster, outgoing, upgrade, ctx.deadline)
                .await
                .map(|response| (response, None)),
        };

        // Phase 7: the upstream response.
        match result {
            Ok((response, lease)) => {
                ctx.upstream_responded = Some(Instant::now());
                ctx.endpoint = lease.as_ref().and_then(|lease| lease.endpoint());
                Ok(forward::stream_back(response, lease, ctx.deadline))
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
                Err(response)
            }
            Err(failure) => {
                ctx.upstream_failed = true;
                // The detail names the endpoint's address: for the logs, never for the client.
                tracing::debug!(route = %matched.route.origin, detail = %failure.detail(), "upstream failure");
                Err(local(failure.status(), failure.body()))
            }
        }
    }

    /// Phase 9: every request counts on the listener; a routed one on its route, and one that
    /// reached a cluster on the cluster.
    fn log(&self, ctx: &Ctx<'_>, response: &Answer) {
        let status = response.status().as_u16();
        let elapsed = ctx.start.elapsed();
        let listener = &self.registry.listener;
        listener.request();
        listener.response(status, elapsed);
        if let Some(matched) = ctx.matched {
            if ctx.upstream_failed {
                matched.counters.error();
            }
            matched.counters.response(status, elapsed);
        }
        if let Some(cluster) = ctx.cluster {
            if ctx.upstream_failed {
                cluster.counters.error();
            }
            cluster.counters.response(status, elapsed);
        }
        tracing::trace!(
            peer = %ctx.client.peer,
            route = ctx.matched.map_or("", |m| m.route.origin.as_str()),
            route_index = ctx.matched.map(|m| m.index),
            endpoint = ctx.endpoint.map(tracing::field::display),
            status,
            upstream_micros = ctx.upstream_responded.map(|t| (t - ctx.start).as_micros() as u64),
            micros = elapsed.as_micros() as u64,
            "request"
        );
    }
}

/// Phase 5's draw: a destination by weight. A destination that is not a cluster answers here.
fn pick<'p>(ctx: &Ctx<'p>, forward: &ForwardPlan) -> Result<&'p ClusterState, Answer> {
    let target = forward
        .pick(rng::below(forward.total.max(1)))
        .ok_or_else(|| {
            local(
                StatusCode::INTERNAL_SERVER_ERROR,
                "route has no destination",
            )
        })?;
    match target {
        TargetPlan::Cluster(index) => ctx.plan.cluster(*index).ok_or_else(|| {
            local(
                StatusCode::INTERNAL_SERVER_ERROR,
                "route names an unknown cluster",
            )
        }),
        TargetPlan::Local { status, body } => Err(local(*status, body.clone())),
    }
}

/// Phase 8: the route's response header operations, on every answer of a routed request.
fn respond(ctx: &Ctx<'_>, response: &mut Answer) {
    if let Some(matched) = ctx.matched
        && !matched.plan.response_headers.is_empty()
    {
        matched.plan.response_headers.apply(response.headers_mut());
    }
}
