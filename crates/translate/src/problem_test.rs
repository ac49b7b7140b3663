use lockgate_api::{Kind, ResourceKey};

use super::*;
use crate::{Report, Reports, State};

fn table() -> ResourceKey {
    ResourceKey::new(Kind::RouteTable, "echo", "echo-routes")
}

fn typo() -> Problem {
    Flaw::new(
        Code::InvalidDestinationWarning,
        "spec.routes[1].routeAction.single",
        "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {gloo-system.echo-typo} not found",
    )
    .on(&table(), Severity::Error)
}

#[test]
fn text_is_the_field_then_the_message_and_names_the_sub_route_table_when_inherited() {
    assert_eq!(
        typo().to_string(),
        "spec.routes[1].routeAction.single: Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {gloo-system.echo-typo} not found"
    );
    assert_eq!(
        typo().via_sub_route_table().to_string(),
        format!("on sub route table echo.echo-routes: {}", typo())
    );
    let whole = Flaw::new(
        Code::ServingLastValidWarning,
        "",
        "serving its last valid generation",
    );
    assert_eq!(
        whole.on(&table(), Severity::Warning).to_string(),
        "serving its last valid generation"
    );
}

#[test]
fn an_inherited_error_rejects_but_is_not_the_resources_own() {
    let vs = ResourceKey::new(Kind::VirtualService, "gloo-system", "app");
    let mut reports = Reports::default();
    reports.add(&vs, typo().via_sub_route_table());
    let report = reports.get(&vs).unwrap();
    assert_eq!(report.state(), State::Rejected);
    assert!(report.has_errors());
    assert!(!report.has_own_errors());
    // The problem still names where it is.
    assert_eq!(report.problems[0].resource, table());
    assert_eq!(report.problems[0].origin, Origin::SubRouteTable);

    reports.add(
        &vs,
        Flaw::new(
            Code::InvalidMatcherError,
            "spec.virtualHost.routes[0].matchers[0].regex",
            "bad",
        )
        .on(&vs, Severity::Error),
    );
    assert!(reports.get(&vs).unwrap().has_own_errors());
}

#[test]
fn the_same_problem_is_kept_once_and_warnings_alone_make_a_warning() {
    let mut report = Report::default();
    let warning = Flaw::new(
        Code::RouteTableMissingWarning,
        "spec.routes[0].delegateAction.selector",
        "matches no route tables",
    )
    .on(&table(), Severity::Warning);
    report.push_unique(warning.clone());
    report.push_unique(warning);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.state(), State::Warning);
    assert_eq!(
        report.reasons(),
        vec!["warning: spec.routes[0].delegateAction.selector: matches no route tables"]
    );
}

#[test]
fn sets_compare_problems_not_their_wording() {
    let mut before = Reports::default();
    before.add(&table(), typo());
    let mut after = before.clone();
    // Same words, another code: a different problem.
    let mut other = typo();
    other.code = Code::InvalidRouteActionError;
    after.add(&table(), other.clone());
    let added: Vec<_> = after
        .error_set()
        .difference(&before.error_set())
        .cloned()
        .collect();
    assert_eq!(added, vec![(table(), other)]);
    assert!(after.warning_set().is_empty());
}

#[test]
fn codes_are_spelled_as_gloo_spells_them() {
    assert_eq!(
        Code::InvalidDestinationWarning.to_string(),
        "InvalidDestinationWarning"
    );
    assert_eq!(
        Code::DomainsNotUniqueError.as_str(),
        "DomainsNotUniqueError"
    );
    let json = serde_json::to_value(Code::InvalidMatcherError).unwrap();
    assert_eq!(json, "InvalidMatcherError");
}
