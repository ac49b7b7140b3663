use std::collections::BTreeMap;

use super::*;

#[test]
fn a_directory_reads_its_yaml_and_json_files_sorted_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.yaml", "a.yml", "c.json", "notes.txt", ".hidden.yaml"] {
        std::fs::write(dir.path().join(name), format!("# {name}\n")).unwrap();
    }
    std::fs::create_dir(dir.path().join("nested.yaml")).unwrap();
    let sources = read_sources(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = sources
        .iter()
        .map(|s| {
            Path::new(&s.name)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["a.yml", "b.yaml", "c.json"]);
}

#[test]
fn a_missing_file_is_named_in_the_error() {
    let error = read_sources(&[PathBuf::from("/nonexistent/rt.yaml")]).unwrap_err();
    assert!(
        format!("{error:#}").contains("/nonexistent/rt.yaml"),
        "{error:#}"
    );
}

#[test]
fn a_document_that_fails_keeps_its_labels_and_number_and_the_others_decode() {
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
    assert_eq!(
        invalid.labels,
        BTreeMap::from([("team".to_string(), "echo".to_string())])
    );
    assert!(
        invalid.reason().starts_with("spec.routes[0].matchers[0]"),
        "{}",
        invalid.reason()
    );
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
