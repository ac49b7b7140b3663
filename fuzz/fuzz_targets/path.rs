//! Path normalisation: any text as a request path. Must never panic; a normalised path is
//! normal (normalising it again changes nothing) and has no dot segments or empty segments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockgate_proxy::EscapedSlashes;
use lockgate_proxy::fuzzing::normalise_path;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    for policy in [
        EscapedSlashes::Reject,
        EscapedSlashes::Keep,
        EscapedSlashes::Unescape,
    ] {
        let Ok(normal) = normalise_path(path, policy) else {
            continue;
        };
        assert!(
            normal.starts_with('/'),
            "{policy:?}: {path:?} -> {normal:?}"
        );
        assert_eq!(
            normalise_path(&normal, policy).as_deref(),
            Ok(normal.as_str()),
            "{policy:?}: not idempotent: {path:?}"
        );
        for segment in normal.split('/').skip(1) {
            assert!(
                segment != "." && segment != "..",
                "{policy:?}: {path:?} -> {normal:?}"
            );
        }
        assert!(!normal.contains("//"), "{policy:?}: {path:?} -> {normal:?}");
    }
});
