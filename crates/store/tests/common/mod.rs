//! Resources for the store tests, written as users write them.
#![allow(dead_code, unreachable_pub)]

use lockgate_api::{Document, Resource, decode_documents};

pub fn resource(yaml: &str) -> Resource {
    match decode_documents(yaml).pop() {
        Some(Ok(Document::Resource(resource))) => resource,
        other => panic!("test resource does not decode: {other:?}"),
    }
}

pub fn upstream_yaml(name: &str, port: u16) -> String {
    format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata:\n  name: {name}\n  namespace: echo\nspec:\n  static:\n    hosts:\n      - addr: 127.0.0.1\n        port: {port}\n"
    )
}

pub fn upstream(name: &str, port: u16) -> Resource {
    resource(&upstream_yaml(name, port))
}

pub fn route_table_yaml(name: &str, prefix: &str) -> String {
    format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata:\n  name: {name}\n  namespace: echo\n  labels:\n    team: echo\nspec:\n  routes:\n    - matchers:\n        - prefix: {prefix}\n      routeAction:\n        single:\n          upstream:\n            name: echo\n            namespace: echo\n"
    )
}
