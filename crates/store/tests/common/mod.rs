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

/// What every back end's blobs promise (`Store::write_blobs` and friends), checked on `store`.
pub async fn blob_batches_put_delete_list_and_read(store: &dyn lockgate_store::Store) {
    use lockgate_store::BlobBatch;
    let bytes = |name: &str| format!("bytes of {name}").into_bytes();
    let put = |names: &[&str]| BlobBatch {
        puts: names.iter().map(|n| (n.to_string(), bytes(n))).collect(),
        deletes: Vec::new(),
    };
    store
        .write_blobs(put(&[
            "lkg/manifest",
            "lkg/routes/aa",
            "lkg/routes/bb",
            "lkh/x",
        ]))
        .await
        .unwrap();
    assert_eq!(
        store.list_blobs("lkg/").await.unwrap(),
        ["lkg/manifest", "lkg/routes/aa", "lkg/routes/bb"]
    );
    assert_eq!(
        store.list_blobs("lkg/routes/").await.unwrap(),
        ["lkg/routes/aa", "lkg/routes/bb"]
    );
    // A put and deletes in one batch; deleting what does not exist is not an error.
    let batch = BlobBatch {
        deletes: vec!["lkg/routes/aa".into(), "lkg/routes/never".into()],
        ..put(&["lkg/routes/cc"])
    };
    assert_eq!((batch.ops(), batch.bytes() > 0), (3, true));
    store.write_blobs(batch).await.unwrap();
    let names = ["lkg/routes/aa".to_string(), "lkg/routes/cc".to_string()];
    assert_eq!(
        store.get_blobs(&names).await.unwrap(),
        [None, Some(bytes("lkg/routes/cc"))]
    );
    assert_eq!(
        store.list_blobs("lkg/routes/").await.unwrap(),
        ["lkg/routes/bb", "lkg/routes/cc"]
    );
    store.write_blobs(BlobBatch::default()).await.unwrap();
    assert!(store.list_blobs("nothing/").await.unwrap().is_empty());
    let limits = store.blob_limits();
    assert!(
        limits.max_ops >= 2 && limits.max_bytes >= 1024 * 1024,
        "{limits:?}"
    );
}
