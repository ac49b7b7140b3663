use super::*;

fn norm(path: &str) -> String {
    norm_with(path, EscapedSlashes::Reject)
}

fn norm_with(path: &str, policy: EscapedSlashes) -> String {
    normalise(path, policy).unwrap().into_owned()
}

#[test]
fn normal_paths_are_borrowed() {
    for path in ["/", "/echo", "/echo/", "/a/b.c/..d/.e", "/a..", "/..a/b"] {
        assert!(
            matches!(
                normalise(path, EscapedSlashes::Reject),
                Ok(Cow::Borrowed(_))
            ),
            "{path}"
        );
    }
}

#[test]
fn dot_segments_are_removed() {
    assert_eq!(norm("/foxtrot/../echo"), "/echo");
    assert_eq!(norm("/a/./b"), "/a/b");
    assert_eq!(norm("/a/b/.."), "/a/");
    assert_eq!(norm("/a/b/."), "/a/b/");
    assert_eq!(norm("/a/b/../../c"), "/c");
}

#[test]
fn dot_segments_above_the_root_clamp_to_the_root() {
    assert_eq!(norm("/.."), "/");
    assert_eq!(norm("/../../etc/passwd"), "/etc/passwd");
    assert_eq!(norm("/a/../../b"), "/b");
}

#[test]
fn duplicate_slashes_merge() {
    assert_eq!(norm("//a"), "/a");
    assert_eq!(norm("/a//b///c"), "/a/b/c");
    assert_eq!(norm("/a//"), "/a/");
    assert_eq!(norm("//"), "/");
}

#[test]
fn unreserved_escapes_are_decoded_before_dot_segments() {
    assert_eq!(norm("/%65cho"), "/echo");
    assert_eq!(norm("/%7Euser/%2d_%2E"), "/~user/-_.");
    assert_eq!(norm("/foxtrot/%2E%2E/echo"), "/echo");
    assert_eq!(norm("/foxtrot/%2e./echo"), "/echo");
}

#[test]
fn other_escapes_get_upper_case_hex() {
    assert_eq!(norm("/a%20b/%c3%a9"), "/a%20b/%C3%A9");
    assert_eq!(norm("/a%252Fb"), "/a%252Fb", "a double escape is data");
}

#[test]
fn escaped_slashes_and_backslashes_follow_the_policy() {
    use EscapedSlashes::*;
    // (path, reject, keep, unescape); None is a refusal.
    let table: &[(&str, Option<&str>, &str, &str)] = &[
        ("/a%2Fb", None, "/a%2Fb", "/a/b"),
        ("/a%2fb", None, "/a%2Fb", "/a/b"),
        ("/a%5Cb", None, "/a%5Cb", "/a/b"),
        ("/a%5cb", None, "/a%5Cb", "/a/b"),
        ("/a\\b", None, "/a\\b", "/a/b"),
        ("/a%2F..%2Fb", None, "/a%2F..%2Fb", "/b"),
        (
            "/foxtrot%2F..%2Fecho",
            None,
            "/foxtrot%2F..%2Fecho",
            "/echo",
        ),
        ("/foxtrot\\..\\echo", None, "/foxtrot\\..\\echo", "/echo"),
        ("/a%2F%2Fb", None, "/a%2F%2Fb", "/a/b"),
        ("/a/b", Some("/a/b"), "/a/b", "/a/b"),
    ];
    for (path, reject, keep, unescape) in table {
        match reject {
            None => assert_eq!(
                normalise(path, Reject),
                Err(PathError::EscapedSlash),
                "{path}"
            ),
            Some(expected) => assert_eq!(norm_with(path, Reject), *expected, "{path}"),
        }
        assert_eq!(norm_with(path, Keep), *keep, "keep {path}");
        assert_eq!(norm_with(path, Unescape), *unescape, "unescape {path}");
    }
}

#[test]
fn policy_names_round_trip() {
    for name in EscapedSlashes::NAMES {
        assert_eq!(name.parse::<EscapedSlashes>().unwrap().to_string(), name);
    }
    assert!("Reject".parse::<EscapedSlashes>().is_err());
}

#[test]
fn invalid_escapes_and_relative_paths_are_refused() {
    for policy in [
        EscapedSlashes::Reject,
        EscapedSlashes::Keep,
        EscapedSlashes::Unescape,
    ] {
        assert_eq!(
            normalise("/a%", policy),
            Err(PathError::InvalidPercentEncoding)
        );
        assert_eq!(
            normalise("/a%2", policy),
            Err(PathError::InvalidPercentEncoding)
        );
        assert_eq!(
            normalise("/a%zz", policy),
            Err(PathError::InvalidPercentEncoding)
        );
        assert_eq!(normalise("*", policy), Err(PathError::NotAbsolute));
        assert_eq!(normalise("", policy), Err(PathError::NotAbsolute));
    }
}

#[test]
fn normalising_twice_changes_nothing() {
    for policy in [EscapedSlashes::Keep, EscapedSlashes::Unescape] {
        for path in [
            "/foxtrot/../echo",
            "//a//b/./c/..",
            "/%2e%2E/x%2f",
            "/a/b/",
            "/a\\%5c/..",
        ] {
            let once = norm_with(path, policy);
            assert_eq!(norm_with(&once, policy), once, "{policy} {path}");
        }
    }
}
