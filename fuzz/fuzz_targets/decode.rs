//! Resource decoding: any bytes, as a YAML/JSON file and as a JSON body. Must never panic or
//! hang; whatever decodes must encode to a document that decodes, and is stable from then on
//! (the first encoding drops what lockgate ignores, such as `metadata.uid`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockgate_api::{Document, Limits, decode_documents, decode_value, parse_json};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for document in decode_documents(text) {
            if let Ok(Document::Resource(resource)) = document {
                let Ok(Document::Resource(once)) = decode_value(resource.to_json()) else {
                    panic!("{resource:?} does not decode again");
                };
                let twice = decode_value(once.to_json());
                assert!(
                    matches!(&twice, Ok(Document::Resource(r)) if *r == once),
                    "{once:?} does not round-trip: {twice:?}"
                );
            }
        }
    }
    if let Ok(value) = parse_json(data, &Limits::default()) {
        let _ = decode_value(value);
    }
});
