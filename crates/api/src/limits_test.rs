use super::*;
use crate::{DecodeError, Document, decode_documents, decode_documents_with, parse_json};

fn refused(text: &str) -> DecodeError {
    let mut all = decode_documents(text);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0).unwrap_err()
}

const ENDPOINT: &str = "apiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {name: e, namespace: n}\nspec: {address: 127.0.0.1, port: 1}\n";

#[test]
fn deep_flow_nesting_is_refused_before_decoding_in_linear_time() {
    // 200 KB of `[` took the YAML decoder 23 s; the pre-scan stops at the 65th.
    let err = refused(&"[".repeat(200_000));
    assert_eq!(err.document, 1);
    assert!(
        err.message
            .starts_with("nested deeper than the limit of 64 levels (at line 1 column "),
        "{}",
        err.message
    );
    // The same as JSON objects, and as block sequences, in a later document.
    let err = refused(&format!("{}\n", r#"{"a":"#.repeat(100_000)));
    assert!(err.message.starts_with("nested deeper"), "{}", err.message);
    let all = decode_documents(&format!("{ENDPOINT}---\n{}x\n", "- ".repeat(100_000)));
    assert_eq!(all.len(), 1, "the whole text is refused");
    let err = all[0].as_ref().unwrap_err();
    assert_eq!(err.document, 2);
    assert!(err.message.starts_with("nested deeper"), "{}", err.message);
}

#[test]
fn the_depth_limit_is_exact_and_ignores_brackets_in_strings_and_comments() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert_eq!(limits.scan_yaml(&nested(3)), Ok(()));
    assert!(matches!(
        limits.scan_yaml(&nested(4)),
        Err(ScanProblem::TooDeep { document: 1, .. })
    ));
    // Three levels (document, spec, routes); the brackets in strings and comments are text.
    let text = "spec: # [[[[[[\n  routes: ['[[[[[[', \"{{{{{{\"]\n  regex: a[[[[b\n";
    assert_eq!(limits.scan_yaml(text), Ok(()));
    let deeper = "spec:\n  routes:\n    - [x]\n";
    assert!(matches!(
        limits.scan_yaml(deeper),
        Err(ScanProblem::TooDeep { .. })
    ));
}

#[test]
fn real_resources_are_far_below_the_limits() {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../seed/two-phased-canary");
    for entry in std::fs::read_dir(seed).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let tight = Limits {
                max_depth: 16,
                ..Limits::default()
            };
            assert_eq!(tight.scan_yaml(&text), Ok(()), "{}", path.display());
        }
    }
}

#[test]
fn texts_over_the_size_limit_are_refused_whole() {
    let limits = Limits {
        max_bytes: ENDPOINT.len() - 1,
        ..Limits::default()
    };
    let all = decode_documents_with(ENDPOINT, &limits);
    let err = all[0].as_ref().unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "{} bytes: more than the limit of {} bytes",
            ENDPOINT.len(),
            ENDPOINT.len() - 1
        )
    );
    let ok = Limits {
        max_bytes: ENDPOINT.len(),
        ..Limits::default()
    };
    assert!(matches!(
        decode_documents_with(ENDPOINT, &ok).as_slice(),
        [Ok(Document::Resource(_))]
    ));
}

#[test]
fn a_large_text_the_pre_scan_cannot_read_is_refused_without_the_decoder() {
    let text = format!("{}: [unclosed\n", "a".repeat(UNSCANNED));
    let err = refused(&text);
    assert!(
        err.message.starts_with("not valid YAML: "),
        "{}",
        err.message
    );
}
const UNSCANNED: usize = 20 * 1024;

#[test]
fn routes_per_resource_are_bounded() {
    let table = |n: usize| {
        let routes = vec!["{matchers: [{prefix: /a}], directResponseAction: {status: 200}}"; n];
        format!(
            "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: rt, namespace: team}}\nspec: {{routes: [{}]}}\n",
            routes.join(", ")
        )
    };
    let limits = Limits {
        max_routes: 3,
        ..Limits::default()
    };
    assert!(decode_documents_with(&table(3), &limits)[0].is_ok());
    let all = decode_documents_with(&table(4), &limits);
    let err = all[0].as_ref().unwrap_err();
    assert_eq!(
        err.to_string(),
        "RouteTable team.rt: spec.routes: 4 routes: more than the limit of 3 routes per resource (split them into route tables with delegateAction)"
    );
    let vs = "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: team}\nspec: {virtualHost: {domains: [a], routes: [{matchers: [{prefix: /}], directResponseAction: {status: 200}}, {matchers: [{prefix: /b}], directResponseAction: {status: 200}}]}}\n";
    let one = Limits {
        max_routes: 1,
        ..Limits::default()
    };
    let all = decode_documents_with(vs, &one);
    assert_eq!(all[0].as_ref().unwrap_err().path, "spec.virtualHost.routes");
    // The default leaves room for ten times the benchmarks' 1,000-route tables.
    assert!(decode_documents(&table(10_000))[0].is_ok());
}

#[test]
fn json_bodies_refuse_duplicate_keys_with_resource_and_path() {
    let body = br#"{"apiVersion":"gloo.solo.io/v1","kind":"Endpoint","metadata":{"name":"e","namespace":"n"},"spec":{"address":"127.0.0.1","port":1,"port":2}}"#;
    let err = parse_json(body, &Limits::default()).unwrap_err();
    assert_eq!(err.resource.unwrap().to_string(), "Endpoint n.e");
    assert_eq!(err.path, "spec.port");
    assert!(
        err.message.starts_with("duplicate key `port`"),
        "{}",
        err.message
    );
    let nested = br#"{"spec":{"routes":[{"matchers":[{"prefix":"/a","prefix":"/b"}]}]}}"#;
    let err = parse_json(nested, &Limits::default()).unwrap_err();
    assert_eq!(err.resource, None);
    assert_eq!(err.path, "spec.routes[0].matchers[0].prefix");
}

#[test]
fn json_bodies_are_bounded_in_depth_and_syntax_errors_say_so() {
    let deep = format!("{}1{}", "[".repeat(65), "]".repeat(65));
    let err = parse_json(deep.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.message, "nested deeper than the limit of 64 levels");
    let fine = format!("{}1{}", "[".repeat(64), "]".repeat(64));
    assert!(parse_json(fine.as_bytes(), &Limits::default()).is_ok());
    // serde_json's own recursion limit stops deeper bodies early, in linear time.
    let huge = "[".repeat(200_000);
    let err = parse_json(huge.as_bytes(), &Limits::default()).unwrap_err();
    assert!(
        err.message.starts_with("not valid JSON: "),
        "{}",
        err.message
    );
    let err = parse_json(b"{} x", &Limits::default()).unwrap_err();
    assert!(
        err.message.starts_with("not valid JSON: trailing"),
        "{}",
        err.message
    );
}
