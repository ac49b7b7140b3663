//! Property: a delegated child route never matches a request its parent does not, whatever
//! matcher the child writes (prefix, exact, regex with alternations, case-insensitive). The
//! configuration comes from the real translator; the answer from [`find_route`], the matcher
//! the proxy's handler runs.

use http::{HeaderMap, HeaderValue, Method};
use lockgate_api::{Document, Snapshot};
use lockgate_proxy::{EscapedSlashes, RouteLookup, RouteRequest, find_route};
use lockgate_translate::{PolicyState, translate};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Parent {
    prefix: String,
    case_sensitive: bool,
    header: Option<String>,
    methods: Vec<&'static str>,
    inherit: bool,
}

#[derive(Debug, Clone)]
enum ChildPath {
    Prefix(String),
    Exact(String),
    Regex(String),
}

#[derive(Debug, Clone)]
struct Child {
    path: ChildPath,
    case_sensitive: bool,
    header: Option<String>,
    methods: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct Request {
    path: String,
    method: &'static str,
    header: Option<String>,
}

const METHODS: [&str; 3] = ["GET", "POST", "DELETE"];

fn segment() -> impl Strategy<Value = String> + Clone {
    "[aAbB]{1,2}"
}

fn path() -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(segment(), 1..4).prop_map(|s| format!("/{}", s.join("/")))
}

fn methods() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(METHODS.to_vec(), 0..=2)
}

fn parent() -> impl Strategy<Value = Parent> {
    (
        prop_oneof![Just("/".to_string()), path()],
        any::<bool>(),
        proptest::option::of(segment()),
        methods(),
        any::<bool>(),
    )
        .prop_map(
            |(prefix, case_sensitive, header, methods, inherit)| Parent {
                prefix,
                case_sensitive,
                header,
                methods,
                inherit,
            },
        )
}

fn regex() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        path(),
        path().prop_map(|p| format!("{p}.*")),
        path().prop_map(|p| format!("{p}(/[ab]+)?")),
        Just("/.*".to_string()),
        Just(".*".to_string()),
        Just("/[aA]+".to_string()),
    ];
    proptest::collection::vec(atom, 1..4).prop_map(|alternatives| alternatives.join("|"))
}

fn child(parent_prefix: String) -> impl Strategy<Value = Child> {
    let inside = path()
        .prop_map(move |p| format!("{}{}", parent_prefix.trim_end_matches('/'), p))
        .boxed();
    let path = prop_oneof![
        inside.clone().prop_map(ChildPath::Prefix),
        path().prop_map(ChildPath::Prefix),
        inside.clone().prop_map(ChildPath::Exact),
        inside.prop_map(ChildPath::Regex),
        regex().prop_map(ChildPath::Regex),
    ];
    (
        path,
        any::<bool>(),
        proptest::option::of(segment()),
        methods(),
    )
        .prop_map(|(path, case_sensitive, header, methods)| Child {
            path,
            case_sensitive,
            header,
            methods,
        })
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![Just("/".to_string()), path()],
        proptest::sample::select(METHODS.to_vec()),
        proptest::option::of(segment()),
    )
        .prop_map(|(path, method, header)| Request {
            path,
            method,
            header,
        })
}

fn matcher_yaml(
    path: &str,
    case_sensitive: bool,
    header: &Option<String>,
    methods: &[&str],
) -> String {
    let mut fields = vec![path.to_string(), format!("caseSensitive: {case_sensitive}")];
    if let Some(h) = header {
        fields.push(format!("headers: [{{name: x-team, value: {h}}}]"));
    }
    if !methods.is_empty() {
        fields.push(format!("methods: [{}]", methods.join(", ")));
    }
    format!("{{{}}}", fields.join(", "))
}

fn configuration(parent: &Parent, children: &[Child]) -> String {
    let parent_matcher = matcher_yaml(
        &format!("prefix: '{}'", parent.prefix),
        parent.case_sensitive,
        &parent.header,
        &parent.methods,
    );
    let mut routes = String::new();
    for c in children {
        let path = match &c.path {
            ChildPath::Prefix(p) => format!("prefix: '{p}'"),
            ChildPath::Exact(p) => format!("exact: '{p}'"),
            ChildPath::Regex(r) => format!("regex: '{r}'"),
        };
        routes.push_str(&format!(
            "    - matchers: [{}]\n      directResponseAction: {{status: 200, body: child}}\n",
            matcher_yaml(&path, c.case_sensitive, &c.header, &c.methods)
        ));
    }
    format!(
        r#"apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: main, namespace: gloo-system}}
spec:
  virtualHost:
    domains: ['*']
    routes:
      - matchers: [{parent_matcher}]
        inheritableMatchers: {inherit}
        delegateAction: {{ref: {{name: t, namespace: gloo-system}}}}
      - matchers: [{{prefix: /}}]
        directResponseAction: {{status: 200, body: fallback}}
---
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {{name: t, namespace: gloo-system}}
spec:
  routes:
{routes}"#,
        inherit = parent.inherit
    )
}

fn snapshot(yaml: &str) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for doc in lockgate_api::decode_documents(yaml) {
        match doc.unwrap_or_else(|e| panic!("{e}\n{yaml}")) {
            Document::Resource(r) => snapshot.insert(r),
            Document::Skipped(s) => panic!("{s}"),
        }
    }
    snapshot
}

/// The parent's conditions, evaluated independently of the proxy's matcher.
fn parent_matches(parent: &Parent, request: &Request) -> bool {
    let (path, prefix) = (request.path.as_bytes(), parent.prefix.as_bytes());
    let path_ok = path.len() >= prefix.len()
        && if parent.case_sensitive {
            &path[..prefix.len()] == prefix
        } else {
            path[..prefix.len()].eq_ignore_ascii_case(prefix)
        };
    let header_ok = parent
        .header
        .as_ref()
        .is_none_or(|h| request.header.as_ref() == Some(h));
    let method_ok = parent.methods.is_empty() || parent.methods.contains(&request.method);
    path_ok && header_ok && method_ok
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_child_never_matches_outside_its_parent(
        (parent, children) in parent().prop_flat_map(|p| {
            let prefix = p.prefix.clone();
            (Just(p), proptest::collection::vec(child(prefix), 1..4))
        }),
        requests in proptest::collection::vec(request(), 1..24),
    ) {
        let yaml = configuration(&parent, &children);
        let outcome = translate(&snapshot(&yaml), &PolicyState::default());
        for request in &requests {
            let mut headers = HeaderMap::new();
            if let Some(h) = &request.header {
                headers.insert("x-team", HeaderValue::from_str(h).unwrap());
            }
            let method = Method::from_bytes(request.method.as_bytes()).unwrap();
            let lookup = find_route(
                &outcome.config,
                &RouteRequest {
                    method: &method,
                    authority: "example.com",
                    path: &request.path,
                    query: None,
                    headers: &headers,
                    escaped_slashes: EscapedSlashes::Reject,
                },
            );
            if let RouteLookup::Matched { route, .. } = lookup
                && route.origin.contains(" > ")
            {
                prop_assert!(
                    parent_matches(&parent, request),
                    "child route {} matched {request:?} outside its parent\n{yaml}",
                    route.origin
                );
            }
        }
    }
}
