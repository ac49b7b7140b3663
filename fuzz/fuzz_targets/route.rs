//! The route matcher: the input is resources (YAML), then after a line `=== requests`, one
//! request per line: `METHOD TARGET AUTHORITY [NAME:VALUE]...`. The resources are translated and
//! every request matched against the result. Must never panic or hang; the match must not
//! depend on anything but the request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockgate_api::{Document, Snapshot, decode_documents};
use lockgate_proxy::EscapedSlashes;
use lockgate_proxy::fuzzing::match_route;
use lockgate_translate::{PolicyState, translate};

/// Translations this large take the fuzzer's time without finding more.
const MAX_REQUESTS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (resources, requests) = text.split_once("=== requests\n").unwrap_or((text, ""));
    let resources = decode_documents(resources)
        .into_iter()
        .filter_map(|document| match document {
            Ok(Document::Resource(resource)) => Some(resource),
            _ => None,
        });
    let outcome = translate(
        &Snapshot::from_resources(resources),
        &PolicyState::default(),
    );
    for line in requests.lines().take(MAX_REQUESTS) {
        let mut words = line.split(' ');
        let (Some(method), Some(target), Some(authority)) =
            (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let headers: Vec<(String, String)> = words
            .filter_map(|w| w.split_once(':'))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        for policy in [
            EscapedSlashes::Reject,
            EscapedSlashes::Keep,
            EscapedSlashes::Unescape,
        ] {
            let first = match_route(&outcome.config, method, target, authority, &headers, policy);
            let again = match_route(&outcome.config, method, target, authority, &headers, policy);
            assert_eq!(first, again, "{policy:?}: {line:?}");
        }
    }
});
