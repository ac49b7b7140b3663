//! The admin API through real HTTP on 127.0.0.1, against a real store and controller.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::start;

const UPSTREAMS: &str = "/apis/gloo.solo.io/v1/namespaces/echo/upstreams";
const VIRTUAL_SERVICES: &str = "/apis/gateway.solo.io/v1/namespaces/gloo-system/virtualservices";
const SETTINGS: &str = "/apis/gloo.solo.io/v1/namespaces/gloo-system/settings/default";

fn upstream(name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": {"name": name, "namespace": "echo"},
        "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]}}
    })
}

fn virtual_service(upstream: &str) -> Value {
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "app", "namespace": "gloo-system"},
        "spec": {"virtualHost": {"domains": ["*"], "routes": [{
            "matchers": [{"prefix": "/echo"}],
            "routeAction": {"single": {"upstream": {"name": upstream, "namespace": "echo"}}}
        }]}}
    })
}

#[tokio::test]
async fn put_creates_replaces_and_reports_unchanged() {
    let gw = start().await;
    let path = format!("{UPSTREAMS}/echo");
    let (code, body) = gw.put(&path, &upstream("echo", 1000)).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"], "created");
    assert_eq!(body["object"]["metadata"]["generation"], 1);
    assert_eq!(body["object"]["status"]["state"], "Accepted");
    assert_eq!(body["object"]["status"]["observedGeneration"], 1);
    assert_eq!(body["problems"], json!([]));
    let first_version = body["object"]["metadata"]["resourceVersion"].clone();
    assert!(first_version.is_string());

    let (code, body) = gw.put(&path, &upstream("echo", 1000)).await;
    assert_eq!(
        (code, body["result"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );

    let (code, body) = gw.put(&path, &upstream("echo", 2000)).await;
    assert_eq!(
        (code, body["result"].as_str()),
        (StatusCode::OK, Some("configured"))
    );
    assert_eq!(body["object"]["metadata"]["generation"], 2);
    assert_ne!(body["object"]["metadata"]["resourceVersion"], first_version);

    let (code, got) = gw.get(&path).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(got["spec"]["static"]["hosts"][0]["port"], 2000);

    let (code, list) = gw.get("/apis/gloo.solo.io/v1/upstreams").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list["kind"], "UpstreamList");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (_, empty) = gw
        .get("/apis/gloo.solo.io/v1/namespaces/other/upstreams")
        .await;
    assert_eq!(empty["items"], json!([]));

    let (code, body) = gw.delete(&path).await;
    assert_eq!(
        (code, body["result"].as_str()),
        (StatusCode::OK, Some("deleted"))
    );
    assert_eq!(gw.get(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(gw.delete(&path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict() {
    let gw = start().await;
    let path = format!("{UPSTREAMS}/echo");
    gw.put(&path, &upstream("echo", 1000)).await;
    // The controller's status write moves the resourceVersion too: read it once that is done.
    let mut version = Value::Null;
    for _ in 0..500 {
        let (_, got) = gw.get(&path).await;
        if got["status"]["observedGeneration"] == 1 {
            version = got["metadata"]["resourceVersion"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!version.is_null(), "the status was never written");

    let mut update = upstream("echo", 2000);
    update["metadata"]["resourceVersion"] = version.clone();
    let (code, body) = gw.put(&path, &update).await;
    assert_eq!(code, StatusCode::OK, "{body}");

    let mut stale = upstream("echo", 3000);
    stale["metadata"]["resourceVersion"] = version;
    let (code, body) = gw.put(&path, &stale).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "Conflict");

    let mut absent = upstream("absent", 1);
    absent["metadata"]["resourceVersion"] = json!("1");
    let (code, _) = gw.put(&format!("{UPSTREAMS}/absent"), &absent).await;
    assert_eq!(code, StatusCode::CONFLICT);
    // Nothing of the refused writes was stored.
    let (_, got) = gw.get(&path).await;
    assert_eq!(got["spec"]["static"]["hosts"][0]["port"], 2000);
    assert_eq!(
        gw.get(&format!("{UPSTREAMS}/absent")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn dry_run_answers_the_same_and_stores_nothing() {
    let gw = start().await;
    let path = format!("{UPSTREAMS}/echo");
    let (code, body) = gw
        .put(&format!("{path}?dryRun=All"), &upstream("echo", 1000))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"], "created");
    assert_eq!(gw.get(&path).await.0, StatusCode::NOT_FOUND);

    gw.put(&path, &upstream("echo", 1000)).await;
    let (code, body) = gw
        .patch(
            &format!("{path}?dryRun=All"),
            &json!({"spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 9}]}}}),
        )
        .await;
    assert_eq!(
        (code, body["result"].as_str()),
        (StatusCode::OK, Some("configured")),
        "{body}"
    );
    assert_eq!(body["object"]["metadata"]["generation"], 2);
    let (code, body) = gw.delete(&format!("{path}?dryRun=All")).await;
    assert_eq!(
        (code, body["result"].as_str()),
        (StatusCode::OK, Some("deleted"))
    );
    let (_, got) = gw.get(&path).await;
    assert_eq!(got["spec"]["static"]["hosts"][0]["port"], 1000);
    assert_eq!(got["metadata"]["generation"], 1);

    let (code, body) = gw
        .put(&format!("{path}?dryRun=Some"), &upstream("echo", 1))
        .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BadRequest"))
    );
}

#[tokio::test]
async fn always_accept_false_refuses_a_change_that_adds_errors() {
    let gw = start().await;
    gw.put(&format!("{UPSTREAMS}/echo"), &upstream("echo", 1000))
        .await;
    let vs_path = format!("{VIRTUAL_SERVICES}/app");

    // With the defaults (alwaysAccept: true) the typo is stored and the answer lists it.
    let (code, body) = gw.put(&vs_path, &virtual_service("echo-typo")).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["object"]["status"]["state"], "Rejected");
    let problems = body["problems"].as_array().cloned().unwrap_or_default();
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == "VirtualService" && p["name"] == "app"),
        "{body}"
    );
    let (code, _) = gw.put(&vs_path, &virtual_service("echo")).await;
    assert_eq!(code, StatusCode::OK);

    let (code, body) = gw
        .patch(
            SETTINGS,
            &json!({"spec": {"gateway": {"validation": {"alwaysAccept": false}}}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");

    let (code, body) = gw.put(&vs_path, &virtual_service("echo-typo")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["reason"], "Invalid");
    assert!(
        body["message"].as_str().unwrap_or("").contains("echo-typo"),
        "{body}"
    );
    let problems = body["details"]["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        problems
            .iter()
            .any(|p| p["name"] == "app" && p["state"] == "Rejected"),
        "{body}"
    );
    // Refused means not stored, and a dry run is refused the same way.
    let (_, got) = gw.get(&vs_path).await;
    let upstream_name =
        &got["spec"]["virtualHost"]["routes"][0]["routeAction"]["single"]["upstream"]["name"];
    assert_eq!(upstream_name, "echo");
    let (code, _) = gw
        .put(
            &format!("{vs_path}?dryRun=All"),
            &virtual_service("echo-typo"),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    // Deleting the upstream the virtual service needs adds an error too, but in gloo-system:
    // echo's own write is not held hostage by another namespace's resources. The answer still
    // tells the writer what it broke (tests/isolation.rs has the refused in-namespace case).
    let (code, body) = gw.delete(&format!("{UPSTREAMS}/echo")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(
        body["problems"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "app")),
        "{body}"
    );
}

#[tokio::test]
async fn merge_patch_changes_only_what_it_names() {
    let gw = start().await;
    let path = format!("{UPSTREAMS}/echo");
    let mut labelled = upstream("echo", 1000);
    labelled["metadata"]["labels"] = json!({"team": "echo", "tier": "web"});
    gw.put(&path, &labelled).await;

    let (code, body) = gw
        .patch(
            &path,
            &json!({"metadata": {"labels": {"tier": null, "owner": "x"}}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "configured");
    assert_eq!(
        body["object"]["metadata"]["labels"],
        json!({"team": "echo", "owner": "x"})
    );
    assert_eq!(
        body["object"]["metadata"]["generation"], 1,
        "labels are not the spec"
    );
    assert_eq!(body["object"]["spec"]["static"]["hosts"][0]["port"], 1000);

    let (code, body) = gw
        .patch(
            SETTINGS,
            &json!({"spec": {"gloo": {"invalidConfigPolicy": {"replaceInvalidRoutes": true}}}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let policy = &body["object"]["spec"]["gloo"]["invalidConfigPolicy"];
    assert_eq!(policy["replaceInvalidRoutes"], true);
    assert_eq!(
        policy["invalidRouteResponseCode"], 404,
        "the rest of the settings stay"
    );

    let (code, body) = gw
        .patch(&format!("{UPSTREAMS}/absent"), &json!({"spec": {}}))
        .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("NotFound"))
    );
    let (code, body) = gw
        .patch(&path, &json!({"metadata": {"resourceVersion": "1"}}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let (code, body) = gw
        .patch(&path, &json!({"spec": {"static": {"hostz": []}}}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("spec.static"),
        "{body}"
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_the_field_path() {
    let gw = start().await;
    let rt_path = "/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes";
    let typo = r#"{"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
        "metadata": {"name": "echo-routes", "namespace": "echo"},
        "spec": {"routes": [{"matchers": [{"prefx": "/echo"}],
                 "directResponseAction": {"status": 200}}]}}"#;
    let (code, body) = gw.put_raw(rt_path, "application/json", typo).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["reason"], "BadRequest");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("RouteTable echo.echo-routes: spec.routes[0].matchers[0]"),
        "{message}"
    );
    assert!(message.contains("prefx"), "{message}");

    let (code, body) = gw.put_raw(rt_path, "application/json", "{not json").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");

    let (code, body) = gw
        .put(&format!("{UPSTREAMS}/other-name"), &upstream("echo", 1))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("path"),
        "{body}"
    );
    let (code, _) = gw
        .put(&format!("{VIRTUAL_SERVICES}/echo"), &upstream("echo", 1))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    // YAML is welcome, and a wrong path is a 404 Status.
    let yaml = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: yaml, namespace: echo}\nspec:\n  static:\n    hosts: [{addr: 127.0.0.1, port: 1}]\n";
    let (code, body) = gw
        .put_raw(&format!("{UPSTREAMS}/yaml"), "application/yaml", yaml)
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, body) = gw
        .get("/apis/gloo.solo.io/v1/namespaces/echo/gateways/x")
        .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("NotFound"))
    );
    let (code, body) = gw
        .get("/apis/gateway.solo.io/v1/namespaces/echo/upstreams")
        .await;
    assert_eq!(
        code,
        StatusCode::NOT_FOUND,
        "upstreams are gloo.solo.io: {body}"
    );
    assert_eq!(
        gw.get(rt_path).await.0,
        StatusCode::NOT_FOUND,
        "nothing half-written"
    );
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let gw = start().await;
    gw.put(&format!("{UPSTREAMS}/echo"), &upstream("echo", 1000))
        .await;
    let (code, body) = gw
        .put(&format!("{VIRTUAL_SERVICES}/app"), &virtual_service("echo"))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");

    assert_eq!(
        gw.get("/healthz").await,
        (StatusCode::OK, Value::String("ok".into()))
    );
    assert_eq!(
        gw.get("/readyz").await,
        (StatusCode::OK, Value::String("ready".into()))
    );
    let (_, info) = gw.get("/info").await;
    assert_eq!(info["proxyAddress"], "127.0.0.1:8080");
    assert_eq!(info["store"], "embedded");
    assert!(info["version"].is_string());

    // The controller publishes shortly after the writes.
    let mut dump = Value::Null;
    for _ in 0..500 {
        dump = gw.get("/config_dump").await.1;
        if dump["virtual_hosts"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(dump["policy"], "lastKnownGood", "{dump}");
    assert_eq!(
        dump["virtual_hosts"][0]["name"], "gloo-system.app",
        "{dump}"
    );

    let (code, check) = gw.get("/check").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(check["problems"], json!([]), "{check}");
    let resources = check["resources"].as_array().cloned().unwrap_or_default();
    assert!(
        resources
            .iter()
            .any(|r| r["kind"] == "VirtualService" && r["state"] == "Accepted"),
        "{check}"
    );

    let (code, metrics) = gw.get("/metrics").await;
    assert_eq!(code, StatusCode::OK);
    let text = metrics.as_str().unwrap_or("");
    for name in [
        "lockgate_config_generation",
        "lockgate_config_publishes_total",
        "lockgate_translation_duration_seconds_bucket",
        "lockgate_resources{kind=\"VirtualService\",state=\"Accepted\"} 1",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    let (code, body) = gw.send(gw.client.post(format!("{}/check", gw.base))).await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("MethodNotAllowed"))
    );
}

#[tokio::test]
async fn a_route_table_with_a_typo_lists_itself_and_the_virtual_service_it_reaches() {
    let gw = start().await;
    gw.put(&format!("{UPSTREAMS}/echo"), &upstream("echo", 1000))
        .await;
    let delegating = json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "app", "namespace": "gloo-system"},
        "spec": {"virtualHost": {"domains": ["*"], "routes": [{
            "matchers": [{"prefix": "/echo"}],
            "delegateAction": {"ref": {"name": "echo-routes", "namespace": "echo"}}
        }]}}
    });
    let route_table = |upstream: &str| {
        json!({
            "apiVersion": "gateway.solo.io/v1",
            "kind": "RouteTable",
            "metadata": {"name": "echo-routes", "namespace": "echo"},
            "spec": {"routes": [{
                "matchers": [{"prefix": "/echo"}],
                "routeAction": {"single": {"upstream": {"name": upstream, "namespace": "echo"}}}
            }]}
        })
    };
    let rt_path = "/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes";
    let (code, body) = gw.put(rt_path, &route_table("echo")).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, body) = gw
        .put(&format!("{VIRTUAL_SERVICES}/app"), &delegating)
        .await;
    assert_eq!(
        (code, body["problems"].clone()),
        (StatusCode::CREATED, json!([])),
        "{body}"
    );

    let (code, body) = gw.put(rt_path, &route_table("echo-typo")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "configured");
    assert_eq!(body["object"]["status"]["state"], "Rejected");
    let problems = body["problems"].as_array().cloned().unwrap_or_default();
    let named: Vec<String> = problems
        .iter()
        .map(|p| {
            format!(
                "{} {}.{}",
                p["kind"].as_str().unwrap_or(""),
                p["namespace"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        named.contains(&"RouteTable echo.echo-routes".to_string()),
        "{named:?}"
    );
    assert!(
        named.contains(&"VirtualService gloo-system.app".to_string()),
        "{named:?}"
    );
    let reasons = problems
        .iter()
        .map(|p| p["reasons"].to_string())
        .collect::<String>();
    assert!(reasons.contains("echo-typo"), "{reasons}");

    // /check shows the same once the controller has translated the change.
    let mut check = Value::Null;
    for _ in 0..500 {
        check = gw.get("/check").await.1;
        if check["problems"].as_array().is_some_and(|p| p.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let problems = check["problems"].as_array().cloned().unwrap_or_default();
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == "RouteTable" && p["state"] == "Rejected"),
        "{check}"
    );
}
