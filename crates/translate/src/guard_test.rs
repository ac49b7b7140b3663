use lockgate_compiled::{Matcher, PathMatch, Pattern};

use super::*;

fn prefix(value: &str, case_sensitive: bool) -> PathMatch {
    PathMatch::Prefix {
        value: value.into(),
        case_sensitive,
    }
}

fn regex(source: &str, case_sensitive: bool) -> PathMatch {
    PathMatch::Regex(Pattern::new(source, case_sensitive).unwrap())
}

fn matcher(path: PathMatch) -> Matcher {
    Matcher {
        path,
        headers: vec![],
        query: vec![],
        methods: vec![],
        within: vec![],
    }
}

#[test]
fn regexes_are_proven_by_their_literal_prefixes_not_their_text() {
    let echo = prefix("/echo", true);
    assert!(implies(&regex("/echo/[a-z]+", true), &echo));
    assert!(implies(&regex("/echo(/v1|/v2)?", true), &echo));
    assert!(implies(&regex("/echo/a|/echo/b.*", true), &echo));
    assert!(!implies(&regex("/echo|/foxtrot.*|/.*", true), &echo));
    assert!(!implies(&regex(".*", true), &echo));
    assert!(!implies(&regex("/ech(o|)", true), &echo));
    // Case-insensitive regexes spell out variants a case-sensitive parent does not admit.
    assert!(!implies(&regex("/echo/x", false), &echo));
    assert!(implies(&regex("/ECHO/x", false), &prefix("/echo", false)));
    assert!(implies(&regex(".*", true), &prefix("/", true)));
}

#[test]
fn literal_paths_are_proven_by_text_and_case() {
    let echo = prefix("/echo", true);
    assert!(implies(&prefix("/echo/v1", true), &echo));
    assert!(!implies(&prefix("/echo/v1", false), &echo));
    assert!(!implies(&prefix("/ech", true), &echo));
    assert!(implies(&prefix("/ECHO/v1", false), &prefix("/echo", false)));
    let exact = PathMatch::Exact {
        value: "/a".into(),
        case_sensitive: true,
    };
    assert!(implies(&exact, &exact));
    assert!(!implies(&prefix("/a", true), &exact));
    assert!(!implies(&regex("/a", true), &regex("/a|/b", true)));
}

#[test]
fn narrowing_adds_the_parents_conditions() {
    let mut parent = matcher(prefix("/echo", true));
    parent.methods = vec!["GET".into(), "POST".into()];
    parent.headers = vec![lockgate_compiled::HeaderMatch {
        name: "team".into(),
        value: lockgate_compiled::ValueMatch::Present,
        invert: false,
    }];
    let mut child = matcher(regex("/echo|/.*", true));
    child.methods = vec!["POST".into(), "DELETE".into()];
    assert_eq!(
        narrow(&mut child, &parent),
        Ok(Narrowed::Guarded(vec![prefix("/echo", true)]))
    );
    assert_eq!(child.methods, ["POST"]);
    assert_eq!(child.headers, parent.headers);
    assert_eq!(child.within, [prefix("/echo", true)]);
    // Narrowing twice adds nothing more.
    assert_eq!(narrow(&mut child, &parent), Ok(Narrowed::Inside));
    assert_eq!(child.within.len(), 1);
    let mut deletes = matcher(prefix("/echo/x", true));
    deletes.methods = vec!["DELETE".into()];
    assert!(narrow(&mut deletes, &parent).is_err());
}
