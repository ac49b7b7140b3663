use super::*;

fn prefix(p: &str) -> api::Matcher {
    api::Matcher {
        prefix: Some(p.into()),
        ..Default::default()
    }
}

fn header(name: &str, value: &str) -> api::HeaderMatcher {
    api::HeaderMatcher {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

#[test]
fn compiles_all_kinds() {
    let m = api::Matcher {
        regex: Some("/a/[0-9]+".into()),
        case_sensitive: Some(false),
        headers: vec![header("Stage", "canary")],
        query_parameters: vec![api::QueryParameterMatcher {
            name: "v".into(),
            value: Some("2".into()),
            regex: false,
        }],
        methods: vec!["get".into(), "GET".into()],
        ..Default::default()
    };
    let c = compile(&m, "spec.routes[0].matchers[0]").unwrap();
    assert_eq!(c.headers[0].name, "stage");
    assert_eq!(c.methods, ["GET"]);
    let compiled::PathMatch::Regex(p) = c.path else {
        panic!()
    };
    assert!(p.is_match("/A/1"));
    let none = compile(&api::Matcher::default(), "m").unwrap();
    assert_eq!(
        none.path,
        compiled::PathMatch::Prefix {
            value: "/".into(),
            case_sensitive: true
        }
    );
}

#[test]
fn errors_name_the_field() {
    let two = api::Matcher {
        prefix: Some("/a".into()),
        exact: Some("/a".into()),
        ..Default::default()
    };
    assert_eq!(
        compile(&two, "spec.routes[2].matchers[0]")
            .unwrap_err()
            .to_string(),
        "spec.routes[2].matchers[0]: set only one of prefix, exact and regex"
    );
    assert_eq!(
        compile(&prefix("echo"), "m").unwrap_err().to_string(),
        "m.prefix: \"echo\" must start with '/'"
    );
    let bad_regex = api::Matcher {
        regex: Some("/(".into()),
        ..Default::default()
    };
    assert!(
        compile(&bad_regex, "m")
            .unwrap_err()
            .to_string()
            .starts_with("m.regex: invalid regular expression")
    );
    let bad_header = api::Matcher {
        headers: vec![header("bad name", "x")],
        ..Default::default()
    };
    assert_eq!(
        compile(&bad_header, "m").unwrap_err().to_string(),
        "m.headers[0].name: \"bad name\" is not a valid header name"
    );
    let bad_method = api::Matcher {
        methods: vec!["G T".into()],
        ..Default::default()
    };
    assert!(
        compile(&bad_method, "m")
            .unwrap_err()
            .to_string()
            .starts_with("m.methods[0]")
    );
}

#[test]
fn children_must_stay_inside_the_parent() {
    let parent = api::Matcher {
        headers: vec![header("team", "a")],
        methods: vec!["GET".into(), "POST".into()],
        ..prefix("/echo")
    };
    let good = api::Matcher {
        headers: vec![header("team", "a")],
        methods: vec!["GET".into()],
        ..prefix("/echo/v2")
    };
    assert_eq!(misfit(&parent, &good), None);
    let outside = api::Matcher {
        prefix: Some("/foxtrot".into()),
        ..good.clone()
    };
    assert!(
        misfit(&parent, &outside)
            .unwrap()
            .contains("does not start with the parent route's prefix \"/echo\"")
    );
    let no_header = api::Matcher {
        headers: vec![],
        ..good.clone()
    };
    assert!(
        misfit(&parent, &no_header)
            .unwrap()
            .contains("header matcher \"team\"")
    );
    let wider_methods = api::Matcher {
        methods: vec!["DELETE".into()],
        ..good.clone()
    };
    assert!(misfit(&parent, &wider_methods).unwrap().contains("methods"));
    let regex_inside = api::Matcher {
        prefix: None,
        regex: Some("/echo/[a-z]+".into()),
        ..good.clone()
    };
    assert_eq!(misfit(&parent, &regex_inside), None);
    let insensitive = api::Matcher {
        case_sensitive: Some(false),
        ..good
    };
    assert!(
        misfit(&parent, &insensitive).is_some(),
        "case-insensitive child widens a case-sensitive parent"
    );
}

#[test]
fn inheritance_fills_in_the_parents_conditions() {
    let parent = api::Matcher {
        headers: vec![header("team", "a")],
        methods: vec!["GET".into()],
        ..prefix("/echo")
    };
    let child = prefix("/echo/x");
    let merged = inherit(&parent, &child, false, true, false);
    assert_eq!(merged.headers, parent.headers);
    assert_eq!(merged.methods, ["GET"]);
    assert_eq!(misfit(&parent, &merged), None);
    let path = inherit(&parent, &prefix("/elsewhere"), false, false, true);
    assert_eq!(path.prefix.as_deref(), Some("/echo"));
    let empty = inherit(&parent, &api::Matcher::default(), true, false, false);
    assert_eq!(empty.prefix.as_deref(), Some("/echo"));
}
