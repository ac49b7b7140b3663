use super::*;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../seed/two-phased-canary");

fn one(text: &str) -> Result<Document, DecodeError> {
    let mut all = decode_documents(text);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[test]
fn unknown_field_names_resource_and_path() {
    let err = one(r#"
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {name: echo-routes, namespace: echo}
spec:
  routes:
    - matchers: [{prefix: /a}]
      directResponseAction: {status: 200}
    - matchers: [{prefx: /echo}]
      directResponseAction: {status: 200}
"#)
    .unwrap_err();
    assert_eq!(
        err.resource.as_ref().unwrap().to_string(),
        "RouteTable echo.echo-routes"
    );
    assert_eq!(err.path, "spec.routes[1].matchers[0].prefx");
    assert!(
        err.message.starts_with("unknown field `prefx`"),
        "{}",
        err.message
    );
    assert!(err.to_string().starts_with(
        "RouteTable echo.echo-routes: spec.routes[1].matchers[0].prefx: unknown field"
    ));
}

#[test]
fn wrong_type_names_the_field() {
    let err = one(
        "apiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {name: e, namespace: echo}\nspec: {address: 127.0.0.1, port: banana}\n",
    )
    .unwrap_err();
    assert_eq!(err.path, "spec.port");
    assert!(err.message.contains("invalid type"), "{}", err.message);
}

#[test]
fn other_groups_are_skipped_with_a_notice() {
    let docs = decode_documents(&std::fs::read_to_string(format!("{SEED}/echo.yaml")).unwrap());
    let notices: Vec<String> = docs
        .into_iter()
        .map(|d| match d.unwrap() {
            Document::Skipped(s) => s.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        notices,
        [
            "skipped v1 Namespace echo: not a lockgate resource",
            "skipped apps/v1 Deployment echo.echo-v1: not a lockgate resource",
            "skipped v1 Service echo.echo: not a lockgate resource",
        ]
    );
}

#[test]
fn every_seed_resource_decodes() {
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(SEED).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("settings") || name == "workflow.yaml" {
            continue;
        }
        for doc in decode_documents(&std::fs::read_to_string(&path).unwrap()) {
            match doc.unwrap_or_else(|e| panic!("{name}: {e}")) {
                Document::Resource(r) => kinds.push(r.kind()),
                Document::Skipped(_) => {}
            }
        }
    }
    assert_eq!(kinds.iter().filter(|k| **k == Kind::RouteTable).count(), 8);
    assert_eq!(kinds.iter().filter(|k| **k == Kind::Upstream).count(), 2);
    assert_eq!(
        kinds.iter().filter(|k| **k == Kind::VirtualService).count(),
        1
    );
}

#[test]
fn wrong_group_for_a_known_kind() {
    let err =
        one("apiVersion: gateway.solo.io/v1\nkind: Upstream\nmetadata: {name: u, namespace: n}\n")
            .unwrap_err();
    assert_eq!(err.path, "apiVersion");
    assert!(err.message.contains("gloo.solo.io/v1"));
}

#[test]
fn unsupported_solo_kind_is_an_error_not_a_skip() {
    let err =
        one("apiVersion: gateway.solo.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: n}\n")
            .unwrap_err();
    assert!(err.message.contains("not supported"), "{}", err.message);
}

#[test]
fn names_are_checked() {
    let err = one(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: Bad_Name, namespace: n}\n",
    )
    .unwrap_err();
    assert_eq!(err.path, "metadata.name");
    let err =
        one("apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: ok}\n").unwrap_err();
    assert_eq!(err.path, "metadata.namespace");
}

#[test]
fn yaml_syntax_error_is_reported_not_panicked() {
    let docs = decode_documents("apiVersion: [unclosed\n");
    assert!(
        docs[0]
            .as_ref()
            .unwrap_err()
            .message
            .starts_with("not valid YAML")
    );
}

#[test]
fn json_documents_decode_too() {
    let doc = one(r#"{"apiVersion":"gloo.solo.io/v1","kind":"Endpoint","metadata":{"name":"e","namespace":"echo"},"spec":{"address":"127.0.0.1","port":8080}}"#).unwrap();
    assert!(matches!(doc, Document::Resource(Resource::Endpoint(_))));
}

#[test]
fn kubectl_metadata_is_tolerated() {
    let doc = one("apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: u, namespace: n, uid: x, creationTimestamp: '2020-01-01T00:00:00Z'}\nstatus: {state: 1}\n").unwrap();
    assert!(matches!(doc, Document::Resource(Resource::Upstream(_))));
}

#[test]
fn duplicate_keys_are_errors_not_silently_merged() {
    let docs = decode_documents(
        "apiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {name: e, namespace: n}\nspec: {address: 127.0.0.1, port: 1, port: 2}\n",
    );
    let err = docs[0].as_ref().unwrap_err();
    assert!(
        err.message.contains("duplicate key `port`"),
        "{}",
        err.message
    );
    assert_eq!(err.resource.as_ref().unwrap().to_string(), "Endpoint n.e");
    assert_eq!(err.path, "spec.port");
    assert!(
        err.to_string()
            .starts_with("Endpoint n.e: spec.port: duplicate key `port`"),
        "{err}"
    );
}

#[test]
fn a_duplicate_key_does_not_stop_the_next_documents() {
    let docs = decode_documents(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: rt, namespace: n, labels: {team: n}}\nspec:\n  routes:\n  - matchers: [{prefix: /a}]\n    directResponseAction: {status: 200}\n    directResponseAction: {status: 404}\n---\napiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {name: e, namespace: n}\nspec: {address: 127.0.0.1, port: 1}\n",
    );
    assert_eq!(docs.len(), 2, "{docs:?}");
    let err = docs[0].as_ref().unwrap_err();
    assert_eq!(err.path, "spec.routes[0].directResponseAction");
    assert_eq!(err.labels.get("team").map(String::as_str), Some("n"));
    assert!(docs[1].is_ok(), "{:?}", docs[1]);
}

#[test]
fn names_are_dns_subdomains_and_namespaces_dns_labels() {
    let doc = |namespace: &str, name: &str| {
        format!(
            "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: '{name}', namespace: '{namespace}'}}\n"
        )
    };
    let longest = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "a".repeat(61));
    assert_eq!(longest.len(), 253);
    for good in ["a", "a.b", "a-b.c-d", "0", &longest] {
        let decoded = decode_documents(&doc("n", good));
        assert!(
            !matches!(&decoded[0], Err(e) if e.path.starts_with("metadata")),
            "{good}: {decoded:?}"
        );
    }
    for bad in [
        "a..b",
        "a.-b",
        "a-.b",
        ".a",
        "a.",
        "A",
        "a_b",
        "a b",
        &"a".repeat(64),
        &format!("{longest}a"),
    ] {
        let err = one(&doc("n", bad)).unwrap_err();
        assert_eq!(err.path, "metadata.name", "{bad}");
        assert_eq!(err.resource.as_ref().unwrap().kind, Kind::Upstream);
    }
    for bad in ["a.b", "-a", "a-", "N", &"a".repeat(64)] {
        let err = one(&doc(bad, "u")).unwrap_err();
        assert_eq!(err.path, "metadata.namespace", "{bad}");
        assert!(err.message.contains("namespace"), "{}", err.message);
    }
    assert!(one(&doc(&"a".repeat(63), "u")).is_ok());
}
