//! The isolation invariant as a property: what a resource in namespace N changes is only the
//! traffic that N was granted. For random sets of teams' resources (virtual services in
//! gloo-system delegating to each team by ref or by selector, route tables with random routes,
//! some invalid), adding any one resource of team N, valid or not (a route table, a virtual
//! service claiming existing domains, an upstream, a delegation into another namespace),
//! leaves every other team's served routes exactly as they were and every other namespace's
//! reports unchanged, under all three invalid-configuration policies.
//!
//! A virtual service reports the problems of the route tables it reaches ("on sub route table
//! N.x: ..."); those lines are about N's resources and are left out of the comparison.

use lockgate_api::{Document, Resource, ResourceKey, Snapshot};
use lockgate_compiled::{Action, CompiledConfig, Target};
use lockgate_translate::{Origin, Outcome, PolicyState, Problem, Report, translate};
use proptest::prelude::*;

const POLICIES: [&str; 3] = [
    "replaceInvalidRoutes: false",
    "replaceInvalidRoutes: true",
    "keepLastValid: true",
];

const BASE: &str = r#"
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: app, namespace: gloo-system}
spec: {static: {hosts: [{addr: 127.0.0.1, port: 9001}]}}
"#;

#[derive(Debug, Clone)]
enum PathKind {
    Prefix,
    Exact,
    RegexInside,
    /// Alternates its way out of the team's prefix: warned about and guarded.
    RegexEscaping,
    /// Outside the team's prefix: dropped with a warning.
    Outside,
}

#[derive(Debug, Clone)]
enum Act {
    Direct,
    SharedUpstream,
    OwnUpstream,
    /// An upstream that does not exist: an error.
    Typo,
}

#[derive(Debug, Clone)]
struct RouteGen {
    path: PathKind,
    suffix: String,
    act: Act,
}

#[derive(Debug, Clone)]
struct TableGen {
    labelled: bool,
    weight: i32,
    routes: Vec<RouteGen>,
}

#[derive(Debug, Clone)]
struct TeamGen {
    by_selector: bool,
    own_upstream: bool,
    tables: Vec<TableGen>,
}

#[derive(Debug, Clone)]
enum Addition {
    /// A route table; with `Some(m)` one of its routes delegates into team `m`'s table.
    Table(TableGen, Option<usize>),
    /// A virtual service claiming `*`, the ops' domain, or a fresh one; perhaps delegating
    /// into team `m`'s table, perhaps selecting route tables of every namespace.
    VirtualService {
        domain: u8,
        delegate_to: Option<usize>,
        select_all: bool,
    },
    Upstream {
        valid: bool,
    },
}

fn route() -> impl Strategy<Value = RouteGen> {
    (
        prop_oneof![
            3 => Just(PathKind::Prefix),
            1 => Just(PathKind::Exact),
            1 => Just(PathKind::RegexInside),
            1 => Just(PathKind::RegexEscaping),
            1 => Just(PathKind::Outside),
        ],
        "/[a-c]{1,3}",
        prop_oneof![
            2 => Just(Act::Direct),
            1 => Just(Act::SharedUpstream),
            1 => Just(Act::OwnUpstream),
            1 => Just(Act::Typo),
        ],
    )
        .prop_map(|(path, suffix, act)| RouteGen { path, suffix, act })
}

fn table() -> impl Strategy<Value = TableGen> {
    (
        any::<bool>(),
        0i32..2,
        proptest::collection::vec(route(), 1..4),
    )
        .prop_map(|(labelled, weight, routes)| TableGen {
            labelled,
            weight,
            routes,
        })
}

fn team() -> impl Strategy<Value = TeamGen> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(table(), 1..3),
    )
        .prop_map(|(by_selector, own_upstream, tables)| TeamGen {
            by_selector,
            own_upstream,
            tables,
        })
}

fn addition(teams: usize) -> impl Strategy<Value = Addition> {
    prop_oneof![
        (table(), proptest::option::of(0..teams)).prop_map(|(t, m)| Addition::Table(t, m)),
        (0u8..3, proptest::option::of(0..teams), any::<bool>()).prop_map(
            |(domain, delegate_to, select_all)| Addition::VirtualService {
                domain,
                delegate_to,
                select_all,
            }
        ),
        any::<bool>().prop_map(|valid| Addition::Upstream { valid }),
    ]
}

fn route_yaml(team: usize, r: &RouteGen, label: &str) -> String {
    let base = format!("/t{team}{}", r.suffix);
    let matcher = match r.path {
        PathKind::Prefix => format!("prefix: '{base}'"),
        PathKind::Exact => format!("exact: '{base}'"),
        PathKind::RegexInside => format!("regex: '{base}(/[a-z]+)?'"),
        PathKind::RegexEscaping => format!("regex: '{base}|/.*'"),
        PathKind::Outside => format!("prefix: '/elsewhere{}'", r.suffix),
    };
    let action = match r.act {
        Act::Direct => format!("directResponseAction: {{status: 200, body: {label}}}"),
        Act::SharedUpstream => {
            "routeAction: {single: {upstream: {name: app, namespace: gloo-system}}}".into()
        }
        Act::OwnUpstream => {
            format!("routeAction: {{single: {{upstream: {{name: svc, namespace: team{team}}}}}}}")
        }
        Act::Typo => {
            format!("routeAction: {{single: {{upstream: {{name: typo, namespace: team{team}}}}}}}")
        }
    };
    format!("    - matchers: [{{{matcher}}}]\n      {action}\n")
}

fn table_yaml(team: usize, name: &str, t: &TableGen, into: Option<usize>) -> String {
    let labels = if t.labelled {
        ", labels: {delegated: 'yes'}"
    } else {
        ""
    };
    let mut out = format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: {name}, namespace: team{team}{labels}}}\nspec:\n  weight: {}\n  routes:\n",
        t.weight
    );
    if let Some(m) = into {
        out.push_str(&format!(
            "    - matchers: [{{prefix: '/t{team}/into'}}]\n      delegateAction: {{ref: {{name: t0, namespace: team{m}}}}}\n"
        ));
    }
    for (j, r) in t.routes.iter().enumerate() {
        out.push_str(&route_yaml(team, r, &format!("team{team}-{name}-{j}")));
    }
    out
}

fn base_yaml(teams: &[TeamGen], policy: &str, open_namespaces: bool) -> String {
    let namespaces = if open_namespaces {
        ", virtualServiceNamespaces: ['*']"
    } else {
        ""
    };
    let mut yaml = format!(
        "{BASE}---\napiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {{name: default, namespace: gloo-system}}\nspec: {{gloo: {{invalidConfigPolicy: {{{policy}}}}}, gateway: {{validation: {{alwaysAccept: true}}{namespaces}}}}}\n"
    );
    let mut routes = String::new();
    for (i, t) in teams.iter().enumerate() {
        let delegate = if t.by_selector {
            format!("{{selector: {{namespaces: [team{i}], labels: {{delegated: 'yes'}}}}}}")
        } else {
            format!("{{ref: {{name: t0, namespace: team{i}}}}}")
        };
        routes.push_str(&format!(
            "      - matchers: [{{prefix: '/t{i}'}}]\n        delegateAction: {delegate}\n"
        ));
    }
    routes.push_str(
        "      - matchers: [{prefix: /}]\n        directResponseAction: {status: 200, body: ops}\n",
    );
    yaml.push_str(&format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: main, namespace: gloo-system, creationTimestamp: '2026-01-01T00:00:00Z'}}\nspec:\n  virtualHost:\n    domains: ['*']\n    routes:\n{routes}"
    ));
    yaml.push_str("---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: shop, namespace: gloo-system, creationTimestamp: '2026-01-01T00:00:00Z'}\nspec: {virtualHost: {domains: [shop.example], routes: [{matchers: [{prefix: /}], directResponseAction: {status: 200, body: shop}}]}}\n");
    for (i, t) in teams.iter().enumerate() {
        if t.own_upstream {
            yaml.push_str(&format!(
                "---\napiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: svc, namespace: team{i}}}\nspec: {{static: {{hosts: [{{addr: 127.0.0.1, port: {}}}]}}}}\n",
                9100 + i
            ));
        }
        for (j, table) in t.tables.iter().enumerate() {
            let mut table = table.clone();
            // The first table is what the ops route names (by ref) or selects.
            table.labelled |= j == 0;
            yaml.push_str(&table_yaml(i, &format!("t{j}"), &table, None));
        }
    }
    yaml
}

fn addition_yaml(team: usize, addition: &Addition) -> String {
    match addition {
        Addition::Table(t, into) => table_yaml(team, "added", t, *into),
        Addition::VirtualService {
            domain,
            delegate_to,
            select_all,
        } => {
            let domain = match domain {
                0 => "'*'".to_string(),
                1 => "shop.example".to_string(),
                _ => format!("team{team}.example"),
            };
            let delegate = match (delegate_to, select_all) {
                (Some(m), _) => format!("{{ref: {{name: t0, namespace: team{m}}}}}"),
                (None, true) => "{selector: {namespaces: ['*']}}".to_string(),
                (None, false) => format!("{{ref: {{name: t0, namespace: team{team}}}}}"),
            };
            format!(
                "---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: grab, namespace: team{team}, creationTimestamp: '2026-06-01T00:00:00Z'}}\nspec:\n  virtualHost:\n    domains: [{domain}]\n    routes:\n      - matchers: [{{prefix: '/'}}]\n        delegateAction: {delegate}\n"
            )
        }
        Addition::Upstream { valid } => {
            let port = if *valid { 9200 } else { 0 };
            format!(
                "---\napiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: app, namespace: team{team}}}\nspec: {{static: {{hosts: [{{addr: 127.0.0.1, port: {port}}}]}}}}\n"
            )
        }
    }
}

fn snapshot(yaml: &str) -> Snapshot {
    let resources: Vec<Resource> = lockgate_api::decode_documents(yaml)
        .into_iter()
        .filter_map(|d| match d {
            Ok(Document::Resource(r)) => Some(r),
            Ok(Document::Skipped(s)) => panic!("{s}"),
            // An invalid resource that does not even decode is not added (a write would
            // be refused before it reached the store).
            Err(_) => None,
        })
        .collect();
    Snapshot::from_resources(resources)
}

/// The namespace that owns a compiled route: its last origin segment's.
fn owner(origin: &str) -> &str {
    origin
        .rsplit(" > ")
        .next()
        .and_then(|leaf| leaf.split('.').next())
        .unwrap_or_default()
}

/// Every route not owned by `team`, per virtual host, in order, with clusters by key.
fn others_routes(config: &CompiledConfig, team: &str) -> Vec<String> {
    let mut out = Vec::new();
    for vh in &config.virtual_hosts {
        for r in vh.routes.iter().filter(|r| owner(&r.origin) != team) {
            let action = match &r.action {
                Action::Forward(f) => f
                    .destinations
                    .iter()
                    .map(|d| match &d.target {
                        Target::Cluster(id) => format!(
                            "{}:{}{:?}",
                            d.weight,
                            config.cluster(*id).key,
                            config.cluster(*id).endpoints
                        ),
                        Target::Invalid { status, .. } => format!("{}:invalid{status}", d.weight),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => format!("{other:?}"),
            };
            out.push(format!(
                "{} {:?} {:?} {action} {}",
                vh.name, vh.domains, r.matcher, r.origin
            ));
        }
    }
    out
}

/// Every report outside `team`'s namespace, without the lines about `team`'s route tables.
fn others_reports(outcome: &Outcome, team: &str) -> Vec<(ResourceKey, Report)> {
    // A problem of the team's own route tables, as a virtual service of another team reports it.
    let keep = |p: &&Problem| !(p.origin == Origin::SubRouteTable && p.resource.namespace == team);
    outcome
        .reports
        .iter()
        .filter(|(k, _)| k.namespace != team)
        .map(|(k, r)| {
            (
                k.clone(),
                Report {
                    problems: r.problems.iter().filter(keep).cloned().collect(),
                },
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn adding_a_resource_of_one_team_changes_nothing_of_the_others(
        (teams, n, added) in proptest::collection::vec(team(), 2..4).prop_flat_map(|teams| {
            let count = teams.len();
            (Just(teams), 0..count, addition(count))
        }),
        open_namespaces in any::<bool>(),
    ) {
        let team = format!("team{n}");
        for policy in POLICIES {
            let base = base_yaml(&teams, policy, open_namespaces);
            let before = translate(&snapshot(&base), &PolicyState::default());
            // Translated twice, as a running gateway does: the second one has a history.
            let before = translate(&snapshot(&base), &before.state);
            let with = format!("{base}{}", addition_yaml(n, &added));
            let after = translate(&snapshot(&with), &before.state);
            prop_assert_eq!(
                others_routes(&after.config, &team),
                others_routes(&before.config, &team),
                "{}\n{}", policy, with
            );
            prop_assert_eq!(
                others_reports(&after, &team),
                others_reports(&before, &team),
                "{}\n{}", policy, with
            );
        }
    }
}
