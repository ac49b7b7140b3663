use super::*;

fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_static(value));
    }
    headers
}

#[test]
fn hop_by_hop_headers_and_those_named_by_connection_are_removed() {
    let mut headers = map(&[
        ("connection", "keep-alive, x-secret"),
        ("connection", "X-Other"),
        ("x-secret", "1"),
        ("x-other", "2"),
        ("keep-alive", "timeout=5"),
        ("proxy-connection", "keep-alive"),
        ("te", "trailers"),
        ("trailer", "x-sum"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("x-kept", "3"),
    ]);
    remove_hop_by_hop(&mut headers);
    let names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, vec!["x-kept"]);
}

#[test]
fn forwarded_for_appends_and_proto_is_set() {
    let ip = HeaderValue::from_static("10.0.0.2");
    let mut headers = map(&[("x-forwarded-proto", "https")]);
    set_forwarded(&mut headers, &ip);
    assert_eq!(headers["x-forwarded-for"], "10.0.0.2");
    assert_eq!(headers["x-forwarded-proto"], "http");

    let mut headers = map(&[("x-forwarded-for", "1.2.3.4")]);
    set_forwarded(&mut headers, &ip);
    assert_eq!(headers["x-forwarded-for"], "1.2.3.4, 10.0.0.2");
}

#[test]
fn request_id_is_generated_only_when_absent() {
    let ip = HeaderValue::from_static("127.0.0.1");
    let mut headers = map(&[("x-request-id", "given")]);
    set_forwarded(&mut headers, &ip);
    assert_eq!(headers["x-request-id"], "given");

    let mut a = HeaderMap::new();
    let mut b = HeaderMap::new();
    set_forwarded(&mut a, &ip);
    set_forwarded(&mut b, &ip);
    let id = a["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "version 4: {id}");
    assert!(
        matches!(&id[19..20], "8" | "9" | "a" | "b"),
        "variant: {id}"
    );
    assert_eq!(id.matches('-').count(), 4);
    assert_ne!(a["x-request-id"], b["x-request-id"]);
}

#[test]
fn manipulation_removes_then_adds_or_replaces() {
    let mut headers = map(&[("x-a", "1"), ("x-b", "2"), ("x-gone", "3")]);
    manipulate(
        &mut headers,
        &["x-gone".into()],
        &[
            HeaderToAdd {
                name: "x-a".into(),
                value: "9".into(),
                append: false,
            },
            HeaderToAdd {
                name: "x-b".into(),
                value: "8".into(),
                append: true,
            },
            HeaderToAdd {
                name: "bad name".into(),
                value: "x".into(),
                append: true,
            },
        ],
    );
    assert_eq!(headers.get_all("x-a").iter().collect::<Vec<_>>(), ["9"]);
    assert_eq!(
        headers.get_all("x-b").iter().collect::<Vec<_>>(),
        ["2", "8"]
    );
    assert!(!headers.contains_key("x-gone"));
    assert_eq!(headers.len(), 3);
}

#[test]
fn split_cookies_are_joined_for_http1() {
    let mut headers = map(&[("cookie", "a=1"), ("cookie", "b=2")]);
    join_cookies(&mut headers);
    assert_eq!(
        headers.get_all("cookie").iter().collect::<Vec<_>>(),
        ["a=1; b=2"]
    );
}

#[test]
fn expect_continue_is_answered_here_not_forwarded() {
    let mut headers = map(&[("expect", "100-Continue"), ("x", "1")]);
    remove_expect_continue(&mut headers);
    assert!(!headers.contains_key("expect"));
    let mut headers = map(&[("expect", "something-else")]);
    remove_expect_continue(&mut headers);
    assert!(headers.contains_key("expect"));
}

#[test]
fn head_bytes_counts_method_target_names_and_values() {
    let (parts, ()) = http::Request::get("/abc?d")
        .header("host", "h")
        .header("x-a", "12345")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(head_bytes(&parts), 3 + 6 + (4 + 1) + (3 + 5));
    let (parts, ()) = http::Request::get("http://a.example/")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(head_bytes(&parts), 3 + 1 + 9);
}

#[test]
fn te_asks_for_trailers_only_when_it_lists_them() {
    assert!(asks_for_trailers(&map(&[("te", "trailers")])));
    assert!(asks_for_trailers(&map(&[("te", "gzip;q=0.5, Trailers")])));
    assert!(asks_for_trailers(&map(&[
        ("te", "gzip"),
        ("te", "trailers")
    ])));
    assert!(!asks_for_trailers(&map(&[("te", "gzip, deflate")])));
    assert!(!asks_for_trailers(&map(&[("te", "trailersx")])));
    assert!(!asks_for_trailers(&map(&[])));
}
