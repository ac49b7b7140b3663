use super::*;

fn redirect() -> Redirect {
    Redirect {
        host: None,
        path: None,
        prefix_rewrite: None,
        port: None,
        status: 301,
        https: false,
        strip_query: false,
    }
}

fn origin<'a>(authority: &'a str, path: &'a str, query: Option<&'a str>) -> Origin<'a> {
    Origin {
        authority,
        path,
        query,
        rewritable_prefix: Some(4),
    }
}

#[test]
fn https_redirect_drops_the_port_and_keeps_path_and_query() {
    let r = Redirect {
        https: true,
        ..redirect()
    };
    assert_eq!(
        location(&r, &origin("example.com:8080", "/old/x", Some("a=1"))),
        "https://example.com/old/x?a=1"
    );
}

#[test]
fn host_port_and_path_replace_their_parts() {
    let r = Redirect {
        host: Some("new.example.com".into()),
        port: Some(9000),
        path: Some("/landing".into()),
        strip_query: true,
        ..redirect()
    };
    assert_eq!(
        location(&r, &origin("example.com:8080", "/old/x", Some("a=1"))),
        "http://new.example.com:9000/landing"
    );
    let r = Redirect {
        host: Some("other:81".into()),
        ..redirect()
    };
    assert_eq!(location(&r, &origin("h", "/p", None)), "http://other:81/p");
}

#[test]
fn prefix_rewrite_replaces_the_matched_prefix() {
    let r = Redirect {
        prefix_rewrite: Some("/new".into()),
        ..redirect()
    };
    assert_eq!(location(&r, &origin("h", "/old/x", None)), "http://h/new/x");
    let no_prefix = Origin {
        rewritable_prefix: None,
        ..origin("h", "/old/x", None)
    };
    assert_eq!(
        location(&r, &no_prefix),
        "http://h/old/x",
        "regex routes keep their path"
    );
}

#[test]
fn rewrite_merges_the_slash_between_rewrite_and_rest() {
    assert_eq!(rewrite_prefix("/app/x", 4, "/"), "/x");
    assert_eq!(rewrite_prefix("/app", 4, "/"), "/");
    assert_eq!(rewrite_prefix("/app/x", 4, "/v2"), "/v2/x");
    assert_eq!(rewrite_prefix("/app/x", 5, "/v2/"), "/v2/x");
    assert_eq!(rewrite_prefix("/appx", 4, "v2"), "/v2x");
}

#[test]
fn ipv6_authorities_keep_their_brackets() {
    assert_eq!(
        location(&redirect(), &origin("[::1]:8080", "/p", None)),
        "http://[::1]:8080/p"
    );
    let r = Redirect {
        https: true,
        ..redirect()
    };
    assert_eq!(
        location(&r, &origin("[::1]:8080", "/p", None)),
        "https://[::1]/p"
    );
}
