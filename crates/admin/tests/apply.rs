//! `POST /apply`: many resources in one request through real HTTP on 127.0.0.1, each
//! authorised and answered as its own PUT would be.

mod common;

use std::sync::Arc;

use lockgate_admin::{Admin, Tokens};
use lockgate_controller::Controller;
use lockgate_store::{EmbeddedStore, Store};
use prometheus_client::registry::Registry;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn route_table(namespace: &str, upstream: Option<&str>) -> Value {
    let action = match upstream {
        Some(u) => {
            json!({"routeAction": {"single": {"upstream": {"name": u, "namespace": namespace}}}})
        }
        None => json!({"directResponseAction": {"status": 200, "body": namespace}}),
    };
    let mut route = json!({"matchers": [{"prefix": format!("/{namespace}")}]});
    route
        .as_object_mut()
        .unwrap()
        .extend(action.as_object().unwrap().clone());
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {"name": "routes", "namespace": namespace},
        "spec": {"routes": [route]}
    })
}

fn strict_settings() -> Value {
    json!({
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Settings",
        "metadata": {"name": "default", "namespace": "gloo-system"},
        "spec": {"gateway": {"validation": {"alwaysAccept": false}}}
    })
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

struct Gateway {
    base: String,
    store: Arc<dyn Store>,
    _controller: Controller,
    _dir: tempfile::TempDir,
}

async fn gateway(tokens: Option<&str>) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).unwrap());
    let tokens = tokens.map(|file| Tokens::parse(file, "tokens.yaml").unwrap());
    let (base, controller) = common::serve_admin(Arc::clone(&store), |handle| match tokens {
        Some(tokens) => {
            Admin::with_tokens(handle, "127.0.0.1:8080", None, Registry::default(), tokens)
        }
        None => Admin::new(handle, "127.0.0.1:8080", None),
    })
    .await;
    Gateway {
        base,
        store,
        _controller: controller,
        _dir: dir,
    }
}

impl Gateway {
    async fn apply(&self, body: &Value, query: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/apply{query}", self.base))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn stored(&self, namespace: &str) -> bool {
        let key =
            lockgate_api::ResourceKey::new(lockgate_api::Kind::RouteTable, namespace, "routes");
        self.store.get(&key).await.unwrap().is_some()
    }
}

#[tokio::test]
async fn each_item_is_answered_in_order_and_a_broken_one_fails_alone() {
    let gw = gateway(None).await;
    let items = vec![
        strict_settings(),
        route_table("good", None),
        json!({"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable", "metadata": {"name": "typo", "namespace": "t"}, "spec": {"routez": []}}),
        route_table("bad", Some("missing")),
    ];
    let (status, answer) = gw.apply(&list(items), "", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["result"], "configured", "{answer}");
    assert_eq!(items[1]["result"], "created");
    assert_eq!(items[1]["object"]["status"]["state"], "Accepted");
    assert_eq!(items[2]["error"]["code"], 400, "{answer}");
    assert!(
        items[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("spec.routez"),
        "{answer}"
    );
    // The Settings of the same batch refuse invalid writes: the broken table is refused,
    // with the problem named, and the good one is stored.
    assert_eq!(items[3]["error"]["code"], 422, "{answer}");
    assert!(
        items[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{answer}"
    );
    assert!(gw.stored("good").await);
    assert!(!gw.stored("bad").await);
}

#[tokio::test]
async fn a_dry_run_stores_nothing_and_a_body_that_is_not_a_list_is_refused() {
    let gw = gateway(None).await;
    let (status, answer) = gw
        .apply(&list(vec![route_table("team", None)]), "?dryRun=All", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["items"][0]["result"], "created");
    assert!(!gw.stored("team").await);

    let (status, answer) = gw.apply(&route_table("team", None), "", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["message"].as_str().unwrap().contains("List"),
        "{answer}"
    );
}

#[tokio::test]
async fn every_item_needs_the_permission_its_own_put_would_need() {
    let gw = gateway(Some(
        "tokens:\n  - token: s3cret-echo\n    subject: team-echo\n    rules:\n      - {namespaces: [echo], kinds: [RouteTable], verbs: [create, update]}\n",
    ))
    .await;
    let items = vec![route_table("echo", None), route_table("foxtrot", None)];
    let (status, answer) = gw.apply(&list(items.clone()), "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");

    let (status, answer) = gw.apply(&list(items), "", Some("s3cret-echo")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["items"][0]["result"], "created");
    assert_eq!(answer["items"][1]["error"]["code"], 403, "{answer}");
    let refusal = answer["items"][1]["error"]["message"].as_str().unwrap();
    assert!(
        refusal.contains("team-echo") && refusal.contains("foxtrot"),
        "{refusal}"
    );
    assert!(gw.stored("echo").await);
    assert!(!gw.stored("foxtrot").await);
}
