use super::*;

use http::HeaderValue;
use lockgate_compiled::{Action, Pattern, RouteOptions};

fn prefix(value: &str, case_sensitive: bool) -> PathMatch {
    PathMatch::Prefix {
        value: value.into(),
        case_sensitive,
    }
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

fn route(origin: &str, matcher: Matcher) -> Route {
    Route {
        origin: origin.into(),
        matcher,
        action: Action::DirectResponse {
            status: 200,
            body: origin.into(),
        },
        options: RouteOptions::default(),
    }
}

/// The first route of `routes` that holds, through the index and plan the proxy builds.
fn first_match(routes: &[Route], view: &RequestView<'_>) -> Option<usize> {
    let plans: Vec<MatcherPlan> = routes
        .iter()
        .map(|r| MatcherPlan::build(&r.matcher))
        .collect();
    find_in(routes, &RouteIndex::build(routes), |i| &plans[i], view)
}

struct Req {
    method: Method,
    path: &'static str,
    query: Option<&'static str>,
    headers: HeaderMap,
}

fn req(path: &'static str) -> Req {
    Req {
        method: Method::GET,
        path,
        query: None,
        headers: HeaderMap::new(),
    }
}

impl Req {
    fn header(mut self, name: &'static str, value: &'static str) -> Req {
        self.headers.append(name, HeaderValue::from_static(value));
        self
    }
    fn query(mut self, query: &'static str) -> Req {
        self.query = Some(query);
        self
    }
    fn method(mut self, method: Method) -> Req {
        self.method = method;
        self
    }
    fn matches(&self, matcher: &Matcher) -> bool {
        matches(
            matcher,
            &MatcherPlan::build(matcher),
            &RequestView {
                method: &self.method,
                path: self.path,
                query: self.query,
                authority: "example.com",
                scheme: "http",
                headers: &self.headers,
            },
        )
    }
}

#[test]
fn prefix_is_a_plain_string_prefix() {
    let m = matcher(prefix("/echo", true));
    assert!(req("/echo").matches(&m));
    assert!(
        req("/echoes").matches(&m),
        "plain string prefix, as in Gloo"
    );
    assert!(req("/echo/x").matches(&m));
    assert!(!req("/Echo").matches(&m));
    assert!(!req("/ech").matches(&m));
}

#[test]
fn prefix_can_ignore_case() {
    let m = matcher(prefix("/Echo", false));
    assert!(req("/ECHO/x").matches(&m));
    assert!(req("/echo").matches(&m));
    assert!(!req("/ech").matches(&m));
    // Multi-byte characters must not trip the byte-wise comparison.
    assert!(!req("/é").matches(&matcher(prefix("/e", false))));
}

#[test]
fn exact_matches_the_whole_path() {
    let m = matcher(PathMatch::Exact {
        value: "/echo".into(),
        case_sensitive: true,
    });
    assert!(req("/echo").matches(&m));
    assert!(!req("/echo/").matches(&m));
    assert!(!req("/ECHO").matches(&m));
    let m = matcher(PathMatch::Exact {
        value: "/echo".into(),
        case_sensitive: false,
    });
    assert!(req("/ECHO").matches(&m));
}

#[test]
fn regex_matches_the_whole_path() {
    let m = matcher(PathMatch::Regex(
        Pattern::new("/items/[0-9]+", true).unwrap(),
    ));
    assert!(req("/items/42").matches(&m));
    assert!(!req("/items/42/x").matches(&m));
    assert!(!req("/x/items/42").matches(&m));
}

#[test]
fn methods_restrict_the_route() {
    let mut m = matcher(prefix("/", true));
    m.methods = vec!["POST".into(), "PUT".into()];
    assert!(req("/").method(Method::POST).matches(&m));
    assert!(!req("/").matches(&m));
}

#[test]
fn headers_match_presence_value_and_regex_and_invert() {
    let header = |value: ValueMatch, invert: bool| {
        let mut m = matcher(prefix("/", true));
        m.headers = vec![HeaderMatch {
            name: "stage".into(),
            value,
            invert,
        }];
        m
    };
    let present = header(ValueMatch::Present, false);
    assert!(req("/").header("stage", "").matches(&present));
    assert!(!req("/").matches(&present));

    let exact = header(ValueMatch::Exact("canary".into()), false);
    assert!(req("/").header("stage", "canary").matches(&exact));
    assert!(!req("/").header("stage", "Canary").matches(&exact));
    assert!(!req("/").matches(&exact));

    let regex = header(
        ValueMatch::Regex(Pattern::new("can.*", true).unwrap()),
        false,
    );
    assert!(req("/").header("stage", "canary").matches(&regex));
    assert!(!req("/").header("stage", "xcanary").matches(&regex));

    let not_canary = header(ValueMatch::Exact("canary".into()), true);
    assert!(!req("/").header("stage", "canary").matches(&not_canary));
    assert!(req("/").header("stage", "prod").matches(&not_canary));
    assert!(
        req("/").matches(&not_canary),
        "an absent header does not match, inverted"
    );
}

#[test]
fn repeated_headers_are_joined_with_commas() {
    let mut m = matcher(prefix("/", true));
    m.headers = vec![HeaderMatch {
        name: "x-tag".into(),
        value: ValueMatch::Exact("a,b".into()),
        invert: false,
    }];
    assert!(
        req("/")
            .header("x-tag", "a")
            .header("x-tag", "b")
            .matches(&m)
    );
}

#[test]
fn pseudo_headers_are_matchable() {
    let mut m = matcher(prefix("/", true));
    m.headers = vec![HeaderMatch {
        name: ":authority".into(),
        value: ValueMatch::Exact("example.com".into()),
        invert: false,
    }];
    assert!(req("/").matches(&m));
}

#[test]
fn query_parameters_match_present_exact_and_regex_decoded() {
    let query = |value: ValueMatch| {
        let mut m = matcher(prefix("/", true));
        m.query = vec![QueryMatch {
            name: "q".into(),
            value,
        }];
        m
    };
    let present = query(ValueMatch::Present);
    assert!(req("/").query("a=1&q").matches(&present));
    assert!(req("/").query("q=").matches(&present));
    assert!(!req("/").query("qq=1").matches(&present));
    assert!(!req("/").matches(&present));

    let exact = query(ValueMatch::Exact("a b".into()));
    assert!(req("/").query("q=a%20b").matches(&exact));
    assert!(!req("/").query("q=a").matches(&exact));
    assert!(
        !req("/").query("q=x&q=a%20b").matches(&exact),
        "the first parameter decides"
    );

    let regex = query(ValueMatch::Regex(Pattern::new("[0-9]+", true).unwrap()));
    assert!(req("/").query("q=123").matches(&regex));
    assert!(!req("/").query("q=12a").matches(&regex));
    // A broken escape is compared as written rather than rejected.
    assert!(!req("/").query("q=%zz%é").matches(&regex));
}

#[test]
fn first_matching_route_wins() {
    let routes = vec![
        route(
            "exact",
            matcher(PathMatch::Exact {
                value: "/a".into(),
                case_sensitive: true,
            }),
        ),
        route("a", matcher(prefix("/a", true))),
        route("root", matcher(prefix("/", true))),
    ];
    let find_origin = |path: &'static str| {
        let r = req(path);
        let view = RequestView {
            method: &r.method,
            path: r.path,
            query: None,
            authority: "h",
            scheme: "http",
            headers: &r.headers,
        };
        first_match(&routes, &view).map(|i| (i, routes[i].origin.clone()))
    };
    assert_eq!(find_origin("/a"), Some((0, "exact".into())));
    assert_eq!(find_origin("/ab"), Some((1, "a".into())));
    assert_eq!(find_origin("/b"), Some((2, "root".into())));
    assert_eq!(
        first_match(
            &routes[..2],
            &RequestView {
                method: &Method::GET,
                path: "/b",
                query: None,
                authority: "h",
                scheme: "http",
                headers: &HeaderMap::new(),
            }
        ),
        None
    );
}

#[test]
fn within_guards_must_hold_too() {
    let mut m = matcher(PathMatch::Regex(
        Pattern::new("/echo|/foxtrot.*|/.*", true).unwrap(),
    ));
    assert!(req("/foxtrot").matches(&m));
    m.within = vec![prefix("/echo", true)];
    assert!(req("/echo").matches(&m));
    assert!(!req("/foxtrot").matches(&m));
    assert!(!req("/").matches(&m));
    assert!(req("/echo/anything").matches(&m));
    m.within.push(prefix("/echo/a", true));
    assert!(!req("/echo/b").matches(&m));
    assert!(req("/echo/a").matches(&m));
}
