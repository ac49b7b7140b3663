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
            routes,
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
