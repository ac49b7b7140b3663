use std::time::SystemTime;

use lockgate_api::Kind;

use super::*;

fn route_table(name: &str, prefix: &str) -> String {
    format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata:\n  name: {name}\n  namespace: echo\nspec:\n  routes:\n    - matchers:\n        - prefix: {prefix}\n      routeAction:\n        single:\n          upstream:\n            name: echo\n            namespace: echo\n"
    )
}

fn key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::RouteTable, "echo", name)
}

/// The prefix of the route table `name` in a scan that found a change.
fn prefix(result: &ScanResult, name: &str) -> Option<String> {
    let entries = result.entries.as_ref().expect("the scan found a change");
    match entries.get(&key(name)).map(|e| &**e) {
        Some(Entry::Resource(resource)) => {
            resource.spec_json()["routes"][0]["matchers"][0]["prefix"]
                .as_str()
                .map(String::from)
        }
        _ => None,
    }
}

#[test]
fn an_unchanged_file_is_not_decoded_again() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("a.yaml"), route_table("a", "/a")).unwrap();
    fs::create_dir(root.path().join("team")).unwrap();
    fs::write(root.path().join("team/b.yaml"), route_table("b", "/b")).unwrap();
    let mut scanner = Scanner::new(root.path().to_path_buf());

    let first = scanner.scan();
    assert_eq!(first.decoded, 2);
    assert_eq!(prefix(&first, "b").as_deref(), Some("/b"));

    let again = scanner.scan();
    assert_eq!(again.decoded, 0);
    assert!(again.entries.is_none() && again.problems.is_empty());

    // One file changes: only it is decoded, and the other's entry is the one handed out before.
    fs::write(root.path().join("a.yaml"), route_table("a", "/a2")).unwrap();
    let edited = scanner.scan();
    assert_eq!(edited.decoded, 1);
    assert_eq!(prefix(&edited, "a").as_deref(), Some("/a2"));
    let entries = |r: &ScanResult| r.entries.as_ref().unwrap()[&key("b")].clone();
    assert!(Arc::ptr_eq(&entries(&first), &entries(&edited)));
}

#[test]
fn an_edit_that_keeps_the_length_and_the_modification_time_is_seen() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("a.yaml");
    fs::write(&file, route_table("a", "/a")).unwrap();
    let before = fs::metadata(&file).unwrap();
    let mut scanner = Scanner::new(root.path().to_path_buf());
    assert_eq!(prefix(&scanner.scan(), "a").as_deref(), Some("/a"));

    fs::write(&file, route_table("a", "/b")).unwrap();
    let mtime = before.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let after = fs::metadata(&file).unwrap();
    assert_eq!(after.len(), before.len());
    assert_eq!(after.modified().ok(), before.modified().ok());

    let edited = scanner.scan();
    assert_eq!(edited.decoded, 1);
    assert_eq!(prefix(&edited, "a").as_deref(), Some("/b"));
}

#[test]
fn a_removed_then_re_added_file_is_seen() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("a.yaml");
    fs::write(&file, route_table("a", "/a")).unwrap();
    fs::write(root.path().join("b.yaml"), route_table("b", "/b")).unwrap();
    let mut scanner = Scanner::new(root.path().to_path_buf());
    assert_eq!(scanner.scan().decoded, 2);

    fs::remove_file(&file).unwrap();
    let removed = scanner.scan();
    assert_eq!(removed.decoded, 0);
    assert_eq!(prefix(&removed, "a"), None);
    assert_eq!(prefix(&removed, "b").as_deref(), Some("/b"));

    fs::write(&file, route_table("a", "/a")).unwrap();
    let back = scanner.scan();
    assert_eq!(back.decoded, 1);
    assert_eq!(prefix(&back, "a").as_deref(), Some("/a"));
}

#[test]
fn problems_are_reported_again_by_a_scan_that_finds_nothing_changed() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("a.yaml"), route_table("a", "/a")).unwrap();
    fs::write(root.path().join("b.yaml"), route_table("a", "/other")).unwrap();
    fs::write(root.path().join("garbage.yaml"), "kind: [unclosed\n").unwrap();
    let mut scanner = Scanner::new(root.path().to_path_buf());
    let first = scanner.scan();
    assert_eq!(first.problems.len(), 2, "{:?}", first.problems);
    assert_eq!(
        prefix(&first, "a").as_deref(),
        Some("/a"),
        "the first definition wins"
    );

    let again = scanner.scan();
    assert!(again.entries.is_none());
    assert_eq!(again.problems, first.problems);
}

/// Files appear and disappear between others, in and around a subdirectory that sorts between
/// two files (`b` before `b.yaml`): each keeps its own previous state, and the first
/// definition in path order still wins.
#[test]
fn files_added_and_removed_between_others_keep_the_rest_as_they_were() {
    let root = tempfile::tempdir().unwrap();
    let write = |path: &str, name: &str, prefix: &str| {
        fs::write(root.path().join(path), route_table(name, prefix)).unwrap();
    };
    fs::create_dir(root.path().join("b")).unwrap();
    write("a.yaml", "a", "/a");
    write("b/m.yaml", "m", "/m");
    write("b.yaml", "m", "/shadowed");
    write("c.yaml", "c", "/c");
    let mut scanner = Scanner::new(root.path().to_path_buf());
    let first = scanner.scan();
    assert_eq!(first.decoded, 4);
    assert_eq!(prefix(&first, "m").as_deref(), Some("/m"));

    fs::remove_file(root.path().join("b/m.yaml")).unwrap();
    write("b/k.yaml", "k", "/k");
    write("bb.yaml", "bb", "/bb");
    let changed = scanner.scan();
    assert_eq!(changed.decoded, 2, "only the new files are decoded");
    assert_eq!(prefix(&changed, "m").as_deref(), Some("/shadowed"));
    for (name, expected) in [("a", "/a"), ("k", "/k"), ("bb", "/bb"), ("c", "/c")] {
        assert_eq!(prefix(&changed, name).as_deref(), Some(expected), "{name}");
    }
    assert!(changed.problems.is_empty(), "{:?}", changed.problems);
    assert_eq!(scanner.scan().decoded, 0);
}
