use super::*;

fn vh(name: &str, domains: &[&str]) -> VirtualHost {
    VirtualHost {
        name: name.into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        routes: vec![],
        sources: Vec::new(),
    }
}

#[test]
fn host_selection_prefers_exact_then_longest_wildcard_then_star() {
    let config = CompiledConfig::new(
        vec![
            vh("a", &["*"]),
            vh("b", &["*.example.com"]),
            vh("c", &["api.example.com"]),
            vh("d", &["*.eu.example.com", "localhost:8080"]),
        ],
        vec![],
    );
    let pick = |h: &str| config.virtual_host(h).map(|v| v.name.as_str());
    assert_eq!(pick("api.example.com"), Some("c"));
    assert_eq!(pick("API.Example.com:443"), Some("c"));
    assert_eq!(pick("www.example.com"), Some("b"));
    assert_eq!(pick("x.eu.example.com"), Some("d"));
    assert_eq!(pick("example.com"), Some("a"));
    assert_eq!(pick("localhost:8080"), Some("d"));
    assert_eq!(pick("localhost:9090"), Some("a"));
    assert_eq!(pick("[::1]:8080"), Some("a"));
}

#[test]
fn no_star_means_no_host() {
    let config = CompiledConfig::new(vec![vh("b", &["*.example.com"])], vec![]);
    assert!(config.virtual_host(".example.com").is_none());
    assert!(config.virtual_host("other.org").is_none());
}

#[test]
fn weighted_pick_skips_zero_weights() {
    let target = |n: usize| Target::Cluster(ClusterId(n));
    let forward = Forward {
        destinations: vec![
            WeightedTarget {
                weight: 0,
                target: target(0),
            },
            WeightedTarget {
                weight: 30,
                target: target(1),
            },
            WeightedTarget {
                weight: 70,
                target: target(2),
            },
        ],
        total_weight: 100,
    };
    assert_eq!(forward.pick(0).target, target(1));
    assert_eq!(forward.pick(29).target, target(1));
    assert_eq!(forward.pick(30).target, target(2));
    assert_eq!(forward.pick(99).target, target(2));
}

#[test]
fn round_trips_through_json_with_regexes_rebuilt() {
    let route = Route {
        origin: "ns.vs/routes[0]".into(),
        matcher: Matcher {
            path: PathMatch::Regex(Pattern::new("/a/[0-9]+", false).unwrap()),
            headers: vec![HeaderMatch {
                name: "stage".into(),
                value: ValueMatch::Regex(Pattern::new("can.*", true).unwrap()),
                invert: false,
            }],
            query: vec![],
            methods: vec!["GET".into()],
            within: vec![],
        },
        action: Action::DirectResponse {
            status: 200,
            body: "ok".into(),
        },
        options: RouteOptions::default(),
    };
    let config = CompiledConfig::new(
        vec![VirtualHost {
            routes: vec![std::sync::Arc::new(route)],
            sources: Vec::new(),
            ..vh("v", &["*"])
        }],
        vec![],
    );
    let text = serde_json::to_string(&config).unwrap();
    let back: CompiledConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, config);
    let PathMatch::Regex(p) = &back.virtual_hosts[0].routes[0].matcher.path else {
        panic!()
    };
    assert!(p.is_match("/A/12"));
    assert!(!p.is_match("/a/12/x"), "patterns match whole paths");
    assert!(
        back.virtual_host("anything").is_some(),
        "index rebuilt after load"
    );
}

#[test]
fn a_configuration_keeps_no_spare_room_from_being_built() {
    let route = Route {
        origin: "gloo-system.app/routes[0]".into(),
        matcher: Matcher {
            path: PathMatch::Prefix {
                value: "/".into(),
                case_sensitive: true,
            },
            headers: Vec::new(),
            query: Vec::new(),
            methods: Vec::new(),
            within: Vec::new(),
        },
        action: Action::DirectResponse {
            status: 200,
            body: "ok".into(),
        },
        options: RouteOptions::default(),
    };
    // Grown by pushing, as the translator builds it: room for 1,024 routes holding 600.
    let mut host = vh("a", &["*"]);
    host.routes
        .extend(std::iter::repeat_n(std::sync::Arc::new(route), 600));
    host.routes.reserve(1_024 - 600);
    let mut hosts = Vec::with_capacity(8);
    hosts.push(host);
    let clusters = Vec::with_capacity(16);
    let config = CompiledConfig::new(hosts, clusters);
    let routes = &config.virtual_hosts[0].routes;
    assert_eq!((routes.len(), routes.capacity()), (600, 600));
    assert_eq!(config.virtual_hosts.capacity(), 1);
    assert_eq!(config.clusters.capacity(), 0);
}
