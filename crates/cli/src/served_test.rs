use serde_json::json;

use super::*;

fn blocked_foxtrot() -> Value {
    json!({
        "metadata": {"namespace": "foxtrot", "name": "foxtrot-routes", "generation": 2},
        "status": {
            "state": "Accepted", "reasons": [], "observedGeneration": 2, "servedGeneration": 1,
            "blockedBy": [
                {"kind": "RouteTable", "namespace": "echo", "name": "echo-routes",
                 "reason": "Rejected", "cause": true},
                {"kind": "VirtualService", "namespace": "gloo-system", "name": "app",
                 "reason": "serving its last known good", "cause": false}
            ]
        }
    })
}

#[test]
fn a_blocked_change_names_the_cause_in_applys_words() {
    let view = ServedView::of_object(&blocked_foxtrot());
    assert!(view.is_blocked());
    assert_eq!(
        view.apply_note(),
        " (not served: blocked by RouteTable echo.echo-routes, Rejected)"
    );
    assert_eq!(
        view.column(),
        "generation 1 (blocked by RouteTable echo.echo-routes, Rejected)"
    );
}

#[test]
fn a_served_or_unreached_resource_says_so_briefly() {
    let served = json!({"metadata": {"generation": 3}, "status": {"servedGeneration": 3}});
    let view = ServedView::of_object(&served);
    assert!(!view.is_blocked());
    assert_eq!(view.apply_note(), "");
    assert_eq!(view.column(), "yes");
    let orphan = json!({"metadata": {"generation": 1}, "status": {"state": "Accepted"}});
    assert_eq!(ServedView::of_object(&orphan).column(), "no");
    // An older server that says nothing about serving.
    assert_eq!(ServedView::of_object(&json!({})).apply_note(), "");
}

#[test]
fn without_marked_causes_every_blocker_is_named() {
    let view = ServedView::of_report(&json!({
        "generation": 1,
        "blockedBy": [{"kind": "VirtualService", "namespace": "gloo-system", "name": "app",
                       "reason": "not served"}]
    }));
    assert_eq!(
        view.column(),
        "no (blocked by VirtualService gloo-system.app, not served)"
    );
}

#[test]
fn check_names_every_blocker() {
    let view = ServedView::of_object(&blocked_foxtrot());
    assert_eq!(
        view.check_text(),
        "generation 2 is not served (generation 1 is): blocked by RouteTable echo.echo-routes, Rejected; VirtualService gloo-system.app, serving its last known good"
    );
}
