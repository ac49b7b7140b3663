//! A watched directory behind the admin API: statuses are shown, writes refused as read-only,
//! and a file that does not parse is on `/check` by name.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::start_with;
use lockgate_store::{DirStore, DirStoreOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

const UPSTREAMS: &str = "/apis/gloo.solo.io/v1/namespaces/echo/upstreams";

fn upstream(name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": {"name": name, "namespace": "echo"},
        "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]}}
    })
}

#[tokio::test]
async fn a_watched_directory_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let text = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: echo, namespace: echo}\nspec:\n  static:\n    hosts: [{addr: 127.0.0.1, port: 1}]\n";
    std::fs::write(config.join("upstream.yaml"), text).unwrap();
    std::fs::write(config.join("broken.yaml"), "kind: [\n").unwrap();
    let store = Arc::new(DirStore::open(&config, DirStoreOptions::default()));
    let shown = config.display().to_string();
    let gw = start_with(store, dir, Some(shown.clone())).await;

    // Statuses are written (in memory) right after the first publish.
    let mut got = Value::Null;
    for _ in 0..500 {
        let (code, body) = gw.get(&format!("{UPSTREAMS}/echo")).await;
        assert_eq!(code, StatusCode::OK);
        got = body;
        if got["status"].is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got["status"]["state"], "Accepted", "{got}");
    for (code, body) in [
        gw.put(&format!("{UPSTREAMS}/echo"), &upstream("echo", 2))
            .await,
        gw.patch(&format!("{UPSTREAMS}/echo"), &json!({"spec": {}}))
            .await,
        gw.delete(&format!("{UPSTREAMS}/echo")).await,
    ] {
        assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert_eq!(body["reason"], "MethodNotAllowed");
        let message = body["message"].as_str().unwrap_or("");
        assert!(
            message.contains("read-only directory") && message.contains(&shown),
            "{message}"
        );
    }
    let (_, info) = gw.get("/info").await;
    assert_eq!(info["store"], "dir");
    // The file that does not parse is on /check, by name.
    let (_, check) = gw.get("/check").await;
    let problems = check["problems"].as_array().cloned().unwrap_or_default();
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == "File" && p["name"] == "broken.yaml"),
        "{check}"
    );
}
