use super::*;

#[test]
fn columns_align_on_the_widest_cell_without_trailing_spaces() {
    let rows = vec![
        vec![
            "echo".to_string(),
            "echo-routes".to_string(),
            "Rejected".to_string(),
            String::new(),
        ],
        vec![
            "foxtrot".to_string(),
            "foxtrot-routes".to_string(),
            "Accepted".to_string(),
            "2".to_string(),
        ],
    ];
    assert_eq!(
        table(&["NAMESPACE", "NAME", "STATE", "ROUTES"], &rows),
        "NAMESPACE   NAME             STATE      ROUTES\n\
         echo        echo-routes      Rejected\n\
         foxtrot     foxtrot-routes   Accepted   2\n"
    );
}

#[test]
fn a_report_lists_its_reasons_indented_under_it() {
    let report = ResourceReport {
        kind: "RouteTable".into(),
        namespace: "echo".into(),
        name: "echo-routes".into(),
        state: "Rejected".into(),
        reasons: vec!["first".into(), "warning: second".into()],
    };
    assert_eq!(
        report.indented("  "),
        "  RouteTable echo.echo-routes: Rejected\n    first\n    warning: second"
    );
    assert!(report.is_rejected());
}

#[test]
fn yaml_keeps_the_servers_key_order() {
    let value: serde_json::Value =
        serde_json::from_str(r#"{"apiVersion":"v1","kind":"List","items":[]}"#).unwrap();
    assert_eq!(
        yaml(&value).unwrap(),
        "apiVersion: v1\nkind: List\nitems: []\n"
    );
}
