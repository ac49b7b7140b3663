use super::*;

#[test]
fn a_directory_is_read_by_the_gateways_rules_recursive_sorted_and_nothing_hidden() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.yaml", "a.yml", "c.json", "notes.txt", ".hidden.yaml"] {
        std::fs::write(dir.path().join(name), format!("# {name}\n")).unwrap();
    }
    std::fs::create_dir(dir.path().join("nested.yaml")).unwrap();
    std::fs::write(dir.path().join("nested.yaml/inner.yaml"), "# inner\n").unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/x.yaml"), "# hidden\n").unwrap();
    let sources = read_sources(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = sources
        .iter()
        .map(|s| {
            Path::new(&s.name)
                .strip_prefix(dir.path())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["a.yml", "b.yaml", "c.json", "nested.yaml/inner.yaml"]
    );
}

#[test]
fn validate_reads_directories_files_and_names_them_as_the_gateway_does() {
    let dir = tempfile::tempdir().unwrap();
    let team = dir.path().join("team");
    std::fs::create_dir(&team).unwrap();
    std::fs::write(team.join("broken.yaml"), "kind: [unclosed\n").unwrap();
    let single = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(single.path(), "kind: [unclosed\n").unwrap();

    let scan = scan_paths(&[dir.path().to_path_buf(), single.path().to_path_buf()]).unwrap();
    let files: Vec<&Path> = scan.problems.iter().map(|p| p.file.as_path()).collect();
    assert_eq!(files, [Path::new("team/broken.yaml"), single.path()]);
}

#[test]
fn a_missing_file_is_named_in_the_error() {
    let error = read_sources(&[PathBuf::from("/nonexistent/rt.yaml")]).unwrap_err();
    assert!(
        format!("{error:#}").contains("/nonexistent/rt.yaml"),
        "{error:#}"
    );
    let error = scan_paths(&[PathBuf::from("/nonexistent/rt.yaml")]).unwrap_err();
    assert!(
        format!("{error:#}").contains("/nonexistent/rt.yaml"),
        "{error:#}"
    );
}

#[test]
fn a_document_that_fails_keeps_its_number_and_the_others_decode() {
    let text = "\
---
---
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata:
  name: echo-routes
  namespace: echo
  labels:
    team: echo
spec:
  routes:
    - matchers:
        - prefx: /echo
---
apiVersion: v1
kind: Namespace
metadata:
  name: echo
---
apiVersion: gloo.solo.io/v1
kind: Endpoint
metadata:
  name: echo-v1
  namespace: echo
spec:
  address: 127.0.0.1
  port: 8081
";
    let items = decode(text);
    assert_eq!(items.len(), 3, "{items:?}");
    let Item::Invalid(invalid) = &items[0] else {
        panic!("{:?}", items[0]);
    };
    assert_eq!(invalid.error.document, 2);
    assert!(
        invalid
            .describe("rt.yaml")
            .starts_with("rt.yaml: document 2: RouteTable echo.echo-routes: spec.routes[0]"),
        "{}",
        invalid.describe("rt.yaml")
    );
    assert!(matches!(&items[1], Item::Skipped(s) if s.kind == "Namespace"));
    assert!(matches!(&items[2], Item::Resource(r) if r.key().name == "echo-v1"));
}
