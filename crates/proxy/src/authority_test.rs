use super::*;

fn parts(version: Version, target: &str, hosts: &[&[u8]]) -> Parts {
    let mut builder = http::Request::get(target).version(version);
    for host in hosts {
        builder = builder.header(header::HOST, HeaderValue::from_bytes(host).unwrap());
    }
    builder.body(()).unwrap().into_parts().0
}

#[test]
fn authorities_are_checked_as_rfc_3986_hosts_with_ports() {
    let table: &[(&str, bool)] = &[
        ("a.example", true),
        ("a.example:8080", true),
        ("A-b_c~d.example:1", true),
        ("127.0.0.1:65535", true),
        ("[::1]", true),
        ("[::1]:80", true),
        ("", false),
        ("a b", false),
        ("a@b", false),
        ("user@a.example", false),
        ("a/../b", false),
        ("a\\b", false),
        ("a%2eexample", false),
        ("a,b", false),
        ("*", false),
        ("a.example:", false),
        ("a.example:65536", false),
        ("a.example:123456", false),
        ("a.example:8x", false),
        ("a.example:80:80", false),
        (":80", false),
        ("[::1", false),
        ("[v1.x]", false),
        ("[::1]x", false),
        ("a\tb", false),
        ("a\u{7f}b", false),
        ("\u{e9}.example", false),
    ];
    for (text, valid) in table {
        assert_eq!(is_valid_authority(text), *valid, "{text:?}");
    }
}

#[test]
fn the_host_header_routes_an_origin_form_request() {
    let p = parts(Version::HTTP_11, "/x", &[b"b.example"]);
    assert_eq!(
        routed(&p),
        Ok(Routed {
            authority: "b.example",
            rebuild_host: false
        })
    );
}

#[test]
fn an_absolute_form_target_wins_over_host_and_host_is_rebuilt() {
    let p = parts(Version::HTTP_11, "http://a.example/admin", &[b"b.example"]);
    assert_eq!(
        routed(&p),
        Ok(Routed {
            authority: "a.example",
            rebuild_host: true
        })
    );
    let p = parts(Version::HTTP_11, "http://a.example/admin", &[b"a.example"]);
    assert_eq!(routed(&p).map(|r| r.rebuild_host), Ok(false));
}

#[test]
fn refused_hosts() {
    let table: &[(Version, &str, &[&[u8]], AuthorityError)] = &[
        (
            Version::HTTP_11,
            "/",
            &[b"a", b"b"],
            AuthorityError::MultipleHost,
        ),
        (
            Version::HTTP_11,
            "/",
            &[b"a", b"a"],
            AuthorityError::MultipleHost,
        ),
        (Version::HTTP_11, "/", &[], AuthorityError::MissingHost),
        (
            Version::HTTP_11,
            "http://a.example/",
            &[],
            AuthorityError::MissingHost,
        ),
        (Version::HTTP_2, "/", &[], AuthorityError::MissingHost),
        (
            Version::HTTP_11,
            "/",
            &[b"a b"],
            AuthorityError::InvalidHost,
        ),
        (
            Version::HTTP_11,
            "/",
            &[b"a@b"],
            AuthorityError::InvalidHost,
        ),
        (
            Version::HTTP_11,
            "/",
            &[b"a/../b"],
            AuthorityError::InvalidHost,
        ),
        (Version::HTTP_11, "/", &[b""], AuthorityError::InvalidHost),
        (
            Version::HTTP_11,
            "/",
            &[b"a:99999"],
            AuthorityError::InvalidHost,
        ),
        (
            Version::HTTP_11,
            "/",
            &[b"a\tb"],
            AuthorityError::InvalidHost,
        ),
        (
            Version::HTTP_11,
            "/",
            &[b"\xe9.example"],
            AuthorityError::InvalidHost,
        ),
        (
            Version::HTTP_11,
            "http://a.example/",
            &[b"b c"],
            AuthorityError::InvalidHost,
        ),
        (
            Version::HTTP_11,
            "http://u@a.example/",
            &[b"a.example"],
            AuthorityError::InvalidAuthority,
        ),
        (
            Version::HTTP_2,
            "http://a.example/",
            &[b"b.example"],
            AuthorityError::Mismatch,
        ),
    ];
    for (version, target, hosts, error) in table {
        let p = parts(*version, target, hosts);
        assert_eq!(routed(&p), Err(*error), "{version:?} {target} {hosts:?}");
    }
}

#[test]
fn http2_authority_and_an_equal_host_agree() {
    let p = parts(Version::HTTP_2, "http://A.example/", &[b"a.EXAMPLE"]);
    assert_eq!(routed(&p).map(|r| r.authority), Ok("A.example"));
    let p = parts(Version::HTTP_2, "http://a.example/", &[]);
    assert_eq!(
        routed(&p),
        Ok(Routed {
            authority: "a.example",
            rebuild_host: true
        })
    );
}

#[test]
fn http_1_0_may_omit_host() {
    let p = parts(Version::HTTP_10, "/", &[]);
    assert_eq!(
        routed(&p),
        Ok(Routed {
            authority: "",
            rebuild_host: false
        })
    );
}
