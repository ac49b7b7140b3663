//! Two HTTP clients racing conflicting writes, to two replicas of the gateway on one store and
//! to one gateway: exactly one wins, the other gets 409 or 422, and with `alwaysAccept: false`
//! nothing invalid is ever stored (checked by translating what the store holds).

mod common;

use std::sync::Arc;

use lockgate_admin::Admin;
use lockgate_api::{Kind, ResourceKey, Snapshot};
use lockgate_store::{EmbeddedStore, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::serve_admin;

const SETTINGS: &str = "/apis/gloo.solo.io/v1/namespaces/gloo-system/settings/default";
const UPSTREAM: &str = "/apis/gloo.solo.io/v1/namespaces/echo/upstreams/u";
const ROUTE_TABLE: &str = "/apis/gateway.solo.io/v1/namespaces/echo/routetables/rt";
const VIRTUAL_SERVICE: &str = "/apis/gateway.solo.io/v1/namespaces/gloo-system/virtualservices/app";

fn upstream() -> Value {
    json!({
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": {"name": "u", "namespace": "echo"},
        "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 1000}]}}
    })
}

/// Team echo's route table, routing to its upstream `u`.
fn route_table() -> Value {
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {"name": "rt", "namespace": "echo"},
        "spec": {"routes": [{
            "matchers": [{"prefix": "/echo"}],
            "routeAction": {"single": {"upstream": {"name": "u", "namespace": "echo"}}}
        }]}
    })
}

fn virtual_service() -> Value {
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "app", "namespace": "gloo-system"},
        "spec": {"virtualHost": {"domains": ["*"], "routes": [{
            "matchers": [{"prefix": "/echo"}],
            "delegateAction": {"selector": {"namespaces": ["echo"]}}
        }]}}
    })
}

/// One client of one gateway.
struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the admin API answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        self.send(self.http.put(url).json(body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        self.send(self.http.delete(url)).await
    }

    async fn patch(&self, path: &str, patch: &Value) -> (StatusCode, Value) {
        let request = self
            .http
            .patch(format!("{}{path}", self.base))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string());
        self.send(request).await
    }
}

/// The errors translation finds in namespace echo, for everything stored.
async fn echo_errors(store: &dyn Store) -> Vec<(ResourceKey, String)> {
    let mut snapshot = Snapshot::default();
    for resource in store.list().await.unwrap().resources {
        snapshot.insert(resource);
    }
    lockgate_translate::validate(&snapshot)
        .error_set()
        .into_iter()
        .filter(|(key, _)| key.namespace == "echo")
        .map(|(key, problem)| (key, problem.to_string()))
        .collect()
}

/// `rounds` rounds of: `deleter` deletes upstream `u` while `putter` creates a route table
/// routing to it, both let go at once. Each is valid against the state both start from; the
/// two together are not.
async fn race(store: &Arc<dyn Store>, deleter: &Client, putter: &Client, rounds: usize) {
    for round in 0..rounds {
        let barrier = tokio::sync::Barrier::new(2);
        let delete = async {
            barrier.wait().await;
            deleter.delete(UPSTREAM).await
        };
        let put = async {
            barrier.wait().await;
            putter.put(ROUTE_TABLE, &route_table()).await
        };
        let ((deleted, delete_body), (put, put_body)) = tokio::join!(delete, put);
        let lost = |code: StatusCode| {
            code == StatusCode::CONFLICT || code == StatusCode::UNPROCESSABLE_ENTITY
        };
        let one_won = (deleted == StatusCode::OK && lost(put))
            || (put == StatusCode::CREATED && lost(deleted));
        assert!(
            one_won,
            "round {round}: exactly one must win: delete {deleted} {}, put {put} {}",
            delete_body["message"], put_body["message"]
        );
        let errors = echo_errors(store.as_ref()).await;
        assert_eq!(
            errors,
            Vec::new(),
            "round {round}: an invalid state was stored"
        );

        // Back to the start: the upstream, no route table.
        let rt = ResourceKey::new(Kind::RouteTable, "echo", "rt");
        if store.get(&rt).await.unwrap().is_some() {
            store.delete(&rt, None).await.unwrap();
        }
        let (code, body) = deleter.put(UPSTREAM, &upstream()).await;
        assert!(code.is_success(), "{code} {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_racing_conflicting_writes_never_both_win() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).unwrap());
    // Two replicas of one gateway: their own controller, write service and admin API each.
    let admin = |handle| Admin::new(handle, "127.0.0.1:8080", None);
    let (one, _one) = serve_admin(Arc::clone(&store), admin).await;
    let (two, _two) = serve_admin(Arc::clone(&store), admin).await;
    let (first, second) = (Client::new(&one), Client::new(&two));

    let strict = json!({"spec": {"gateway": {"validation": {"alwaysAccept": false}}}});
    let (code, body) = first.patch(SETTINGS, &strict).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    for (path, body) in [(UPSTREAM, upstream()), (VIRTUAL_SERVICE, virtual_service())] {
        let (code, answer) = first.put(path, &body).await;
        assert_eq!(code, StatusCode::CREATED, "{answer}");
    }

    // Through two replicas, only the store's precondition stands between the writers.
    race(&store, &first, &second, 20).await;
    // Through one gateway, two clients of its admin API.
    race(&store, &first, &Client::new(&one), 10).await;
}
