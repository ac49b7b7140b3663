//! The admin API's input limits through real HTTP on 127.0.0.1: nesting depth, body size,
//! duplicate keys, names, routes per resource, and `/healthz` while a large body is decoded.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

const RT: &str = "/apis/gateway.solo.io/v1/namespaces/team/routetables/rt";

use common::{Gateway, start};

impl Gateway {
    async fn put_body(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let answer = self
            .client
            .put(format!("{}{RT}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        (status, answer.json().await.unwrap_or(Value::Null))
    }
}

fn route_table(routes: usize) -> Value {
    let route = json!({"matchers": [{"prefix": "/a"}], "directResponseAction": {"status": 200}});
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {"name": "rt", "namespace": "team"},
        "spec": {"routes": vec![route; routes]},
    })
}

fn assert_status(answer: &(StatusCode, Value), code: u16, reason: &str, message: &str) {
    assert_eq!(answer.0.as_u16(), code, "{}", answer.1);
    assert_eq!(answer.1["kind"], "Status", "{}", answer.1);
    assert_eq!(answer.1["reason"], reason, "{}", answer.1);
    let text = answer.1["message"].as_str().unwrap_or_default();
    assert!(text.starts_with(message), "{text}");
}

#[tokio::test]
async fn deeply_nested_bodies_are_refused_before_decoding() {
    let gateway = start().await;
    // Issue 7: 200 KB of `[` took 23 s to refuse and held up /healthz.
    let yaml = "[".repeat(200_000);
    let answer = gateway.put_body("application/yaml", yaml).await;
    assert_status(
        &answer,
        400,
        "BadRequest",
        "the body: nested deeper than the limit of 64 levels",
    );
    let json = "[".repeat(200_000);
    let answer = gateway.put_body("application/json", json).await;
    assert_status(
        &answer,
        400,
        "BadRequest",
        "the body: not valid JSON: recursion limit",
    );
    let deep = format!("{}1{}", "[".repeat(65), "]".repeat(65));
    let answer = gateway.put_body("application/json", deep).await;
    assert_status(
        &answer,
        400,
        "BadRequest",
        "the body: nested deeper than the limit of 64 levels",
    );
}

#[tokio::test]
async fn bodies_over_the_size_limit_get_413_with_a_status() {
    let gateway = start().await;
    let limit = lockgate_api::limits::DEFAULT_MAX_BYTES;
    let answer = gateway
        .put_body("application/json", vec![b' '; limit + 1])
        .await;
    assert_status(
        &answer,
        413,
        "RequestEntityTooLarge",
        &format!("the body is larger than the limit of {limit} bytes"),
    );
}

#[tokio::test]
async fn duplicate_json_keys_names_and_route_counts_are_refused_with_the_field() {
    let gateway = start().await;
    let duplicate = r#"{"apiVersion":"gateway.solo.io/v1","kind":"RouteTable","metadata":{"name":"rt","namespace":"team"},"spec":{"routes":[{"matchers":[{"prefix":"/a"}],"directResponseAction":{"status":200},"directResponseAction":{"status":404}}]}}"#;
    let answer = gateway.put_body("application/json", duplicate).await;
    assert_status(
        &answer,
        400,
        "BadRequest",
        "RouteTable team.rt: spec.routes[0].directResponseAction: duplicate key `directResponseAction`",
    );

    let mut bad_name = route_table(1);
    bad_name["metadata"]["name"] = json!("rt..x");
    let answer = gateway
        .put_body("application/json", bad_name.to_string())
        .await;
    assert_status(
        &answer,
        400,
        "BadRequest",
        "RouteTable team.rt..x: metadata.name: \"rt..x\" is not a valid name",
    );

    let limit = lockgate_api::limits::DEFAULT_MAX_ROUTES;
    let answer = gateway
        .put_body("application/json", route_table(limit + 1).to_string())
        .await;
    assert_status(
        &answer,
        400,
        "BadRequest",
        &format!(
            "RouteTable team.rt: spec.routes: {} routes: more than the limit of {limit} routes per resource",
            limit + 1
        ),
    );
    let answer = gateway
        .put_body("application/json", route_table(3).to_string())
        .await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);

    let patch = gateway
        .client
        .patch(format!("{}{RT}", gateway.base))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"metadata":{"labels":{"a":"1","a":"2"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::BAD_REQUEST);
    let body: Value = patch.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("the body: metadata.labels.a: duplicate key `a`"),
        "{body}"
    );
}

/// The admin API on a single-threaded runtime of its own, as `lockgate serve` runs it.
fn start_on_own_thread() -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let gateway = start().await;
            sender.send(gateway.base.clone()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    receiver.recv().unwrap()
}

#[tokio::test]
async fn healthz_answers_while_a_large_body_is_decoded() {
    let base = start_on_own_thread();
    let client = reqwest::Client::new();
    // Thousands of routes take the decoder a while, and the last one is refused: decoded on
    // the admin API's own thread, the refusal would be written before /healthz is even read.
    let mut table = route_table(9_000);
    table["spec"]["routes"][8_999]["matchers"][0] = json!({"prefx": "/a"});
    let put = client
        .put(format!("{base}{RT}"))
        .header("content-type", "application/json")
        .body(table.to_string())
        .send();
    tokio::pin!(put);
    // Let the body upload and its decoding start, then ask /healthz.
    let health = tokio::select! {
        answer = &mut put => panic!("the PUT finished before /healthz was asked: {answer:?}"),
        () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
            tokio::select! {
                health = client.get(format!("{base}/healthz")).send() => health,
                answer = &mut put => panic!("the PUT finished before /healthz answered: {answer:?}"),
            }
        }
    };
    assert_eq!(health.unwrap().status(), StatusCode::OK);
    let refused = put.await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("RouteTable team.rt: spec.routes[8999].matchers[0].prefx: unknown field"),
        "{body}"
    );
}
