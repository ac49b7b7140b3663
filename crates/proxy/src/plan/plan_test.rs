use super::*;

use http::Method;
use lockgate_compiled::{
    Cluster, ClusterKey, Forward, Matcher, PathMatch, RouteOptions, WeightedTarget,
};

fn key(name: &str) -> ClusterKey {
    ClusterKey {
        upstream_namespace: "team".into(),
        upstream_name: name.into(),
        subset: Default::default(),
    }
}

fn matcher(methods: &[&str]) -> Matcher {
    Matcher {
        path: PathMatch::Prefix {
            value: "/".into(),
            case_sensitive: true,
        },
        headers: vec![],
        query: vec![],
        methods: methods.iter().map(|m| m.to_string()).collect(),
        within: vec![],
    }
}

fn route(action: Action, options: RouteOptions) -> Route {
    Route {
        origin: "team.vs/routes[0]".into(),
        matcher: matcher(&[]),
        action,
        options,
    }
}

fn forward(destinations: &[(u32, Target)]) -> Action {
    Action::Forward(Forward {
        destinations: destinations
            .iter()
            .map(|(weight, target)| WeightedTarget {
                weight: *weight,
                target: target.clone(),
            })
            .collect(),
        total_weight: destinations.iter().map(|(w, _)| w).sum(),
    })
}

fn config(routes: Vec<Route>) -> Arc<CompiledConfig> {
    Arc::new(CompiledConfig::new(
        vec![VirtualHost {
            name: "team.vs".into(),
            domains: vec!["*".into()],
            routes: routes.into_iter().map(Arc::new).collect(),
            sources: Vec::new(),
        }],
        vec![Cluster::new(key("a"), vec!["127.0.0.1:1".parse().unwrap()])],
    ))
}

fn only_route(plan: &Plan) -> &RoutePlan {
    &plan.virtual_hosts[0].routes[0]
}

#[test]
fn weights_become_cumulative_bounds_and_zero_is_never_drawn() {
    let action = forward(&[
        (0, Target::Cluster(ClusterId(0))),
        (90, Target::Cluster(ClusterId(0))),
        (
            10,
            Target::Invalid {
                status: 503,
                body: "gone".into(),
            },
        ),
    ]);
    let plan = Plan::build(
        config(vec![route(action, RouteOptions::default())]),
        &Registry::new(),
    );
    let ActionPlan::Forward(forward) = &only_route(&plan).action else {
        panic!("a forward");
    };
    assert_eq!(forward.total, 100);
    assert!(matches!(forward.pick(0), Some(TargetPlan::Cluster(0))));
    assert!(matches!(forward.pick(89), Some(TargetPlan::Cluster(0))));
    match forward.pick(90) {
        Some(TargetPlan::Local { status, body }) => {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(body.as_ref(), b"gone");
        }
        _ => panic!("the invalid destination"),
    }
}

#[test]
fn a_dangling_cluster_answers_500_instead_of_panicking() {
    let action = forward(&[(1, Target::Cluster(ClusterId(7)))]);
    let plan = Plan::build(
        config(vec![route(action, RouteOptions::default())]),
        &Registry::new(),
    );
    let ActionPlan::Forward(forward) = &only_route(&plan).action else {
        panic!("a forward");
    };
    assert!(matches!(
        forward.pick(0),
        Some(TargetPlan::Local { status, .. }) if *status == StatusCode::INTERNAL_SERVER_ERROR
    ));
    let empty = ForwardPlan {
        destinations: Box::new([]),
        total: 0,
    };
    assert!(empty.pick(0).is_none());
}

#[test]
fn timeouts_default_to_envoys_and_zero_turns_them_off() {
    let direct = || Action::DirectResponse {
        status: 200,
        body: "ok".into(),
    };
    let with_timeout = |ms| RouteOptions {
        timeout_ms: ms,
        ..RouteOptions::default()
    };
    let plan = |options| Plan::build(config(vec![route(direct(), options)]), &Registry::new());
    assert_eq!(
        only_route(&plan(with_timeout(None))).timeout,
        Some(DEFAULT_TIMEOUT)
    );
    assert_eq!(only_route(&plan(with_timeout(Some(0)))).timeout, None);
    assert_eq!(
        only_route(&plan(with_timeout(Some(250)))).timeout,
        Some(Duration::from_millis(250))
    );
}

#[test]
fn direct_responses_and_redirect_statuses_are_typed_once() {
    let plan = Plan::build(
        config(vec![route(
            Action::DirectResponse {
                status: 1000,
                body: "odd".into(),
            },
            RouteOptions::default(),
        )]),
        &Registry::new(),
    );
    match &only_route(&plan).action {
        ActionPlan::Direct { status, body } => {
            // Not a status HTTP can carry: a 500, never a panic.
            assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(body.as_ref(), b"odd");
        }
        _ => panic!("a direct response"),
    }
}

#[test]
fn methods_are_typed_and_an_invalid_one_allows_nothing() {
    let any = MatcherPlan::build(&matcher(&[]));
    assert!(any.allows(&Method::DELETE));
    let get = MatcherPlan::build(&matcher(&["GET", "PURGE"]));
    assert!(get.allows(&Method::GET));
    assert!(get.allows(&Method::from_bytes(b"PURGE").unwrap()));
    assert!(!get.allows(&Method::POST));
    let invalid = MatcherPlan::build(&matcher(&["NOT A METHOD"]));
    assert!(!invalid.allows(&Method::GET), "never widened to any method");
}

#[test]
fn cluster_state_and_counters_outlive_a_publish() {
    let registry = Registry::new();
    let direct = Action::DirectResponse {
        status: 200,
        body: "ok".into(),
    };
    let first = Plan::build(
        config(vec![route(direct.clone(), RouteOptions::default())]),
        &registry,
    );
    let second = Plan::build(
        config(vec![route(direct, RouteOptions::default())]),
        &registry,
    );
    assert!(Arc::ptr_eq(
        &first.clusters[0].counters,
        &second.clusters[0].counters
    ));
    assert!(Arc::ptr_eq(
        &first.clusters[0].upstream,
        &second.clusters[0].upstream
    ));
    assert_eq!(first.clusters[0].endpoints.len(), 1);
    let vh = &first.config.virtual_hosts[0];
    let a = only_route(&first).counters(&registry, vh, &vh.routes[0]) as *const Counters;
    let b = only_route(&second).counters(&registry, vh, &vh.routes[0]) as *const Counters;
    assert_eq!(a, b, "one continuous series per route name");
}

#[test]
fn a_route_shared_with_the_last_configuration_keeps_its_plan() {
    let registry = Registry::new();
    let direct = |body: &str| Action::DirectResponse {
        status: 200,
        body: body.into(),
    };
    let kept = Arc::new(route(direct("kept"), RouteOptions::default()));
    let changed = Arc::new(route(direct("v1"), RouteOptions::default()));
    let host = |routes: Vec<Arc<Route>>, name: &str| VirtualHost {
        name: name.into(),
        domains: vec!["*".into()],
        routes,
        sources: Vec::new(),
    };
    let cluster = || Cluster::new(key("a"), vec!["127.0.0.1:1".parse().unwrap()]);
    let with =
        |routes, clusters| Arc::new(CompiledConfig::new(vec![host(routes, "team.vs")], clusters));
    let first = Plan::build(
        with(vec![kept.clone(), changed], vec![cluster()]),
        &registry,
    );
    let edited = Arc::new(route(direct("v2"), RouteOptions::default()));
    let second = Plan::build_after(
        with(vec![kept.clone(), edited.clone()], vec![cluster()]),
        &registry,
        &first,
    );
    let plans = |p: &Plan| p.virtual_hosts[0].routes.clone();
    assert!(Arc::ptr_eq(&plans(&first)[0], &plans(&second)[0]));
    assert!(!Arc::ptr_eq(&plans(&first)[1], &plans(&second)[1]));
    assert!(matches!(&plans(&second)[1].action, ActionPlan::Direct { body, .. } if body == "v2"));

    // Another number of clusters may turn a cluster into a dangling one: planned afresh.
    let third = Plan::build_after(with(vec![kept.clone(), edited], vec![]), &registry, &second);
    assert!(!Arc::ptr_eq(&plans(&second)[0], &plans(&third)[0]));
    // So is the same route under another virtual host, whose counters are its own.
    let other = Arc::new(CompiledConfig::new(
        vec![host(vec![kept], "other.vs")],
        vec![],
    ));
    let fourth = Plan::build_after(other, &registry, &third);
    assert!(!Arc::ptr_eq(&plans(&third)[0], &plans(&fourth)[0]));
}

#[test]
fn the_route_index_is_kept_while_every_path_is_filed_alike() {
    let registry = Registry::new();
    let at = |path: &str, body: &str| {
        let mut r = route(
            Action::DirectResponse {
                status: 200,
                body: body.into(),
            },
            RouteOptions::default(),
        );
        r.matcher.path = PathMatch::Prefix {
            value: path.into(),
            case_sensitive: true,
        };
        Arc::new(r)
    };
    // Enough routes for a tree rather than a scan.
    let many = |last: &str, body: &str| {
        let mut routes: Vec<_> = (0..64).map(|i| at(&format!("/r{i}"), "x")).collect();
        routes.push(at(last, body));
        Arc::new(CompiledConfig::new(
            vec![VirtualHost {
                name: "team.vs".into(),
                domains: vec!["*".into()],
                routes,
                sources: Vec::new(),
            }],
            Vec::new(),
        ))
    };
    let first = Plan::build(many("/last", "v1"), &registry);
    let index = |p: &Plan| Arc::clone(&p.virtual_hosts[0].index);
    let body_changed = Plan::build_after(many("/last", "v2"), &registry, &first);
    assert!(Arc::ptr_eq(&index(&first), &index(&body_changed)));
    // Filed case-insensitively: another case of the same path files alike.
    let case_changed = Plan::build_after(many("/LAST", "v2"), &registry, &body_changed);
    assert!(Arc::ptr_eq(&index(&first), &index(&case_changed)));
    let path_changed = Plan::build_after(many("/other", "v2"), &registry, &case_changed);
    assert!(!Arc::ptr_eq(&index(&first), &index(&path_changed)));
    let headers = http::HeaderMap::new();
    let request = crate::route::RequestView {
        method: &Method::GET,
        path: "/other/x",
        query: None,
        authority: "any",
        scheme: "http",
        headers: &headers,
    };
    let (vh, plan) = path_changed.virtual_host("any").unwrap();
    assert_eq!(crate::route::find(vh, plan, &request), Some(64));
}
