use crate::{Document, Resource, decode_documents};

fn route_options(options: &str) -> Result<Option<super::RouteOptions>, Box<crate::DecodeError>> {
    let text = format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: r, namespace: echo}}\nspec:\n  routes:\n    - matchers: [{{prefix: /ws}}]\n      directResponseAction: {{status: 200}}\n      options: {options}\n"
    );
    let mut all = decode_documents(&text);
    match all.remove(0).map_err(Box::new)? {
        Document::Resource(Resource::RouteTable(t)) => Ok(t.spec.routes[0].options.clone()),
        other => panic!("not a route table: {other:?}"),
    }
}

#[test]
fn websocket_upgrades_decode_as_gloo_writes_them() {
    let options = route_options("{upgrades: [{websocket: {enabled: false}}]}")
        .unwrap()
        .unwrap();
    assert_eq!(
        options.upgrades,
        vec![super::ProtocolUpgradeConfig {
            websocket: Some(super::ProtocolUpgradeSpec {
                enabled: Some(false)
            })
        }]
    );
}

#[test]
fn unknown_upgrade_protocols_are_refused_with_their_path() {
    let err =
        route_options("{upgrades: [{websocket: {}}, {connect: {enabled: true}}]}").unwrap_err();
    assert_eq!(err.path, "spec.routes[0].options.upgrades[1].connect");
    let err = route_options("{upgrades: [{websocket: {enabled: yes}}]}").unwrap_err();
    assert_eq!(
        err.path,
        "spec.routes[0].options.upgrades[0].websocket.enabled"
    );
}
