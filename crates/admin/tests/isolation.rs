//! Write validation and team boundaries: with `alwaysAccept: false` a write is refused only for
//! problems it adds in its own namespace, never for another team's resources.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{Gateway, start};

const SETTINGS: &str = "/apis/gloo.solo.io/v1/namespaces/gloo-system/settings/default";

fn path(kind: &str, namespace: &str, name: &str) -> String {
    let group = if kind == "upstreams" {
        "gloo.solo.io"
    } else {
        "gateway.solo.io"
    };
    format!("/apis/{group}/v1/namespaces/{namespace}/{kind}/{name}")
}

fn virtual_service(namespace: &str, name: &str, route: Value) -> Value {
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"virtualHost": {"domains": [format!("{name}.example")], "routes": [route]}}
    })
}

fn route_table(namespace: &str, name: &str, prefix: &str) -> Value {
    json!({
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"routes": [{
            "matchers": [{"prefix": prefix}],
            "directResponseAction": {"status": 200, "body": name}
        }]}
    })
}

fn delegate(prefix: &str, namespace: &str, name: &str) -> Value {
    json!({
        "matchers": [{"prefix": prefix}],
        "delegateAction": {"ref": {"name": name, "namespace": namespace}}
    })
}

impl Gateway {
    /// The resource once the controller has written the status of its current generation
    /// (bounded wait: statuses are written after each translation).
    async fn settled(&self, path: &str) -> Value {
        for _ in 0..300 {
            let (_, body) = self.get(path).await;
            let generation = &body["metadata"]["generation"];
            if !body["status"]["state"].is_null()
                && body["status"]["observedGeneration"] == *generation
            {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no status for {path}");
    }

    async fn strict(&self) {
        let request = self
            .client
            .patch(format!("{}{SETTINGS}", self.base))
            .header("content-type", "application/merge-patch+json")
            .body(
                json!({"spec": {"gateway": {"validation": {"alwaysAccept": false, "allowWarnings": false}}}})
                    .to_string(),
            );
        let (code, body) = self.send(request).await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn another_teams_delegation_never_blocks_a_teams_own_writes() {
    let gw = start().await;
    let foxtrot_table = path("routetables", "foxtrot", "routes");
    let (code, body) = gw
        .put(
            &foxtrot_table,
            &route_table("foxtrot", "routes", "/foxtrot"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    // Ops let every namespace hold virtual services (but not delegate across namespaces);
    // echo's virtual service then tries to delegate into foxtrot's table.
    let request = gw
        .client
        .patch(format!("{}{SETTINGS}", gw.base))
        .header("content-type", "application/merge-patch+json")
        .body(json!({"spec": {"gateway": {"virtualServiceNamespaces": ["*"]}}}).to_string());
    assert_eq!(gw.send(request).await.0, StatusCode::OK);
    let (code, body) = gw
        .put(
            &path("virtualservices", "echo", "grab"),
            &virtual_service("echo", "grab", delegate("/", "foxtrot", "routes")),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["object"]["status"]["state"], "Warning", "{body}");
    let table = gw.settled(&foxtrot_table).await;
    assert_eq!(table["status"]["state"], "Accepted", "{table}");

    gw.strict().await;
    // foxtrot changes its own table: nothing of echo's counts against it.
    let (code, body) = gw
        .put(
            &foxtrot_table,
            &route_table("foxtrot", "routes", "/foxtrot/v2"),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["object"]["status"]["state"], "Accepted", "{body}");
    // echo repeating its refused delegation under strict validation adds a warning on its own
    // resource: refused.
    let (code, body) = gw
        .put(
            &path("virtualservices", "echo", "grab2"),
            &virtual_service("echo", "grab2", delegate("/", "foxtrot", "routes")),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn a_write_that_breaks_its_own_namespace_is_refused() {
    let gw = start().await;
    let table = path("routetables", "gloo-system", "routes");
    let (code, _) = gw
        .put(&table, &route_table("gloo-system", "routes", "/a"))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, body) = gw
        .put(
            &path("virtualservices", "gloo-system", "app"),
            &virtual_service("gloo-system", "app", delegate("/", "gloo-system", "routes")),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    gw.strict().await;
    let (code, body) = gw.delete(&table).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("route table gloo-system.routes not found"),
        "{body}"
    );
}

#[tokio::test]
async fn a_backdated_virtual_service_does_not_take_a_domain() {
    let gw = start().await;
    let app = |name: &str, created: &str| {
        json!({
            "apiVersion": "gateway.solo.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "gloo-system", "creationTimestamp": created},
            "spec": {"virtualHost": {"domains": ["*"], "routes": [{
                "matchers": [{"prefix": "/"}],
                "directResponseAction": {"status": 200, "body": name}
            }]}}
        })
    };
    let (code, body) = gw
        .put(
            &path("virtualservices", "gloo-system", "zz-first"),
            &app("zz-first", "2030-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_ne!(
        body["object"]["metadata"]["creationTimestamp"],
        "2030-01-01T00:00:00Z"
    );
    // A newcomer named to win the name tie-break and backdated to win on time still loses.
    let (code, body) = gw
        .put(
            &path("virtualservices", "gloo-system", "aa-second"),
            &app("aa-second", "1970-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["object"]["status"]["state"], "Rejected", "{body}");
    let first = gw
        .settled(&path("virtualservices", "gloo-system", "zz-first"))
        .await;
    assert_eq!(first["status"]["state"], "Accepted", "{first}");
}
