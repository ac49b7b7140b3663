use super::*;

#[test]
fn file_names_map_back_to_blob_names() {
    for name in [
        "policy-state",
        "lkg/manifest",
        "lkg/routes/00ff",
        "a_b.c",
        "é",
    ] {
        let file = file_name(name);
        assert!(
            file.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{file}"
        );
        assert_eq!(blob_name(&file).as_deref(), Some(name), "{file}");
    }
    // The one blob older versions wrote keeps its file name, so an upgrade finds it.
    assert_eq!(file_name("policy-state"), "policy-state.blob");
    assert_eq!(blob_name("lkg_2fmanifest.blob.tmp"), None);
    assert_eq!(blob_name("x_zz.blob"), None);
    assert_eq!(blob_name("x_2.blob"), None);
}

#[test]
fn a_batch_puts_then_deletes_and_a_listing_finds_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    for blobs in [BlobDir::new(Some(dir.path().into())), BlobDir::new(None)] {
        let put = |names: &[&str]| BlobBatch {
            puts: names
                .iter()
                .map(|n| (n.to_string(), n.as_bytes().to_vec()))
                .collect(),
            deletes: Vec::new(),
        };
        blobs
            .write(&put(&["lkg/a", "lkg/b", "lkh", "other"]))
            .unwrap();
        assert_eq!(blobs.list("lkg/").unwrap(), ["lkg/a", "lkg/b"]);
        let batch = BlobBatch {
            deletes: vec!["lkg/a".into(), "lkg/missing".into()],
            ..put(&["lkg/c"])
        };
        blobs.write(&batch).unwrap();
        assert_eq!(blobs.list("lkg/").unwrap(), ["lkg/b", "lkg/c"]);
        assert_eq!(blobs.get("lkg/c").unwrap().as_deref(), Some(&b"lkg/c"[..]));
        assert_eq!(blobs.get("lkg/a").unwrap(), None);
    }
}
