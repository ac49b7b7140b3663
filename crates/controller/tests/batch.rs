//! Batches of puts (`Writes::put_batch`) against a real embedded store: validated together and
//! stored in one transaction, refused per namespace, answered per item in order.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use lockgate_api::{Document, Kind, Resource, ResourceKey, decode_documents};
use lockgate_compiled::CompiledConfig;
use lockgate_controller::{
    BatchItem, Controller, ControllerHandle, ControllerOptions, WriteError, WriteOptions,
    WriteResult,
};
use lockgate_store::{EmbeddedStore, Store};

fn resource(yaml: &str) -> Resource {
    match decode_documents(yaml).pop() {
        Some(Ok(Document::Resource(resource))) => resource,
        other => panic!("test resource does not decode: {other:?}"),
    }
}

/// A route table of team `namespace` answering `body` on `/{namespace}`; with `upstream`, it
/// routes there instead (an error when the upstream does not exist).
fn table(namespace: &str, body: &str, upstream: Option<&str>) -> Resource {
    let action = match upstream {
        Some(u) => {
            format!("routeAction: {{single: {{upstream: {{name: {u}, namespace: {namespace}}}}}}}")
        }
        None => format!("directResponseAction: {{status: 200, body: {body}}}"),
    };
    resource(&format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: routes, namespace: {namespace}, labels: {{gateway: app}}}}\nspec:\n  routes:\n    - matchers: [{{prefix: /{namespace}}}]\n      {action}\n"
    ))
}

fn virtual_service() -> Resource {
    resource(
        "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: app, namespace: gloo-system}\nspec:\n  virtualHost:\n    domains: ['*']\n    routes:\n      - matchers: [{prefix: /}]\n        delegateAction: {selector: {namespaces: ['*'], labels: {gateway: app}}}\n",
    )
}

fn strict_settings() -> Resource {
    resource(
        "apiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {name: default, namespace: gloo-system}\nspec:\n  gateway:\n    validation: {alwaysAccept: false}\n",
    )
}

fn items(resources: impl IntoIterator<Item = Resource>) -> Vec<BatchItem> {
    resources
        .into_iter()
        .map(|resource| BatchItem {
            resource,
            expected_resource_version: None,
        })
        .collect()
}

fn rt(namespace: &str) -> ResourceKey {
    ResourceKey::new(Kind::RouteTable, namespace, "routes")
}

struct Gateway {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    controller: Controller,
}

async fn gateway(seed: Vec<Resource>) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).unwrap());
    for resource in seed {
        store.put(resource, None).await.unwrap();
    }
    let config = Arc::new(ArcSwap::from_pointee(CompiledConfig::default()));
    let controller = Controller::start(Arc::clone(&store), config, ControllerOptions::default())
        .await
        .unwrap();
    // Writes are validated with the history of the first translation: wait for it.
    let mut publications = controller.handle().publications();
    publications.wait_for(|p| p.generation >= 1).await.unwrap();
    Gateway {
        _dir: dir,
        store,
        controller,
    }
}

fn allow_all(_: &Resource, _: Option<&Resource>) -> Result<(), WriteError> {
    Ok(())
}

async fn published_routes(handle: &ControllerHandle, routes: usize) {
    let mut publications = handle.publications();
    let reached = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if handle.config().route_count() == routes {
                return;
            }
            publications.changed().await.unwrap();
        }
    })
    .await;
    assert!(reached.is_ok(), "never published {routes} routes");
}

#[tokio::test]
async fn a_batch_is_validated_once_stored_at_once_and_published_from_its_validation() {
    let gw = gateway(Vec::new()).await;
    let handle = gw.controller.handle();
    let start = gw.store.content_revision().await.unwrap();
    let teams: Vec<Resource> = (0..20)
        .map(|t| table(&format!("team{t}"), "hi", None))
        .collect();
    let answers = handle
        .writes()
        .put_batch(
            items([virtual_service()].into_iter().chain(teams)),
            &WriteOptions::default(),
            allow_all,
        )
        .await
        .unwrap();
    assert_eq!(answers.len(), 21);
    for answer in &answers {
        let written = answer.as_ref().unwrap();
        assert_eq!(written.result, WriteResult::Created);
        assert_eq!(written.attempts, 1);
    }
    // 21 writes in one transaction: 21 consecutive revisions, nothing in between.
    let versions: Vec<u64> = answers
        .iter()
        .map(|a| {
            let written = a.as_ref().unwrap();
            written
                .resource
                .metadata()
                .resource_version
                .as_ref()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(versions[0] > start.0);
    assert!(
        versions.windows(2).all(|w| w[1] == w[0] + 1),
        "{versions:?}"
    );
    assert_eq!(gw.store.content_revision().await.unwrap().0, versions[20]);
    published_routes(&handle, 20).await;
    assert!(handle.metrics().prepared_publishes.get() >= 1);
    gw.controller.stop().await;
}

#[tokio::test]
async fn a_namespace_the_batch_breaks_is_refused_on_its_own_and_the_rest_is_stored() {
    let gw = gateway(vec![strict_settings(), virtual_service()]).await;
    let handle = gw.controller.handle();
    let batch = items([
        table("good1", "a", None),
        table("bad", "b", Some("missing")),
        table("good2", "c", None),
    ]);
    let answers = handle
        .writes()
        .put_batch(batch, &WriteOptions::default(), allow_all)
        .await
        .unwrap();
    assert_eq!(answers[0].as_ref().unwrap().result, WriteResult::Created);
    assert_eq!(answers[2].as_ref().unwrap().result, WriteResult::Created);
    match &answers[1] {
        Err(WriteError::Refused(refused)) => {
            assert_eq!(refused.added_errors.len(), 1, "{refused}");
            assert_eq!(refused.added_errors[0].0, rt("bad"));
            // Typed: the refusal says what kind of problem, not only its words.
            let problem = &refused.added_errors[0].1;
            assert_eq!(
                problem.code,
                lockgate_translate::Code::InvalidDestinationWarning
            );
            assert_eq!(problem.field, "spec.routes[0].routeAction.single");
        }
        other => panic!("the broken table must be refused, got {other:?}"),
    }
    assert!(gw.store.get(&rt("good1")).await.unwrap().is_some());
    assert!(gw.store.get(&rt("good2")).await.unwrap().is_some());
    assert!(gw.store.get(&rt("bad")).await.unwrap().is_none());
    gw.controller.stop().await;
}

#[tokio::test]
async fn items_are_answered_in_order_a_repeated_key_wins_last_and_a_denied_item_alone_fails() {
    let gw = gateway(vec![virtual_service()]).await;
    let handle = gw.controller.handle();
    let batch = items([
        table("team1", "first", None),
        table("secret", "x", None),
        table("team2", "y", None),
        table("team1", "second", None),
    ]);
    let deny_secret = |resource: &Resource, _: Option<&Resource>| {
        if resource.key().namespace == "secret" {
            Err("no writes to namespace secret")
        } else {
            Ok(())
        }
    };
    #[derive(Debug)]
    enum Answer {
        Denied(&'static str),
        Write(WriteError),
    }
    impl From<WriteError> for Answer {
        fn from(err: WriteError) -> Answer {
            Answer::Write(err)
        }
    }
    let answers = handle
        .writes()
        .put_batch(batch, &WriteOptions::default(), |r, e| {
            deny_secret(r, e).map_err(Answer::Denied)
        })
        .await
        .unwrap();
    assert_eq!(answers[0].as_ref().unwrap().result, WriteResult::Created);
    match &answers[1] {
        Err(Answer::Denied(why)) => assert_eq!(*why, "no writes to namespace secret"),
        Err(Answer::Write(err)) => panic!("denied by the check, not by the write: {err}"),
        Ok(_) => panic!("the denied item was written"),
    }
    assert_eq!(answers[2].as_ref().unwrap().result, WriteResult::Created);
    assert_eq!(answers[3].as_ref().unwrap().result, WriteResult::Configured);
    let stored = gw.store.get(&rt("team1")).await.unwrap().unwrap();
    assert!(
        serde_json::to_string(&stored.to_json())
            .unwrap()
            .contains("second"),
        "the later put of a key wins"
    );
    assert!(gw.store.get(&rt("secret")).await.unwrap().is_none());
    gw.controller.stop().await;
}

#[tokio::test]
async fn a_dry_run_batch_answers_and_stores_nothing() {
    let gw = gateway(vec![virtual_service()]).await;
    let handle = gw.controller.handle();
    let revision = gw.store.content_revision().await.unwrap();
    let dry_run = WriteOptions {
        dry_run: true,
        ..WriteOptions::default()
    };
    let answers = handle
        .writes()
        .put_batch(items([table("team1", "a", None)]), &dry_run, allow_all)
        .await
        .unwrap();
    let written = answers[0].as_ref().unwrap();
    assert_eq!(written.result, WriteResult::Created);
    assert_eq!(written.resource.metadata().generation, Some(1));
    assert_eq!(gw.store.content_revision().await.unwrap(), revision);
    assert!(gw.store.get(&rt("team1")).await.unwrap().is_none());
    gw.controller.stop().await;
}

/// An upstream in `namespace`; `addr` must be an IP address to be valid.
fn upstream(namespace: &str, addr: &str) -> Resource {
    resource(&format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: u, namespace: {namespace}}}\nspec:\n  static:\n    hosts: [{{addr: '{addr}', port: 8080}}]\n"
    ))
}

/// A route table in `namespace` routing to the upstream `u` of `target`.
fn routing_to(namespace: &str, target: &str) -> Resource {
    resource(&format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: routes, namespace: {namespace}, labels: {{gateway: app}}}}\nspec:\n  routes:\n    - matchers: [{{prefix: /{namespace}}}]\n      routeAction: {{single: {{upstream: {{name: u, namespace: {target}}}}}}}\n"
    ))
}

#[tokio::test]
async fn refusals_that_chain_from_namespace_to_namespace_end_as_one_put_at_a_time_would() {
    let gw = gateway(vec![strict_settings(), virtual_service()]).await;
    let handle = gw.controller.handle();
    // ns0's upstream is invalid; each next namespace routes to the one before. Validated
    // together, taking out one namespace breaks the next: more rounds than a batch is given.
    let mut resources = vec![upstream("ns0", "not-an-ip")];
    for k in 1..6 {
        let (namespace, before) = (format!("ns{k}"), format!("ns{}", k - 1));
        resources.push(upstream(&namespace, "127.0.0.1"));
        resources.push(routing_to(&namespace, &before));
    }
    let answers = handle
        .writes()
        .put_batch(items(resources), &WriteOptions::default(), allow_all)
        .await
        .unwrap();
    // One at a time, in order: ns0's upstream and ns1's table (whose upstream was refused)
    // are refused, everything else is stored.
    let refused: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Err(WriteError::Refused(_))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(refused, [0, 2], "{answers:?}");
    for (i, answer) in answers
        .iter()
        .enumerate()
        .filter(|(i, _)| ![0, 2].contains(i))
    {
        assert!(answer.is_ok(), "item {i}: {answer:?}");
    }
    assert!(gw.store.get(&rt("ns1")).await.unwrap().is_none());
    assert!(gw.store.get(&rt("ns5")).await.unwrap().is_some());
    gw.controller.stop().await;
}
