use lockgate_api::Kind;

use super::*;

fn route_table(name: &str, prefix: &str) -> String {
    format!(
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata:\n  name: {name}\n  namespace: echo\n  labels:\n    team: echo\nspec:\n  routes:\n    - matchers:\n        - prefix: {prefix}\n      routeAction:\n        single:\n          upstream:\n            name: echo\n            namespace: echo\n"
    )
}

fn key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::RouteTable, "echo", name)
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// The prefix each route table of the scan is defined with (`None`: undecodable).
fn prefixes(scan: &Scan) -> Vec<(String, Option<String>)> {
    scan.entries
        .iter()
        .map(|(key, entry)| {
            let prefix = match entry {
                Entry::Resource(r) => r.spec_json()["routes"][0]["matchers"][0]["prefix"]
                    .as_str()
                    .map(String::from),
                Entry::Undecodable(_) => None,
            };
            (key.name.clone(), prefix)
        })
        .collect()
}

fn problems(scan: &Scan) -> Vec<String> {
    scan.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_typo_makes_its_resource_undecodable_with_the_field_path_then_the_file() {
    let text = route_table("typo", "/t").replace("prefix:", "prefx:");
    let decoded = decode_file(Path::new("echo/rt.yaml"), text.as_bytes());
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    let [(found, Entry::Undecodable(undecodable))] = decoded.entries.as_slice() else {
        panic!("{:?}", decoded.entries);
    };
    assert_eq!(found, &key("typo"));
    assert_eq!(undecodable.labels["team"], "echo", "selectors still see it");
    let [reason] = undecodable.errors.as_slice() else {
        panic!("{:?}", undecodable.errors);
    };
    assert!(
        reason.starts_with("spec.routes[0].matchers[0].prefx: unknown field `prefx`"),
        "{reason}"
    );
    assert!(reason.ends_with(" (in echo/rt.yaml)"), "{reason}");
}

#[test]
fn what_decoded_before_a_syntax_error_counts_and_the_error_is_the_files() {
    let text = format!("{}---\nkind: [unclosed\n", route_table("a", "/a"));
    let decoded = decode_file(Path::new("a.yaml"), text.as_bytes());
    assert_eq!(decoded.entries.len(), 1);
    let problem = decoded.problem().expect("the file has a problem");
    assert!(
        problem.starts_with("document 2: not valid YAML"),
        "{problem}"
    );
}

#[test]
fn a_document_naming_no_resource_and_text_that_is_not_utf8_are_the_files_problems() {
    let text = format!(
        "kind: RouteTable\nmetadata: {{name: x}}\n---\n{}---\napiVersion: v1\n",
        route_table("a", "/a")
    );
    let decoded = decode_file(Path::new("a.yaml"), text.as_bytes());
    assert_eq!(decoded.entries.len(), 1);
    assert_eq!(decoded.errors.len(), 2, "{:?}", decoded.errors);
    let problem = decoded.problem().unwrap();
    assert!(
        problem.starts_with("document 1: apiVersion: missing")
            && problem.contains("; document 3: "),
        "{problem}"
    );

    let decoded = decode_file(Path::new("b.yaml"), b"kind: \xff\n");
    assert!(decoded.entries.is_empty());
    assert!(decoded.problem().unwrap().starts_with("not UTF-8 text"));
}

#[test]
fn other_groups_are_skipped_and_a_files_creation_time_is_not_believed() {
    let text = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: echo-v1, namespace: echo}}\n---\n{}",
        route_table("a", "/a").replace(
            "  namespace: echo\n  labels",
            "  namespace: echo\n  creationTimestamp: \"2001-01-01T00:00:00Z\"\n  labels"
        )
    );
    assert!(text.contains("creationTimestamp"));
    let decoded = decode_file(Path::new("a.yaml"), text.as_bytes());
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    assert_eq!(decoded.skipped.len(), 1);
    assert_eq!(decoded.skipped[0].kind, "Deployment");
    let [(_, Entry::Resource(resource))] = decoded.entries.as_slice() else {
        panic!("{:?}", decoded.entries);
    };
    assert_eq!(resource.metadata().creation_timestamp, None);
}

#[test]
fn the_first_definition_in_path_order_wins_across_and_within_files() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "b.yaml", &route_table("shared", "/from-b"));
    write(root.path(), "a/z.yaml", &route_table("shared", "/from-a"));
    let twice = format!(
        "{}---\n{}",
        route_table("one", "/1"),
        route_table("one", "/2")
    );
    write(root.path(), "c.yaml", &twice);

    let scan = scan_dir(root.path());
    assert_eq!(
        prefixes(&scan),
        [
            ("shared".to_string(), Some("/from-a".to_string())),
            ("one".to_string(), Some("/1".to_string())),
        ]
    );
    assert_eq!(
        problems(&scan),
        [
            "b.yaml: RouteTable echo.shared is also defined in a/z.yaml; this definition is ignored",
            "c.yaml: RouteTable echo.one is also defined in c.yaml; this definition is ignored",
        ]
    );
    assert_eq!(scan.problems[0].resource, Some(key("shared")));
}

/// An undecodable definition is a definition: a later valid one does not replace it, so a typo
/// cannot be hidden by a copy elsewhere.
#[test]
fn a_broken_first_definition_still_counts_as_the_first() {
    let mut scan = Scan::default();
    let typo = route_table("a", "/a").replace("prefix:", "prefx:");
    scan.add_file(Path::new("1.yaml"), typo.as_bytes());
    scan.add_file(Path::new("2.yaml"), route_table("a", "/a").as_bytes());
    assert_eq!(prefixes(&scan), [("a".to_string(), None)]);
    assert_eq!(scan.problems.len(), 1);
    assert_eq!(scan.problems[0].file, Path::new("2.yaml"));
    let snapshot = scan.snapshot();
    assert!(snapshot.undecodable.contains_key(&key("a")));
    assert!(snapshot.route_tables.is_empty());
}

#[test]
fn a_directory_scan_names_files_relative_to_it_and_keeps_going_past_bad_ones() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "team/rt.yaml", &route_table("a", "/a"));
    write(root.path(), "team/broken.yaml", "kind: [unclosed\n");
    write(
        root.path(),
        "team/typo.yaml",
        &route_table("t", "/t").replace("prefix:", "prefx:"),
    );
    write(root.path(), ".hidden.yaml", &route_table("hidden", "/h"));

    let scan = scan_dir(root.path());
    assert_eq!(
        prefixes(&scan),
        [
            ("a".to_string(), Some("/a".to_string())),
            ("t".to_string(), None)
        ]
    );
    assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
    assert_eq!(scan.problems[0].file, Path::new("team/broken.yaml"));
    let Entry::Undecodable(typo) = &scan.entries[1].1 else {
        unreachable!()
    };
    assert!(typo.errors[0].ends_with("(in team/typo.yaml)"), "{typo:?}");

    let snapshot = scan.snapshot();
    assert_eq!(snapshot.route_tables.len(), 1);
    assert_eq!(snapshot.undecodable.len(), 1);
}
