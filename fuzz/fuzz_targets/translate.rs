//! Translation of arbitrary resource sets: whatever of the input decodes is translated, twice
//! (the second time on top of the first's policy state). Must never panic or hang, and the same
//! snapshot must translate to the same configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockgate_api::{Document, Snapshot, decode_documents};
use lockgate_translate::{PolicyState, translate, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let resources = decode_documents(text)
        .into_iter()
        .filter_map(|document| match document {
            Ok(Document::Resource(resource)) => Some(resource),
            _ => None,
        });
    let snapshot = Snapshot::from_resources(resources);
    let first = translate(&snapshot, &PolicyState::default());
    let second = translate(&snapshot, &first.state);
    assert_eq!(first.config, second.config, "translation is not stable");
    let _ = validate(&snapshot);
});
