use serde_json::json;

use super::*;

#[test]
fn the_table_shows_state_and_the_detail_each_kind_is_looked_up_for() {
    let blocked_by = json!([
        {"kind": "RouteTable", "namespace": "echo", "name": "echo-routes", "reason": "Rejected",
         "cause": true},
        {"kind": "VirtualService", "namespace": "gloo-system", "name": "app",
         "reason": "serving its last known good", "cause": false}
    ]);
    let items = [
        json!({"metadata": {"namespace": "echo", "name": "echo-routes", "generation": 2},
               "spec": {"routes": [{}, {}]},
               "status": {"state": "Rejected", "servedGeneration": 1, "blockedBy": blocked_by}}),
        json!({"metadata": {"namespace": "foxtrot", "name": "foxtrot-routes", "generation": 1},
               "spec": {"weight": 10, "routes": [{}]},
               "status": {"state": "Accepted", "servedGeneration": 1}}),
        json!({"metadata": {"namespace": "team", "name": "fresh"}, "spec": {}}),
    ];
    assert_eq!(
        table(Kind::RouteTable, &items),
        "NAMESPACE   NAME             STATE      SERVED                                                            ROUTES\n\
         echo        echo-routes      Rejected   generation 1 (blocked by RouteTable echo.echo-routes, Rejected)   2\n\
         foxtrot     foxtrot-routes   Accepted   yes                                                               1 (weight 10)\n\
         team        fresh            Pending    no                                                                0\n"
    );
}

#[test]
fn details_of_upstreams_endpoints_services_and_settings() {
    let kube = json!({"spec": {"kube": {"serviceName": "echo", "serviceNamespace": "echo"}}});
    assert_eq!(detail_of(Kind::Upstream, &kube), "kube echo.echo");
    let static_ = json!({"spec": {"static": {"hosts": [{"addr": "10.0.0.1", "port": 80}]}}});
    assert_eq!(detail_of(Kind::Upstream, &static_), "static 10.0.0.1:80");
    let endpoint = json!({"spec": {"address": "127.0.0.1", "port": 8081}});
    assert_eq!(detail_of(Kind::Endpoint, &endpoint), "127.0.0.1:8081");
    let vs = json!({"spec": {"virtualHost": {"domains": ["*", "example.com"]}}});
    assert_eq!(detail_of(Kind::VirtualService, &vs), "*,example.com");
    let settings =
        json!({"spec": {"gloo": {"invalidConfigPolicy": {"replaceInvalidRoutes": true}}}});
    assert_eq!(detail_of(Kind::Settings, &settings), "replaceInvalidRoutes");
    let settings =
        json!({"spec": {"gloo": {"invalidConfigPolicy": {"replaceInvalidRoutes": false}}}});
    assert_eq!(detail_of(Kind::Settings, &settings), "lastKnownGood");
}
