use super::*;

use http::{HeaderMap, HeaderValue, Method};
use lockgate_compiled::{Action, HeaderMatch, Matcher, Pattern, RouteOptions, ValueMatch};
use proptest::prelude::*;

use crate::plan::MatcherPlan;
use crate::route::{RequestView, find_in, matches};

fn plans(routes: &[Route]) -> Vec<MatcherPlan> {
    routes
        .iter()
        .map(|r| MatcherPlan::build(&r.matcher))
        .collect()
}

/// The linear first-match scan the index must agree with.
fn find<'r>(routes: &'r [Route], view: &RequestView<'_>) -> Option<(usize, &'r Route)> {
    let plans = plans(routes);
    (0..routes.len())
        .find(|&i| matches(&routes[i].matcher, &plans[i], view))
        .map(|i| (i, &routes[i]))
}

/// The first match through `index`, as the proxy finds it.
fn find_indexed<'r>(
    routes: &'r [Route],
    index: &RouteIndex,
    view: &RequestView<'_>,
) -> Option<(usize, &'r Route)> {
    let plans = plans(routes);
    find_in(routes, index, |i| &plans[i], view).map(|i| (i, &routes[i]))
}

fn prefix(value: &str, case_sensitive: bool) -> PathMatch {
    PathMatch::Prefix {
        value: value.into(),
        case_sensitive,
    }
}

fn exact(value: &str, case_sensitive: bool) -> PathMatch {
    PathMatch::Exact {
        value: value.into(),
        case_sensitive,
    }
}

fn regex(source: &str, case_sensitive: bool) -> PathMatch {
    PathMatch::Regex(Pattern::new(source, case_sensitive).expect("test pattern compiles"))
}

fn route(path: PathMatch) -> Route {
    Route {
        origin: String::new(),
        matcher: Matcher {
            path,
            headers: vec![],
            query: vec![],
            methods: vec![],
            within: vec![],
        },
        action: Action::DirectResponse {
            status: 200,
            body: String::new(),
        },
        options: RouteOptions::default(),
    }
}

fn routes(paths: Vec<PathMatch>) -> Vec<Route> {
    paths.into_iter().map(route).collect()
}

/// The route index the tree picks for a GET of `path` without headers, checked against the scan.
fn pick(routes: &[Route], path: &str) -> Option<usize> {
    let headers = HeaderMap::new();
    let view = view(&Method::GET, path, &headers);
    let index = RouteIndex::build_tree(routes);
    let picked = find_indexed(routes, &index, &view).map(|(i, _)| i);
    assert_eq!(picked, find(routes, &view).map(|(i, _)| i), "{path}");
    picked
}

fn view<'a>(method: &'a Method, path: &'a str, headers: &'a HeaderMap) -> RequestView<'a> {
    RequestView {
        method,
        path,
        query: None,
        authority: "example.com",
        scheme: "http",
        headers,
    }
}

#[test]
fn a_prefix_of_a_prefix_wins_when_it_comes_first() {
    let r = routes(vec![prefix("/ech", true), prefix("/echo", true)]);
    assert_eq!(pick(&r, "/echo/x"), Some(0));
    assert_eq!(pick(&r, "/ech"), Some(0));
    assert_eq!(pick(&r, "/ec"), None);
    let r = routes(vec![prefix("/echo", true), prefix("/ech", true)]);
    assert_eq!(pick(&r, "/echoes"), Some(0));
    assert_eq!(pick(&r, "/echx"), Some(1));
}

#[test]
fn exact_and_prefix_keep_their_order() {
    let r = routes(vec![prefix("/a", true), exact("/a/b", true)]);
    assert_eq!(pick(&r, "/a/b"), Some(0));
    let r = routes(vec![exact("/a/b", true), prefix("/a", true)]);
    assert_eq!(pick(&r, "/a/b"), Some(0));
    assert_eq!(pick(&r, "/a/bc"), Some(1));
    assert_eq!(pick(&r, "/a/"), Some(1));
    // An exact path is not a prefix.
    let r = routes(vec![exact("/a", true)]);
    assert_eq!(pick(&r, "/ab"), None);
    assert_eq!(pick(&r, "/a"), Some(0));
}

#[test]
fn case_insensitive_paths_match_any_ascii_case() {
    let r = routes(vec![
        prefix("/Echo", true),
        prefix("/ECHO", false),
        exact("/Foo", false),
    ]);
    assert_eq!(pick(&r, "/Echo/1"), Some(0));
    assert_eq!(pick(&r, "/echo/1"), Some(1));
    assert_eq!(pick(&r, "/eChO"), Some(1));
    assert_eq!(pick(&r, "/FOO"), Some(2));
    assert_eq!(pick(&r, "/foo/"), None);
    // ASCII only, as `eq_ignore_ascii_case`: `É` and `é` differ.
    let r = routes(vec![prefix("/café", false)]);
    assert_eq!(pick(&r, "/CAFé"), Some(0));
    assert_eq!(pick(&r, "/CAFÉ"), None);
}

#[test]
fn regex_routes_keep_their_place_among_prefixes() {
    let r = routes(vec![
        prefix("/a/b", true),
        regex("/a/[0-9]+", true),
        prefix("/a", true),
        regex("/.*", true),
    ]);
    assert_eq!(pick(&r, "/a/b"), Some(0));
    assert_eq!(pick(&r, "/a/12"), Some(1));
    assert_eq!(pick(&r, "/a/x"), Some(2));
    assert_eq!(pick(&r, "/z"), Some(3));
    assert_eq!(pick(&r, "z"), None);
}

#[test]
fn an_empty_route_set_matches_nothing() {
    assert_eq!(pick(&[], "/"), None);
    assert_eq!(
        RouteIndex::build(&[] as &[Route]).first("/", |_| true),
        None
    );
    assert!(RouteIndex::build_tree(&[] as &[Route]).heap_bytes() < 64);
}

#[test]
fn slash_and_empty_prefixes_match_everything_below() {
    let r = routes(vec![
        exact("/", true),
        prefix("/x", true),
        prefix("/", true),
    ]);
    assert_eq!(pick(&r, "/"), Some(0));
    assert_eq!(pick(&r, "/x"), Some(1));
    assert_eq!(pick(&r, "/y/z"), Some(2));
    let r = routes(vec![prefix("", true), prefix("/", true)]);
    assert_eq!(pick(&r, ""), Some(0));
    assert_eq!(pick(&r, "/q"), Some(0));
}

#[test]
fn candidates_are_tested_in_order_until_one_holds() {
    // The caller's matcher decides (here: methods and headers the index never looks at).
    let r = routes(vec![
        prefix("/a", true),
        regex("/a.*", true),
        prefix("/", true),
    ]);
    let index = RouteIndex::build_tree(&r);
    let mut seen = Vec::new();
    let first = index.first("/ab", |i| {
        seen.push(i);
        i == 2
    });
    assert_eq!((first, seen), (Some(2), vec![0, 1, 2]));
    // A prefix route whose path cannot match is never offered; regex routes always are.
    let mut seen = Vec::new();
    assert_eq!(
        index.first("/b", |i| {
            seen.push(i);
            i == 2
        }),
        Some(2)
    );
    assert_eq!(seen, vec![1, 2]);
}

#[test]
fn a_path_passing_many_route_nodes_spills_past_the_stack_lists() {
    // /a, /aa, /aaa, ...: every node on the path carries a route, more than INLINE_LISTS.
    let r: Vec<Route> = (1..=40)
        .rev()
        .map(|n| route(prefix(&format!("/{}", "a".repeat(n)), true)))
        .collect();
    let long = format!("/{}", "a".repeat(50));
    assert_eq!(pick(&r, &long), Some(0));
    let index = RouteIndex::build_tree(&r);
    let mut seen = Vec::new();
    assert_eq!(
        index.first(&long, |i| {
            seen.push(i);
            i == 39
        }),
        Some(39)
    );
    assert_eq!(seen, (0..40).collect::<Vec<_>>());
}

#[test]
fn small_sets_are_scanned_and_large_ones_indexed() {
    let few = routes(vec![prefix("/a", true); SCAN_BELOW - 1]);
    assert_eq!(RouteIndex::build(&few).heap_bytes(), 0);
    let many: Vec<Route> = (0..1000)
        .map(|i| {
            route(prefix(
                &format!("/team-{:04}/svc-{:02}", i / 20, i % 20),
                true,
            ))
        })
        .collect();
    let index = RouteIndex::build(&many);
    // Compact: well under 100 bytes a route (the benchmark reports the figure at 50,000).
    assert!(
        index.heap_bytes() < 100 * many.len(),
        "{}",
        index.heap_bytes()
    );
    let headers = HeaderMap::new();
    let v = view(&Method::GET, "/team-0042/svc-07/x", &headers);
    assert_eq!(find_indexed(&many, &index, &v).map(|(i, _)| i), Some(847));
}

// The property: for random route sets over a small alphabet (so that prefixes nest, exact and
// regex paths collide with them, and cases differ) with method and header conditions (so that
// the first route by path is not always the first that matches), the index picks exactly what
// the full first-match scan picks.

const PIECES: &[&str] = &["/", "/a", "/ab", "/A", "/b/", "/a/b", "a", "b", "B", ""];

fn path_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 0..4).prop_map(|p| p.concat())
}

fn path_match() -> impl Strategy<Value = PathMatch> {
    prop_oneof![
        4 => (path_value(), any::<bool>()).prop_map(|(v, c)| prefix(&v, c)),
        3 => (path_value(), any::<bool>()).prop_map(|(v, c)| exact(&v, c)),
        1 => (
            proptest::sample::select(&["/a.*", "/[ab]+", "/b/.*", ".*", "/A/?b?"][..]),
            any::<bool>()
        )
            .prop_map(|(v, c)| regex(v, c)),
    ]
}

fn random_route() -> impl Strategy<Value = Route> {
    (
        path_match(),
        proptest::option::weighted(0.2, Just("POST".to_string())),
        proptest::option::weighted(0.2, any::<bool>()),
        proptest::option::weighted(0.1, path_value()),
    )
        .prop_map(|(path, method, header, within)| {
            let mut r = route(path);
            r.matcher.methods.extend(method);
            r.matcher.headers.extend(header.map(|invert| HeaderMatch {
                name: "x-canary".into(),
                value: ValueMatch::Exact("1".into()),
                invert,
            }));
            r.matcher.within.extend(within.map(|w| prefix(&w, true)));
            r
        })
}

fn request() -> impl Strategy<Value = (String, bool, bool)> {
    (path_value(), any::<bool>(), any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_index_picks_what_the_scan_picks(
        routes in proptest::collection::vec(random_route(), 0..40),
        requests in proptest::collection::vec(request(), 1..16),
    ) {
        let tree = RouteIndex::build_tree(&routes);
        let chosen = RouteIndex::build(&routes);
        for (path, post, canary) in &requests {
            let method = if *post { Method::POST } else { Method::GET };
            let mut headers = HeaderMap::new();
            if *canary {
                headers.insert("x-canary", HeaderValue::from_static("1"));
            }
            let v = view(&method, path, &headers);
            let scanned = find(&routes, &v).map(|(i, r)| (i, r as *const Route));
            let indexed = find_indexed(&routes, &tree, &v).map(|(i, r)| (i, r as *const Route));
            prop_assert_eq!(indexed, scanned, "tree, {}", path);
            let indexed = find_indexed(&routes, &chosen, &v).map(|(i, r)| (i, r as *const Route));
            prop_assert_eq!(indexed, scanned, "build, {}", path);
        }
    }
}
