//! The admin API with `--auth-file` tokens, through real HTTP on 127.0.0.1, against a real store
//! and controller.

mod common;

use std::sync::Arc;

use lockgate_admin::Tokens;
use lockgate_controller::Controller;
use lockgate_store::EmbeddedStore;
use prometheus_client::registry::Registry;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// sha256("s3cret-foxtrot"): the file holds the digest, not the secret.
const FOXTROT_SHA256: &str = "9b602bb0b58b1d0d9d5af76e80a0e08ad0ea79af1720973ecda835d174f46cc9";

fn auth_file() -> String {
    format!(
        r#"
tokens:
  - token: s3cret-echo
    subject: team-echo
    rules:
      - namespaces: [echo]
        kinds: [RouteTable]
        verbs: [get, list, create, update, patch, delete]
  - tokenSha256: {FOXTROT_SHA256}
    subject: team-foxtrot
    rules:
      - namespaces: [foxtrot]
        kinds: [rt]
        verbs: ['*']
  - token: s3cret-admin
    subject: platform
    rules:
      - {{namespaces: ['*'], kinds: ['*'], verbs: ['*']}}
  - token: s3cret-reader
    subject: auditor
    rules:
      - {{namespaces: ['*'], kinds: ['*'], verbs: [get, list]}}
  - token: s3cret-creator
    subject: creator
    rules:
      - {{namespaces: [echo], kinds: [RouteTable], verbs: [create]}}
  - token: s3cret-updater
    subject: updater
    rules:
      - {{namespaces: [echo], kinds: [RouteTable], verbs: [update]}}
  - token: s3cret-monitoring
    subject: prometheus
"#
    )
}

struct Gateway {
    base: String,
    client: reqwest::Client,
    _controller: Controller,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

impl Gateway {
    async fn start() -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).unwrap());
        let tokens = Tokens::parse(&auth_file(), "tokens.yaml").unwrap();
        let (base, controller) = common::serve_admin(store, |handle| {
            lockgate_admin::Admin::with_tokens(
                handle,
                "127.0.0.1:8080",
                None,
                Registry::default(),
                tokens,
            )
        })
        .await;
        Gateway {
            base,
            client: reqwest::Client::new(),
            _controller: controller,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            challenge,
            body,
        }
    }

    async fn put(&self, token: &str, namespace: &str, name: &str, query: &str) -> Answer {
        let path = format!("{}{query}", route_table_path(namespace, name));
        let body = route_table(namespace, name);
        self.call(Method::PUT, &path, Some(token), Some(&body))
            .await
    }
}

fn route_table_path(namespace: &str, name: &str) -> String {
    format!("/apis/gateway.solo.io/v1/namespaces/{namespace}/routetables/{name}")
}

fn route_table(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"routes": [{
            "matchers": [{"prefix": format!("/{namespace}")}],
            "directResponseAction": {"status": 200, "body": namespace}
        }]}
    })
}

#[track_caller]
fn assert_status(answer: &Answer, status: StatusCode, reason: &str, message: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.body["kind"], "Status", "{:?}", answer.body);
    assert_eq!(answer.body["reason"], reason, "{:?}", answer.body);
    let text = answer.body["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(message),
        "{text:?} should start with {message:?}"
    );
}

#[track_caller]
fn assert_forbidden(answer: &Answer, message: &str) {
    assert_status(answer, StatusCode::FORBIDDEN, "Forbidden", message);
}

#[tokio::test]
async fn a_request_without_a_known_token_is_unauthorized() {
    let gateway = Gateway::start().await;
    let list = "/apis/gateway.solo.io/v1/namespaces/echo/routetables";
    for path in [
        list,
        "/apis/gateway.solo.io/v1/routetables",
        "/no/such/path",
    ] {
        let missing = gateway.call(Method::GET, path, None, None).await;
        assert_status(
            &missing,
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a bearer token is required",
        );
        let challenge = missing.challenge.expect("WWW-Authenticate");
        assert!(challenge.starts_with("Bearer"), "{challenge}");

        let wrong = gateway
            .call(Method::GET, path, Some("s3cret-echo-guess"), None)
            .await;
        assert_status(
            &wrong,
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "the token is not known",
        );
        assert!(
            wrong
                .challenge
                .expect("WWW-Authenticate")
                .starts_with("Bearer")
        );
    }
    // Another scheme is no bearer token; the digest is not the token.
    let basic = gateway
        .client
        .get(format!("{}{list}", gateway.base))
        .header("authorization", "Basic czNjcmV0LWVjaG8=")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    let digest = gateway
        .call(Method::GET, list, Some(FOXTROT_SHA256), None)
        .await;
    assert_eq!(digest.status, StatusCode::UNAUTHORIZED);
    // A write without a token stores nothing.
    let body = route_table("echo", "echo-routes");
    let path = route_table_path("echo", "echo-routes");
    let put = gateway.call(Method::PUT, &path, None, Some(&body)).await;
    assert_eq!(put.status, StatusCode::UNAUTHORIZED);
    let stored = gateway
        .call(Method::GET, &path, Some("s3cret-admin"), None)
        .await;
    assert_eq!(stored.status, StatusCode::NOT_FOUND, "{:?}", stored.body);
}

#[tokio::test]
async fn team_echo_writes_its_route_tables_and_nothing_else() {
    let gateway = Gateway::start().await;
    let echo = "s3cret-echo";

    let created = gateway.put(echo, "echo", "echo-routes", "").await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let replaced = gateway.put(echo, "echo", "echo-routes", "").await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    let path = route_table_path("echo", "echo-routes");
    let got = gateway.call(Method::GET, &path, Some(echo), None).await;
    assert_eq!(got.status, StatusCode::OK);
    let listed = gateway
        .call(
            Method::GET,
            "/apis/gateway.solo.io/v1/namespaces/echo/routetables",
            Some(echo),
            None,
        )
        .await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    let patch = json!({"spec": {"weight": 5}});
    let patched = gateway
        .call(Method::PATCH, &path, Some(echo), Some(&patch))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);

    // Foxtrot's namespace: every verb is refused, naming subject, verb, kind and namespace.
    let admin_put = gateway
        .put("s3cret-admin", "foxtrot", "foxtrot-routes", "")
        .await;
    assert_eq!(admin_put.status, StatusCode::CREATED);
    let theirs = route_table_path("foxtrot", "foxtrot-routes");
    assert_forbidden(
        &gateway.put(echo, "foxtrot", "foxtrot-routes", "").await,
        r#"subject "team-echo" may not update RouteTable in namespace "foxtrot""#,
    );
    assert_forbidden(
        &gateway.put(echo, "foxtrot", "new-routes", "").await,
        r#"subject "team-echo" may not create RouteTable in namespace "foxtrot""#,
    );
    assert_forbidden(
        &gateway.call(Method::GET, &theirs, Some(echo), None).await,
        r#"subject "team-echo" may not get RouteTable in namespace "foxtrot""#,
    );
    assert_forbidden(
        &gateway
            .call(Method::PATCH, &theirs, Some(echo), Some(&patch))
            .await,
        r#"subject "team-echo" may not patch RouteTable in namespace "foxtrot""#,
    );
    assert_forbidden(
        &gateway
            .call(Method::DELETE, &theirs, Some(echo), None)
            .await,
        r#"subject "team-echo" may not delete RouteTable in namespace "foxtrot""#,
    );
    assert_forbidden(
        &gateway
            .call(
                Method::GET,
                "/apis/gateway.solo.io/v1/namespaces/foxtrot/routetables",
                Some(echo),
                None,
            )
            .await,
        r#"subject "team-echo" may not list RouteTable in namespace "foxtrot""#,
    );
    // Its own namespace, another kind; and a list across all namespaces.
    assert_forbidden(
        &gateway
            .call(
                Method::GET,
                "/apis/gloo.solo.io/v1/namespaces/echo/upstreams/echo",
                Some(echo),
                None,
            )
            .await,
        r#"subject "team-echo" may not get Upstream in namespace "echo""#,
    );
    assert_forbidden(
        &gateway
            .call(
                Method::GET,
                "/apis/gateway.solo.io/v1/routetables",
                Some(echo),
                None,
            )
            .await,
        r#"subject "team-echo" may not list RouteTable across all namespaces"#,
    );
    let still = gateway
        .call(Method::GET, &theirs, Some("s3cret-admin"), None)
        .await;
    assert_eq!(
        still.body["spec"].get("weight"),
        None,
        "foxtrot's table untouched"
    );

    let deleted = gateway.call(Method::DELETE, &path, Some(echo), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{:?}", deleted.body);
    // '*' namespaces may list across all of them.
    let all = gateway
        .call(
            Method::GET,
            "/apis/gateway.solo.io/v1/routetables",
            Some("s3cret-reader"),
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_token_given_as_its_sha256_works() {
    let gateway = Gateway::start().await;
    let created = gateway
        .put("s3cret-foxtrot", "foxtrot", "foxtrot-routes", "")
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_forbidden(
        &gateway
            .put("s3cret-foxtrot", "echo", "echo-routes", "")
            .await,
        r#"subject "team-foxtrot" may not create RouteTable in namespace "echo""#,
    );
}

#[tokio::test]
async fn put_needs_create_for_a_new_object_and_update_for_an_existing_one() {
    let gateway = Gateway::start().await;
    assert_forbidden(
        &gateway
            .put("s3cret-updater", "echo", "echo-routes", "")
            .await,
        r#"subject "updater" may not create RouteTable in namespace "echo""#,
    );
    let created = gateway
        .put("s3cret-creator", "echo", "echo-routes", "")
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_forbidden(
        &gateway
            .put("s3cret-creator", "echo", "echo-routes", "")
            .await,
        r#"subject "creator" may not update RouteTable in namespace "echo""#,
    );
    let updated = gateway
        .put("s3cret-updater", "echo", "echo-routes", "")
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["result"], "unchanged");
}

#[tokio::test]
async fn a_dry_run_needs_the_same_permission_as_the_write() {
    let gateway = Gateway::start().await;
    let dry = "?dryRun=All";
    let path = route_table_path("echo", "echo-routes");
    assert_forbidden(
        &gateway
            .put("s3cret-reader", "echo", "echo-routes", dry)
            .await,
        r#"subject "auditor" may not create RouteTable in namespace "echo""#,
    );
    assert_forbidden(
        &gateway
            .put("s3cret-updater", "echo", "echo-routes", dry)
            .await,
        r#"subject "updater" may not create RouteTable in namespace "echo""#,
    );
    let would = gateway.put("s3cret-echo", "echo", "echo-routes", dry).await;
    assert_eq!(would.status, StatusCode::CREATED, "{:?}", would.body);
    let nothing = gateway
        .call(Method::GET, &path, Some("s3cret-echo"), None)
        .await;
    assert_eq!(
        nothing.status,
        StatusCode::NOT_FOUND,
        "a dry run stores nothing"
    );

    gateway.put("s3cret-echo", "echo", "echo-routes", "").await;
    let dry_delete = format!("{path}{dry}");
    assert_forbidden(
        &gateway
            .call(Method::DELETE, &dry_delete, Some("s3cret-reader"), None)
            .await,
        r#"subject "auditor" may not delete RouteTable in namespace "echo""#,
    );
    let patch = json!({"spec": {"weight": 1}});
    assert_forbidden(
        &gateway
            .call(
                Method::PATCH,
                &dry_delete,
                Some("s3cret-creator"),
                Some(&patch),
            )
            .await,
        r#"subject "creator" may not patch RouteTable in namespace "echo""#,
    );
}

#[tokio::test]
async fn operations_need_any_valid_token_and_probes_need_none() {
    let gateway = Gateway::start().await;
    for path in ["/check", "/config_dump", "/info", "/metrics"] {
        let without = gateway.call(Method::GET, path, None, None).await;
        assert_eq!(without.status, StatusCode::UNAUTHORIZED, "{path}");
        let wrong = gateway.call(Method::GET, path, Some("nope"), None).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}");
        // A token with no rules at all still reaches the operational endpoints.
        let with = gateway
            .call(Method::GET, path, Some("s3cret-monitoring"), None)
            .await;
        assert_eq!(with.status, StatusCode::OK, "{path}: {:?}", with.body);
    }
    for path in ["/healthz", "/readyz"] {
        let open = gateway.call(Method::GET, path, None, None).await;
        assert_eq!(open.status, StatusCode::OK, "{path}");
    }
    // The monitoring token reaches no resource.
    assert_forbidden(
        &gateway
            .call(
                Method::GET,
                "/apis/gloo.solo.io/v1/namespaces/gloo-system/settings/default",
                Some("s3cret-monitoring"),
                None,
            )
            .await,
        r#"subject "prometheus" may not get Settings in namespace "gloo-system""#,
    );
}
