//! Who may call the admin API, when it runs with `--auth-file`: two middlewares.
//!
//! - [`authenticate`] wraps the whole router: every request but the probes (`/healthz`,
//!   `/readyz`, which orchestrators call without credentials) must carry a known bearer token,
//!   else `401`. The token's [`Caller`] is put in the request's extensions.
//! - [`authorize`] wraps the resource routes only, after routing, so it reads the same path
//!   parameters the handlers read: the request becomes (verb, kind, namespace) and must be
//!   granted by one of the caller's rules, else `403`.
//!
//! A PUT creates or updates, and only the handler knows which (it looks under the write
//! lock), so [`authorize`] lets a PUT through when the caller may do either, and the handler
//! checks the exact verb with [`Caller::require`] against what it found.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lockgate_api::{Kind, ResourceKey};

use crate::Admin;
use crate::auth::{Scope, Subject, Tokens, Verb};
use crate::error::ApiError;

/// The subject whose token the request carried.
#[derive(Clone, Debug)]
pub(crate) struct Caller(Arc<Subject>);

impl Caller {
    /// `403` unless the caller may `verb` the object `key`.
    pub(crate) fn require(&self, verb: Verb, key: &ResourceKey) -> Result<(), ApiError> {
        check(&self.0, verb, key.kind, Scope::Namespace(&key.namespace))
    }
}

fn check(subject: &Subject, verb: Verb, kind: Kind, scope: Scope<'_>) -> Result<(), ApiError> {
    if subject.may(verb, kind, scope) {
        return Ok(());
    }
    let message = subject.refusal(verb, kind, scope);
    tracing::info!(subject = subject.name(), %verb, %kind, %scope, "admin API: forbidden");
    Err(ApiError::forbidden(message))
}

/// Paths open without a token: liveness and readiness probes carry no credentials.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorized(message: &str, challenge: &'static str) -> Response {
    let mut response = ApiError::unauthorized(message).into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

pub(crate) async fn authenticate(
    State(tokens): State<Arc<Tokens>>,
    mut request: Request,
    next: Next,
) -> Response {
    if is_probe(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(token) = bearer(request.headers()) else {
        return unauthorized(
            "a bearer token is required: send Authorization: Bearer <token> (lockgate --token or LOCKGATE_TOKEN)",
            "Bearer realm=\"lockgate\"",
        );
    };
    let Some(subject) = tokens.subject_of(token) else {
        tracing::debug!(path = request.uri().path(), "admin API: unknown token");
        return unauthorized(
            "the token is not known",
            "Bearer realm=\"lockgate\", error=\"invalid_token\"",
        );
    };
    let caller = Caller(Arc::clone(subject));
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The kind a resource path names; `None` when the server has no such kind (the handler then
/// answers 404, to an authenticated caller).
fn kind_of(params: &HashMap<String, String>) -> Option<Kind> {
    let (group, version, plural) = (
        params.get("group")?,
        params.get("version")?,
        params.get("plural")?,
    );
    Kind::ALL
        .into_iter()
        .find(|k| k.plural() == plural && k.group() == group && k.version() == version)
}

pub(crate) async fn authorize(
    State(admin): State<Arc<Admin>>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    // Fail closed: this layer is installed only together with `authenticate`.
    let Some(Caller(subject)) = request.extensions().get::<Caller>().cloned() else {
        return ApiError::internal("no authenticated caller for a resource path").into_response();
    };
    let Some(kind) = kind_of(&params) else {
        return next.run(request).await;
    };
    let scope = match params.get("namespace") {
        Some(namespace) => Scope::Namespace(namespace),
        None => Scope::AllNamespaces,
    };
    let name = params.get("name");
    let verb = match (request.method(), name) {
        (&Method::GET | &Method::HEAD, Some(_)) => Verb::Get,
        (&Method::GET | &Method::HEAD, None) => Verb::List,
        (&Method::PATCH, Some(_)) => Verb::Patch,
        (&Method::DELETE, Some(_)) => Verb::Delete,
        (&Method::PUT, Some(name)) => {
            if subject.may(Verb::Create, kind, scope) || subject.may(Verb::Update, kind, scope) {
                // The handler checks which one applies, under its write lock.
                return next.run(request).await;
            }
            // Neither: name the verb that would apply now.
            let Scope::Namespace(namespace) = scope else {
                return next.run(request).await;
            };
            let key = ResourceKey::new(kind, namespace.to_string(), name.clone());
            match admin.controller.store().get(&key).await {
                Ok(Some(_)) => Verb::Update,
                Ok(None) => Verb::Create,
                Err(e) => return ApiError::from(e).into_response(),
            }
        }
        // Any other method is answered 405 by the router.
        _ => return next.run(request).await,
    };
    match check(&subject, verb, kind, scope) {
        Ok(()) => next.run(request).await,
        Err(forbidden) => forbidden.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_the_bearer_token_whatever_the_scheme_case() {
        assert_eq!(bearer(&headers("Bearer s3cret")), Some("s3cret"));
        assert_eq!(bearer(&headers("bearer  s3cret ")), Some("s3cret"));
        assert_eq!(bearer(&headers("Basic czNjcmV0")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&headers("s3cret")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn only_the_probes_are_open() {
        assert!(is_probe("/healthz"));
        assert!(is_probe("/readyz"));
        for path in [
            "/healthz/",
            "/metrics",
            "/check",
            "/info",
            "/config_dump",
            "/",
        ] {
            assert!(!is_probe(path), "{path}");
        }
    }
}
