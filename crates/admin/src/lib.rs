//! The admin API, exactly as `docs/admin-api.md` describes it: Kubernetes-style resource paths
//! with validation on write, `/check`, `/config_dump`, `/info`, `/metrics`, `/healthz`,
//! `/readyz`; with [`Tokens`] (`--auth-file`), bearer tokens and per-subject rules.
//!
//! ```no_run
//! # async fn demo(controller: lockgate_controller::ControllerHandle) -> std::io::Result<()> {
//! let admin = lockgate_admin::Admin::new(controller, "127.0.0.1:8080", None);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9901").await?;
//! lockgate_admin::serve(listener, admin, std::future::pending()).await
//! # }
//! ```

mod access;
mod apply;
mod auth;
mod body;
mod error;
mod listener;
mod ops;
mod proxy_metrics;
mod resources;
mod write;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::get;
use lockgate_controller::ControllerHandle;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

pub use crate::auth::{AuthFileError, Tokens};
use crate::error::ApiError;
pub use crate::listener::{AdminLimits, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
pub use crate::proxy_metrics::register_proxy;

/// The admin API's state.
pub struct Admin {
    controller: ControllerHandle,
    proxy_address: String,
    /// For messages about the read-only directory.
    config_dir: Option<String>,
    registry: Registry,
    /// With `--auth-file`: every request but the probes needs one of these tokens.
    tokens: Option<Arc<Tokens>>,
}

impl Admin {
    /// `proxy_address` is what `/info` reports (and `lockgate proxy url` prints); `config_dir`
    /// names the watched directory in the 405 answered to writes when the store is read-only.
    pub fn new(
        controller: ControllerHandle,
        proxy_address: impl Into<String>,
        config_dir: Option<String>,
    ) -> Arc<Admin> {
        Admin::with_registry(controller, proxy_address, config_dir, Registry::default())
    }

    /// Like [`Admin::new`], serving `registry` on `/metrics` too (the proxy's counters, say);
    /// the controller's metrics are added to it.
    pub fn with_registry(
        controller: ControllerHandle,
        proxy_address: impl Into<String>,
        config_dir: Option<String>,
        registry: Registry,
    ) -> Arc<Admin> {
        Admin::build(controller, proxy_address, config_dir, registry, None)
    }

    /// Like [`Admin::with_registry`], answering only requests that carry one of `tokens`
    /// (`/healthz` and `/readyz` stay open) and only within the rules of the token's subject.
    pub fn with_tokens(
        controller: ControllerHandle,
        proxy_address: impl Into<String>,
        config_dir: Option<String>,
        registry: Registry,
        tokens: Tokens,
    ) -> Arc<Admin> {
        let tokens = Some(Arc::new(tokens));
        Admin::build(controller, proxy_address, config_dir, registry, tokens)
    }

    fn build(
        controller: ControllerHandle,
        proxy_address: impl Into<String>,
        config_dir: Option<String>,
        mut registry: Registry,
        tokens: Option<Arc<Tokens>>,
    ) -> Arc<Admin> {
        controller.metrics().register(&mut registry);
        Arc::new(Admin {
            controller,
            proxy_address: proxy_address.into(),
            config_dir,
            registry,
            tokens,
        })
    }
}

/// The routes of the admin API.
pub fn router(admin: Arc<Admin>) -> Router {
    use resources::{delete_one, get_one, list_all, list_namespaced, patch_one, put_one};
    let mut resources = Router::new()
        .route(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}",
            get(list_namespaced),
        )
        .route(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
            get(get_one)
                .put(put_one)
                .patch(patch_one)
                .delete(delete_one),
        )
        .route("/apis/{group}/{version}/{plural}", get(list_all));
    if admin.tokens.is_some() {
        // After routing, so that it reads the path parameters the handlers read.
        resources =
            resources.route_layer(from_fn_with_state(Arc::clone(&admin), access::authorize));
    }
    let mut router = resources
        // Authorised item by item, like the PUTs it stands for (see `apply.rs`).
        .route("/apply", axum::routing::post(apply::apply))
        .route("/check", get(ops::check))
        .route("/config_dump", get(ops::config_dump))
        .route("/info", get(ops::info))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::not_found(format!("no such path: {uri}")).into_response()
        })
        .method_not_allowed_fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                ApiError::method_not_allowed(format!("{method} is not allowed on {uri}"))
                    .into_response()
            },
        )
        .layer(DefaultBodyLimit::max(body::body_limit()));
    if let Some(tokens) = &admin.tokens {
        // Outermost: unknown paths and wrong methods need a token too.
        router = router.layer(from_fn_with_state(Arc::clone(tokens), access::authenticate));
    }
    router.with_state(admin)
}

/// Serves the admin API on `listener` within the default [`AdminLimits`] until `shutdown`
/// completes, then finishes the requests in progress.
pub async fn serve(
    listener: TcpListener,
    admin: Arc<Admin>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, admin, AdminLimits::default(), shutdown).await
}

/// [`serve`] within `limits`: its own connection budget and header timeout (see
/// `docs/admin-api.md`, "Limits").
pub async fn serve_with(
    listener: TcpListener,
    admin: Arc<Admin>,
    limits: AdminLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve_router(listener, router(admin), limits, shutdown).await
}
