//! A route's header manipulation, typed at publish: removals first, then additions, as Envoy
//! does. A name or value that is not valid HTTP is left out here, once (the translator refuses
//! them; a configuration restored from disk is not trusted to have been translated by this
//! version), instead of being parsed and skipped on every request.

use http::{HeaderMap, HeaderName, HeaderValue};
use lockgate_compiled::HeaderToAdd;

#[derive(Default)]
pub(crate) struct HeaderOps {
    remove: Box<[HeaderName]>,
    add: Box<[(HeaderName, HeaderValue, bool)]>,
}

impl HeaderOps {
    pub(crate) fn build(remove: &[String], add: &[HeaderToAdd]) -> HeaderOps {
        HeaderOps {
            remove: remove
                .iter()
                .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
                .collect(),
            add: add
                .iter()
                .filter_map(|h| {
                    let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
                    let value = HeaderValue::from_str(&h.value).ok()?;
                    Some((name, value, h.append))
                })
                .collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value, append) in &self.add {
            if *append {
                headers.append(name.clone(), value.clone());
            } else {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(name: &str, value: &str, append: bool) -> HeaderToAdd {
        HeaderToAdd {
            name: name.into(),
            value: value.into(),
            append,
        }
    }

    #[test]
    fn removes_then_adds_or_replaces() {
        let mut headers = HeaderMap::new();
        headers.insert("x-old", HeaderValue::from_static("1"));
        headers.insert("x-replaced", HeaderValue::from_static("before"));
        headers.insert("x-appended", HeaderValue::from_static("first"));
        let ops = HeaderOps::build(
            &["x-old".into(), "x-new".into()],
            &[
                add("x-new", "added", false),
                add("x-replaced", "after", false),
                add("x-appended", "second", true),
            ],
        );
        ops.apply(&mut headers);
        assert!(headers.get("x-old").is_none());
        // Removals come first, so a header both removed and added ends up added.
        assert_eq!(headers["x-new"], "added");
        assert_eq!(headers["x-replaced"], "after");
        let appended: Vec<_> = headers.get_all("x-appended").iter().collect();
        assert_eq!(appended, ["first", "second"]);
    }

    #[test]
    fn invalid_names_and_values_are_left_out_once() {
        let ops = HeaderOps::build(
            &["bad name".into()],
            &[
                add("x-ok", "fine", false),
                add("bad name", "v", false),
                add("x-bad", "a\nb", false),
            ],
        );
        let mut headers = HeaderMap::new();
        ops.apply(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-ok"], "fine");
        assert!(HeaderOps::build(&[], &[]).is_empty());
    }
}
