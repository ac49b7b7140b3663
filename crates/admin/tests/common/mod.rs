//! Starting a real controller and admin API on 127.0.0.1 for the integration tests.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use lockgate_admin::Admin;
use lockgate_compiled::CompiledConfig;
use lockgate_controller::{Controller, ControllerHandle, ControllerOptions};
use lockgate_store::Store;

/// Starts a controller on `store` and the admin API that `admin` builds for it, on a free port,
/// and waits (bounded) until `/readyz` answers 200. Returns the base URL and the controller,
/// which must live as long as the test.
pub(crate) async fn serve_admin(
    store: Arc<dyn Store>,
    admin: impl FnOnce(ControllerHandle) -> Arc<Admin>,
) -> (String, Controller) {
    let config = Arc::new(ArcSwap::from_pointee(CompiledConfig::default()));
    let controller = Controller::start(store, config, ControllerOptions::default())
        .await
        .unwrap();
    let admin = admin(controller.handle());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(lockgate_admin::serve(
        listener,
        admin,
        std::future::pending(),
    ));
    // Ready once the first configuration is published; /readyz needs no token.
    let client = reqwest::Client::new();
    for _ in 0..500 {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
            return (base, controller);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the gateway never became ready");
}

/// A controller and its admin API without tokens, over a store in a temporary directory.
pub(crate) struct Gateway {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    _controller: Controller,
    _dir: tempfile::TempDir,
}

/// [`Gateway`] over `store`, which lives in `dir`; `config_dir` when the store is a watched
/// directory (the admin API then refuses writes).
pub(crate) async fn start_with(
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    config_dir: Option<String>,
) -> Gateway {
    let (base, controller) = serve_admin(store, |handle| {
        Admin::new(handle, "127.0.0.1:8080", config_dir)
    })
    .await;
    Gateway {
        base,
        client: reqwest::Client::new(),
        _controller: controller,
        _dir: dir,
    }
}

/// [`Gateway`] over a fresh embedded store.
pub(crate) async fn start() -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lockgate_store::EmbeddedStore::open(dir.path().join("store.redb")).unwrap());
    start_with(store, dir, None).await
}

/// Requests to the admin API; every answer as its status and its JSON body (or the text).
impl Gateway {
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = request.send().await.expect("the admin API answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    pub(crate) async fn get(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub(crate) async fn put(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(self.client.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub(crate) async fn put_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let request = self
            .client
            .put(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_string());
        self.send(request).await
    }

    pub(crate) async fn patch(
        &self,
        path: &str,
        patch: &serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let request = self
            .client
            .patch(format!("{}{path}", self.base))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string());
        self.send(request).await
    }

    pub(crate) async fn delete(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(self.client.delete(format!("{}{path}", self.base)))
            .await
    }
}
