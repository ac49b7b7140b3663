//! A route's options: a delegating parent's merged under the child's own, then compiled into
//! what the proxy runs (prefix rewrite, timeout, retries, header manipulation, upgrades), with a
//! field path on every error.

use lockgate_api as api;
use lockgate_compiled as compiled;

use crate::problem::{Code, Flaw};

/// Route options with a child's own options taking precedence over its delegating parent's.
pub(crate) fn merge_options(
    parent: Option<&api::RouteOptions>,
    child: Option<&api::RouteOptions>,
) -> Option<api::RouteOptions> {
    match (parent, child) {
        (None, c) => c.cloned(),
        (p, None) => p.cloned(),
        (Some(p), Some(c)) => Some(api::RouteOptions {
            prefix_rewrite: c
                .prefix_rewrite
                .clone()
                .or_else(|| p.prefix_rewrite.clone()),
            timeout: c.timeout.or(p.timeout),
            retries: c.retries.clone().or_else(|| p.retries.clone()),
            header_manipulation: c
                .header_manipulation
                .clone()
                .or_else(|| p.header_manipulation.clone()),
            upgrades: if c.upgrades.is_empty() {
                p.upgrades.clone()
            } else {
                c.upgrades.clone()
            },
        }),
    }
}

/// Compiles route options; `path` is the route's compiled path condition, which decides whether a
/// prefix rewrite makes sense.
pub(crate) fn compile_options(
    options: Option<&api::RouteOptions>,
    path: &compiled::PathMatch,
    field: &str,
) -> Result<compiled::RouteOptions, Flaw> {
    let Some(o) = options else {
        return Ok(compiled::RouteOptions::default());
    };
    let at = format!("{field}.options");
    if o.prefix_rewrite.is_some() && matches!(path, compiled::PathMatch::Regex(_)) {
        return Err(bad(
            format!("{at}.prefixRewrite"),
            "needs a prefix or exact matcher, not a regex",
        ));
    }
    if let Some(rewrite) = o
        .prefix_rewrite
        .as_deref()
        .filter(|r| !r.is_empty() && !r.starts_with('/'))
    {
        return Err(bad(
            format!("{at}.prefixRewrite"),
            format!("{rewrite:?} must start with '/'"),
        ));
    }
    let retries = match &o.retries {
        None => None,
        Some(r) => {
            const KNOWN: [&str; 8] = [
                "5xx",
                "gateway-error",
                "reset",
                "connect-failure",
                "retriable-4xx",
                "refused-stream",
                "retriable-status-codes",
                "http3-post-connect-failure",
            ];
            let retry_on: Vec<String> = r
                .retry_on
                .as_deref()
                .unwrap_or("5xx,connect-failure,reset")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(bad) = retry_on.iter().find(|s| !KNOWN.contains(&s.as_str())) {
                return Err(self::bad(
                    format!("{at}.retries.retryOn"),
                    format!("unknown condition {bad:?} (known: {})", KNOWN.join(", ")),
                ));
            }
            if r.num_retries > 10 {
                return Err(bad(
                    format!("{at}.retries.numRetries"),
                    format!("{} is more than 10", r.num_retries),
                ));
            }
            Some(compiled::Retries {
                attempts: r.num_retries,
                per_try_timeout_ms: r.per_try_timeout.map(|d| d.0.as_millis() as u64),
                retry_on,
            })
        }
    };
    let mut out = compiled::RouteOptions {
        prefix_rewrite: o.prefix_rewrite.clone(),
        timeout_ms: o.timeout.map(|d| d.0.as_millis() as u64),
        retries,
        websocket_disabled: !websocket_enabled(&o.upgrades, &at)?,
        ..Default::default()
    };
    if let Some(h) = &o.header_manipulation {
        let hm_at = format!("{at}.headerManipulation");
        out.request_headers_to_add = headers_to_add(
            &h.request_headers_to_add,
            &format!("{hm_at}.requestHeadersToAdd"),
        )?;
        out.response_headers_to_add = headers_to_add(
            &h.response_headers_to_add,
            &format!("{hm_at}.responseHeadersToAdd"),
        )?;
        out.request_headers_to_remove = header_names(
            &h.request_headers_to_remove,
            &format!("{hm_at}.requestHeadersToRemove"),
        )?;
        out.response_headers_to_remove = header_names(
            &h.response_headers_to_remove,
            &format!("{hm_at}.responseHeadersToRemove"),
        )?;
    }
    Ok(out)
}

/// Whether `options.upgrades` lets WebSocket through: yes unless an entry says `enabled: false`.
fn websocket_enabled(upgrades: &[api::ProtocolUpgradeConfig], at: &str) -> Result<bool, Flaw> {
    let mut enabled = None;
    for (i, upgrade) in upgrades.iter().enumerate() {
        let Some(websocket) = &upgrade.websocket else {
            return Err(bad(format!("{at}.upgrades[{i}]"), "set websocket"));
        };
        if enabled.is_some() {
            return Err(bad(
                format!("{at}.upgrades[{i}].websocket"),
                "websocket is configured twice",
            ));
        }
        enabled = Some(websocket.enabled.unwrap_or(true));
    }
    Ok(enabled.unwrap_or(true))
}

fn headers_to_add(
    list: &[api::HeaderValueOption],
    at: &str,
) -> Result<Vec<compiled::HeaderToAdd>, Flaw> {
    list.iter()
        .enumerate()
        .map(|(i, h)| {
            if !valid_header_name(&h.header.key) {
                return Err(bad(
                    format!("{at}[{i}].header.key"),
                    format!("{:?} is not a valid header name", h.header.key),
                ));
            }
            if h.header
                .value
                .bytes()
                .any(|b| b == b'\r' || b == b'\n' || b == 0)
            {
                return Err(bad(
                    format!("{at}[{i}].header.value"),
                    "must not contain line breaks or NUL",
                ));
            }
            Ok(compiled::HeaderToAdd {
                name: h.header.key.to_ascii_lowercase(),
                value: h.header.value.clone(),
                append: h.append.unwrap_or(true),
            })
        })
        .collect()
}

fn header_names(list: &[String], at: &str) -> Result<Vec<String>, Flaw> {
    list.iter()
        .enumerate()
        .map(|(i, name)| {
            if valid_header_name(name) {
                Ok(name.to_ascii_lowercase())
            } else {
                Err(bad(
                    format!("{at}[{i}]"),
                    format!("{name:?} is not a valid header name"),
                ))
            }
        })
        .collect()
}

fn bad(field: String, message: impl Into<String>) -> Flaw {
    Flaw::new(Code::InvalidRouteOptionsError, field, message)
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
