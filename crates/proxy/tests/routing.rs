//! Host selection, path normalisation and every action, through a real listener.

mod common;

use common::*;
use lockgate_compiled::{
    Action, CompiledConfig, Forward, HeaderMatch, HeaderToAdd, Matcher, PathMatch, Pattern,
    QueryMatch, Redirect, RouteOptions, Target, ValueMatch, WeightedTarget,
};

/// The seed's shape: `/echo` and `/foxtrot` to two teams' backends.
async fn seed_like() -> (Gateway, HttpClient) {
    let echo = echo("version:echo-v1").await;
    let foxtrot = echo_backend("version:foxtrot-v1").await;
    let config = single(
        vec![
            route("app/routes[0] > echo", prefix("/echo"), to_cluster(0)),
            route("app/routes[1] > foxtrot", prefix("/foxtrot"), to_cluster(1)),
        ],
        vec![cluster("echo", &[echo]), cluster("foxtrot", &[foxtrot])],
    );
    (Gateway::start(config).await, client())
}

async fn echo_backend(text: &str) -> std::net::SocketAddr {
    common::echo(text).await
}

#[tokio::test]
async fn seed_routes_answer_from_their_backends() {
    let (gateway, client) = seed_like().await;
    let reply = get(&client, &gateway, "localhost", "/echo").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "version:echo-v1\n")
    );
    let reply = get(&client, &gateway, "localhost", "/foxtrot").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "version:foxtrot-v1\n")
    );
}

#[tokio::test]
async fn dot_segments_cannot_reach_another_teams_route() {
    let inspector = inspector().await;
    let config = single(
        vec![route("foxtrot", prefix("/foxtrot"), to_cluster(0))],
        vec![cluster("inspector", &[inspector])],
    );
    let gateway = Gateway::start(config).await;
    let client = client();
    let reply = get(&client, &gateway, "h", "/foxtrot/../echo").await;
    assert_eq!(
        reply.status, 404,
        "normalised to /echo, which no route serves"
    );
    let reply = get(&client, &gateway, "h", "/foxtrot/%2E%2E/echo").await;
    assert_eq!(reply.status, 404, "encoded dots are decoded first");
}

#[tokio::test]
async fn the_upstream_receives_the_normalised_path_and_the_query() {
    let inspector = inspector().await;
    let config = single(
        vec![route("all", prefix("/"), to_cluster(0))],
        vec![cluster("inspector", &[inspector])],
    );
    let gateway = Gateway::start(config).await;
    let client = client();
    let first_line = |reply: &Reply| reply.body.lines().next().unwrap().to_string();
    let reply = get(&client, &gateway, "h", "//a/./b/../c?x=%2F&y").await;
    assert_eq!(first_line(&reply), "GET /a/c?x=%2F&y");
    let reply = get(&client, &gateway, "h", "/a%2fb/%7Euser").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (400, "escaped slash or backslash in path"),
        "%2F is refused by default"
    );
    let reply = get(&client, &gateway, "h", "/a%7euser/%41").await;
    assert_eq!(first_line(&reply), "GET /a~user/A");
    let reply = get(&client, &gateway, "h", "/../../etc").await;
    assert_eq!(first_line(&reply), "GET /etc");
    let reply = get(&client, &gateway, "h", "/plain?q=1").await;
    assert_eq!(first_line(&reply), "GET /plain?q=1");
    let reply = get(&client, &gateway, "h", "/bad%zz").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (400, "invalid percent-encoding in path")
    );
}

#[tokio::test]
async fn merged_slashes_match_the_route() {
    let (gateway, client) = seed_like().await;
    let reply = get(&client, &gateway, "h", "//echo").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "version:echo-v1\n")
    );
}

#[tokio::test]
async fn virtual_host_is_chosen_by_host_header() {
    let direct = |text: &str| Action::DirectResponse {
        status: 200,
        body: text.into(),
    };
    let config = CompiledConfig::new(
        vec![
            vhost(
                "ns.exact",
                &["api.example.com"],
                vec![route("e", prefix("/"), direct("exact"))],
            ),
            vhost(
                "ns.wild",
                &["*.example.com"],
                vec![route("w", prefix("/"), direct("wildcard"))],
            ),
            vhost(
                "ns.port",
                &["localhost:8080"],
                vec![route("p", prefix("/"), direct("port"))],
            ),
        ],
        vec![],
    );
    let gateway = Gateway::start(config).await;
    let client = client();
    for (host, expected) in [
        ("api.example.com", "exact"),
        ("API.example.com:443", "exact"),
        ("www.example.com", "wildcard"),
        ("localhost:8080", "port"),
    ] {
        let reply = get(&client, &gateway, host, "/").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, expected),
            "{host}"
        );
    }
    let reply = get(&client, &gateway, "other.org", "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (404, "no route matched")
    );
}

#[tokio::test]
async fn h2c_requests_are_routed_by_authority_and_forwarded_as_http1() {
    let inspector = inspector().await;
    let config = CompiledConfig::new(
        vec![
            vhost(
                "ns.local",
                &["127.0.0.1"],
                vec![route("r", prefix("/"), to_cluster(0))],
            ),
            vhost("ns.other", &["*"], vec![]),
        ],
        vec![cluster("inspector", &[inspector])],
    );
    let gateway = Gateway::start(config).await;
    let client = h2c_client();
    let request = http::Request::get(gateway.url("/x?y=1"))
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(empty())
        .unwrap();
    let reply = send(&client, request).await;
    assert_eq!((reply.status, reply.version), (200, http::Version::HTTP_2));
    assert!(reply.body.starts_with("GET /x?y=1\n"), "{}", reply.body);
    let host = format!("host: {}\n", gateway.addr);
    assert!(
        reply.body.contains(&host),
        "the upstream gets the authority as Host: {}",
        reply.body
    );
    assert!(reply.body.contains("cookie: a=1; b=2\n"), "{}", reply.body);
}

#[tokio::test]
async fn no_route_is_404_with_a_short_body() {
    let (gateway, client) = seed_like().await;
    let reply = get(&client, &gateway, "h", "/nothing").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (404, "no route matched")
    );
    let empty = Gateway::start(CompiledConfig::default()).await;
    let reply = get(&client, &empty, "h", "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (404, "no route matched")
    );
}

#[tokio::test]
async fn direct_responses_redirects_and_invalid_destinations_answer_locally() {
    let config = single(
        vec![
            route(
                "direct",
                prefix("/direct"),
                Action::DirectResponse {
                    status: 418,
                    body: "short and stout".into(),
                },
            ),
            route(
                "redirect",
                prefix("/old"),
                Action::Redirect(Redirect {
                    host: None,
                    path: None,
                    prefix_rewrite: Some("/new".into()),
                    port: None,
                    status: 302,
                    https: true,
                    strip_query: false,
                }),
            ),
            route(
                "invalid",
                prefix("/invalid"),
                Action::Forward(Forward {
                    destinations: vec![WeightedTarget {
                        weight: 1,
                        target: Target::Invalid {
                            status: 404,
                            body: "Gloo Gateway has invalid configuration.".into(),
                        },
                    }],
                    total_weight: 1,
                }),
            ),
        ],
        vec![],
    );
    let gateway = Gateway::start(config).await;
    let client = client();
    let reply = get(&client, &gateway, "h", "/direct").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (418, "short and stout")
    );
    let reply = get(&client, &gateway, "example.com:8080", "/old/page?a=1").await;
    assert_eq!(reply.status, 302);
    assert_eq!(
        reply.headers["location"],
        "https://example.com/new/page?a=1"
    );
    let reply = get(&client, &gateway, "h", "/invalid").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (404, "Gloo Gateway has invalid configuration.")
    );
}

#[tokio::test]
async fn matchers_select_by_header_query_and_method() {
    let direct = |text: &str| Action::DirectResponse {
        status: 200,
        body: text.into(),
    };
    let with = |f: &dyn Fn(&mut Matcher)| {
        let mut m = prefix("/");
        f(&mut m);
        m
    };
    let config = single(
        vec![
            route(
                "canary",
                with(&|m| {
                    m.headers = vec![HeaderMatch {
                        name: "stage".into(),
                        value: ValueMatch::Exact("canary".into()),
                        invert: false,
                    }]
                }),
                direct("canary"),
            ),
            route(
                "query",
                with(&|m| {
                    m.query = vec![QueryMatch {
                        name: "v".into(),
                        value: ValueMatch::Regex(Pattern::new("[0-9]+", true).unwrap()),
                    }]
                }),
                direct("query"),
            ),
            route(
                "post",
                with(&|m| m.methods = vec!["POST".into()]),
                direct("post"),
            ),
            route(
                "exact",
                Matcher {
                    path: PathMatch::Exact {
                        value: "/Exact".into(),
                        case_sensitive: false,
                    },
                    ..prefix("/")
                },
                direct("exact"),
            ),
            route(
                "regex",
                Matcher {
                    path: PathMatch::Regex(Pattern::new("/items/[0-9]+", true).unwrap()),
                    ..prefix("/")
                },
                direct("regex"),
            ),
        ],
        vec![],
    );
    let gateway = Gateway::start(config).await;
    let client = client();
    let request = |method: &str, path: &str, stage: Option<&str>| {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(gateway.url(path))
            .header("host", "h");
        if let Some(stage) = stage {
            builder = builder.header("stage", stage);
        }
        builder.body(empty()).unwrap()
    };
    let body = |request| {
        let client = &client;
        async move { send(client, request).await.body }
    };
    assert_eq!(body(request("GET", "/x", Some("canary"))).await, "canary");
    assert_eq!(body(request("GET", "/x?v=12", Some("prod"))).await, "query");
    assert_eq!(body(request("POST", "/x?v=1a", None)).await, "post");
    assert_eq!(body(request("GET", "/EXACT", None)).await, "exact");
    assert_eq!(body(request("GET", "/items/7", None)).await, "regex");
    assert_eq!(
        body(request("GET", "/items/7x", None)).await,
        "no route matched"
    );
}

#[tokio::test]
async fn prefix_rewrite_and_header_manipulation_apply() {
    let inspector = inspector().await;
    let mut rewritten = route("api", prefix("/api/"), to_cluster(0));
    rewritten.options = RouteOptions {
        prefix_rewrite: Some("/v2/".into()),
        request_headers_to_add: vec![HeaderToAdd {
            name: "x-team".into(),
            value: "echo".into(),
            append: false,
        }],
        request_headers_to_remove: vec!["x-secret".into()],
        response_headers_to_add: vec![HeaderToAdd {
            name: "x-served-by".into(),
            value: "lockgate".into(),
            append: true,
        }],
        response_headers_to_remove: vec!["content-type".into()],
        ..RouteOptions::default()
    };
    let config = single(vec![rewritten], vec![cluster("inspector", &[inspector])]);
    let gateway = Gateway::start(config).await;
    let request = http::Request::get(gateway.url("/api/users?id=1"))
        .header("host", "h")
        .header("x-secret", "s3cret")
        .header("x-team", "someone-else")
        .body(empty())
        .unwrap();
    let reply = send(&client(), request).await;
    assert!(
        reply.body.starts_with("GET /v2/users?id=1\n"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("x-team: echo\n"));
    assert!(!reply.body.contains("someone-else"));
    assert!(!reply.body.contains("x-secret"));
    assert_eq!(reply.headers["x-served-by"], "lockgate");
    assert!(!reply.headers.contains_key("content-type"));
}

#[tokio::test]
async fn an_inconsistent_configuration_answers_500_instead_of_panicking() {
    let config = single(
        vec![
            route("dangling", prefix("/dangling"), to_cluster(7)),
            route(
                "empty",
                prefix("/empty"),
                Action::Forward(Forward {
                    destinations: vec![],
                    total_weight: 0,
                }),
            ),
        ],
        vec![],
    );
    let gateway = Gateway::start(config).await;
    let client = client();
    assert_eq!(get(&client, &gateway, "h", "/dangling").await.status, 500);
    assert_eq!(get(&client, &gateway, "h", "/empty").await.status, 500);
    assert_eq!(
        get(&client, &gateway, "h", "/other").await.status,
        404,
        "still serving"
    );
}
