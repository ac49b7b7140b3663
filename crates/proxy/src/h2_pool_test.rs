use super::*;

fn request(uri: &str, host: Option<&str>) -> Request<RequestBody> {
    let mut request = Request::new(RequestBody::Empty);
    *request.uri_mut() = uri.parse().unwrap();
    *request.version_mut() = Version::HTTP_11;
    if let Some(host) = host {
        request
            .headers_mut()
            .insert(header::HOST, host.parse().unwrap());
    }
    request
}

fn endpoint() -> SocketAddr {
    "127.0.0.1:9000".parse().unwrap()
}

#[test]
fn the_host_header_becomes_the_authority_and_goes() {
    let out = absolute(
        request("/pkg.Service/Call?x=1", Some("grpc.example.com:8080")),
        endpoint(),
    )
    .unwrap();
    assert_eq!(
        out.uri().to_string(),
        "http://grpc.example.com:8080/pkg.Service/Call?x=1"
    );
    assert_eq!(out.version(), Version::HTTP_2);
    assert!(out.headers().get(header::HOST).is_none());
}

#[test]
fn without_a_usable_host_the_endpoint_is_the_authority() {
    let out = absolute(request("/", None), endpoint()).unwrap();
    assert_eq!(out.uri().to_string(), "http://127.0.0.1:9000/");
    let out = absolute(request("/a", Some("bad host")), "[::1]:81".parse().unwrap()).unwrap();
    assert_eq!(out.uri().to_string(), "http://[::1]:81/a");
    assert!(out.headers().get(header::HOST).is_none());
}

#[test]
fn refused_streams_count_as_lost_to_a_close_and_other_resets_do_not() {
    assert!(unprocessed(&h2::Error::from(h2::Reason::REFUSED_STREAM)));
    assert!(!unprocessed(&h2::Error::from(h2::Reason::INTERNAL_ERROR)));
    assert!(!unprocessed(&h2::Error::from(h2::Reason::CANCEL)));
}
