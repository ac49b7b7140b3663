//! Starting a real controller and admin API on 127.0.0.1 for the integration tests.

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
