//! WebSocket pass-through, which Gloo enables by default and a route can turn off
//! (`options.upgrades: [{websocket: {enabled: false}}]`).
//!
//! Only a request that matched a forward route gets here, so a direct response or a redirect
//! never opens a tunnel. An HTTP/1.1 request with `Connection: upgrade` and
//! `Upgrade: websocket`, on a route that allows WebSocket, keeps those two headers on its way
//! upstream (every other hop-by-hop header is still removed) and goes out on a connection of its
//! own. When the upstream answers `101 Switching Protocols`, the client gets the 101 and the two
//! connections are spliced byte for byte until either side closes.
//!
//! Any other upgrade (another protocol, or WebSocket where the route turns it off) is forwarded
//! as a plain HTTP request: `Upgrade` and `Connection` are hop-by-hop headers and are removed,
//! so the upstream answers an ordinary request, and a `101` it might send anyway is refused
//! (502) rather than tunnelled.

use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use lockgate_compiled::RouteOptions;
use tokio::time::Instant;

use crate::body::UpstreamBody;
use crate::forward::{self, Failure, Outgoing};
use crate::plan::ClusterState;
use crate::pool::{self, Limits};
use crate::upstream::Limit;

/// The client's side of an upgrade it asked for.
pub(crate) struct Upgrade {
    protocol: HeaderValue,
    downstream: OnUpgrade,
}

/// Takes the upgrade a request asks for, if the route allows it, before its hop-by-hop headers
/// are removed.
pub(crate) fn take(parts: &mut Parts, options: &RouteOptions) -> Option<Upgrade> {
    if parts.version != Version::HTTP_11 || options.websocket_disabled {
        return None;
    }
    let protocol = parts.headers.get(header::UPGRADE)?.clone();
    if !protocol.as_bytes().eq_ignore_ascii_case(b"websocket") {
        return None;
    }
    let asks = parts
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if !asks {
        return None;
    }
    let downstream = parts.extensions.remove::<OnUpgrade>()?;
    Some(Upgrade {
        protocol,
        downstream,
    })
}

/// Puts back the two headers an upgrade travels on, after hop-by-hop removal.
fn restore(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

/// Sends the upgrade request to one of the cluster's endpoints (ejected ones skipped, under the
/// upstream's circuit breakers); on `101`, splices the two connections in a task of their own,
/// which keeps the tunnel's place under `maxConnections`, and returns the 101 for the client,
/// its upgrade headers restored.
pub(crate) async fn forward(
    cluster: &ClusterState,
    mut outgoing: Outgoing,
    upgrade: Upgrade,
    deadline: Option<Instant>,
) -> Result<Response<UpstreamBody>, Failure> {
    let endpoint = cluster.endpoints[forward::pick(cluster)];
    let _request = cluster
        .upstream
        .acquire(Limit::Requests, cluster.circuit_breakers.max_requests)
        .map_err(Failure::Overflow)?;
    restore(&mut outgoing.headers, upgrade.protocol);
    let request = forward::build(outgoing, endpoint);
    let limits = Limits {
        upstream: &cluster.upstream,
        breakers: &cluster.circuit_breakers,
    };
    let sent = pool::send_upgrade(endpoint, request, limits);
    let result = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, sent)
            .await
            .map_err(|_| Failure::Timeout)?,
        None => sent.await,
    };
    let (mut response, tunnel) = result.map_err(|error| forward::failure(endpoint, error))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response.map(UpstreamBody::Hyper));
    }
    let upstream = hyper::upgrade::on(&mut response);
    let downstream = upgrade.downstream;
    tokio::spawn(async move {
        let _open = tunnel;
        let (downstream, upstream) = match tokio::try_join!(downstream, upstream) {
            Ok(both) => both,
            Err(error) => {
                tracing::debug!(%endpoint, %error, "upgrade did not complete");
                return;
            }
        };
        let (mut downstream, mut upstream) = (TokioIo::new(downstream), TokioIo::new(upstream));
        if let Err(error) = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await {
            tracing::debug!(%endpoint, %error, "upgraded connection ended with an error");
        }
    });
    if let Some(protocol) = response.headers().get(header::UPGRADE).cloned() {
        let headers = response.headers_mut();
        crate::headers::remove_hop_by_hop(headers);
        restore(headers, protocol);
    }
    Ok(response.map(UpstreamBody::Hyper))
}
