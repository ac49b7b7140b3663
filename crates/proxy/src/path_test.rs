use super::*;

fn norm(path: &str) -> String {
    normalise(path).unwrap().into_owned()
}

#[test]
fn normal_paths_are_borrowed() {
    for path in ["/", "/echo", "/echo/", "/a/b.c/..d/.e", "/a..", "/..a/b"] {
        assert!(matches!(normalise(path), Ok(Cow::Borrowed(_))), "{path}");
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
fn encoded_slash_stays_encoded_and_other_escapes_get_upper_case_hex() {
    assert_eq!(norm("/a%2Fb"), "/a%2Fb");
    assert_eq!(norm("/a%2fb"), "/a%2Fb");
    assert_eq!(norm("/a%2F..%2Fb"), "/a%2F..%2Fb");
    assert_eq!(norm("/a%20b/%c3%a9"), "/a%20b/%C3%A9");
}

#[test]
fn invalid_escapes_and_relative_paths_are_refused() {
    assert_eq!(normalise("/a%"), Err(PathError::InvalidPercentEncoding));
    assert_eq!(normalise("/a%2"), Err(PathError::InvalidPercentEncoding));
    assert_eq!(normalise("/a%zz"), Err(PathError::InvalidPercentEncoding));
    assert_eq!(normalise("*"), Err(PathError::NotAbsolute));
    assert_eq!(normalise(""), Err(PathError::NotAbsolute));
}

#[test]
fn normalising_twice_changes_nothing() {
    for path in ["/foxtrot/../echo", "//a//b/./c/..", "/%2e%2E/x%2f", "/a/b/"] {
        let once = norm(path);
        assert_eq!(norm(&once), once, "{path}");
    }
}
