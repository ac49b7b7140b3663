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
