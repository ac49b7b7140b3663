use super::*;

#[test]
fn paths_follow_the_kubernetes_layout() {
    assert_eq!(
        resource_path(Kind::RouteTable, Some("echo"), Some("echo-routes")),
        "/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes"
    );
    assert_eq!(
        resource_path(Kind::Settings, Some("gloo-system"), None),
        "/apis/gloo.solo.io/v1/namespaces/gloo-system/settings"
    );
    assert_eq!(
        resource_path(Kind::VirtualService, None, None),
        "/apis/gateway.solo.io/v1/virtualservices"
    );
}

#[test]
fn objects_are_named_as_kubectl_names_them() {
    assert_eq!(
        object_name(Kind::RouteTable, "echo-routes"),
        "routetable.gateway.solo.io/echo-routes"
    );
    assert_eq!(
        object_name(Kind::Settings, "default"),
        "settings.gloo.solo.io/default"
    );
}

#[test]
fn a_server_given_without_scheme_or_with_a_slash_means_the_same() {
    assert_eq!(normalise_server("127.0.0.1:9901"), "http://127.0.0.1:9901");
    assert_eq!(
        normalise_server("http://127.0.0.1:9901/"),
        "http://127.0.0.1:9901"
    );
    assert_eq!(
        normalise_server("https://gw.example.com"),
        "https://gw.example.com"
    );
}

#[test]
fn a_status_answer_reads_as_kubectl_shows_it() {
    let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":422,"reason":"Invalid",
        "message":"RouteTable echo.echo-routes: spec.routes[0].matchers[0].prefx: unknown field `prefx`",
        "details":{"problems":[{"kind":"RouteTable","namespace":"echo","name":"echo-routes",
        "state":"Rejected","reasons":["spec.routes[0].matchers[0].prefx: unknown field `prefx`"]}]}}"#;
    let error = server_error(StatusCode::UNPROCESSABLE_ENTITY, body);
    assert_eq!(
        error.to_string(),
        "Error from server (Invalid): RouteTable echo.echo-routes: spec.routes[0].matchers[0].prefx: unknown field `prefx`\n\
         \x20 RouteTable echo.echo-routes: Rejected\n\
         \x20   spec.routes[0].matchers[0].prefx: unknown field `prefx`"
    );
}

#[test]
fn an_answer_that_is_not_a_status_still_says_what_came_back() {
    let error = server_error(StatusCode::BAD_GATEWAY, "upstream connect error\n");
    assert_eq!(
        error.to_string(),
        "Error from server (BadGateway): upstream connect error"
    );
    let error = server_error(StatusCode::NOT_FOUND, "");
    assert_eq!(
        error.to_string(),
        "Error from server (NotFound): 404 Not Found"
    );
    assert!(error.is_not_found());
}

#[test]
fn a_refused_connection_names_the_server_and_suggests_serve() {
    // Port 1 on loopback: nothing listens there in a test environment.
    let client = Client::new(&ServerArgs {
        server: "127.0.0.1:1".into(),
        token: None,
    })
    .unwrap();
    let error = client.get("/check").unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ClientError::Unreachable { .. }), "{text}");
    assert!(text.contains("http://127.0.0.1:1"), "{text}");
    assert!(text.contains("lockgate serve"), "{text}");
}
