//! Bounds on what one text or body may ask of the decoder, checked with a cost linear in the
//! input before the real decoding starts.
//!
//! The YAML decoder (libyaml underneath `serde_yaml_ng`) spends time proportional to the flow
//! nesting depth on every token, so a 200 KB body of `[` took 23 s before it was refused. The
//! depth is therefore measured first with `saphyr-parser`'s streaming event parser, which stops
//! at the first event past the limit: the deepest it ever nests is the limit itself, so the
//! pre-scan stays linear whatever the input. JSON bodies are parsed by `serde_json` (linear, with
//! its own recursion limit of 128) and then measured.

use serde_json::Value;

/// The limits of one decoding. [`Limits::default`] is what the admin API, `lockgate validate`,
/// `lockgate apply` and the watched directory use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one text (a file, or an admin API body).
    pub max_bytes: usize,
    /// Nesting of mappings and sequences: `{"a": [1]}` is 2 deep.
    pub max_depth: usize,
    /// Routes of one VirtualService (`spec.virtualHost.routes`) or RouteTable (`spec.routes`).
    pub max_routes: usize,
}

/// 8 MiB: a 10,000-route table in JSON is about 2 MiB; the benchmarks' tables have 1,000.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;
/// 64: the deepest Gloo resource nests about 10 levels (`spec.routes[].matchers[].headers[]`).
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// 10,000: ten times the largest table of the benchmarks; split bigger ones with delegation.
pub const DEFAULT_MAX_ROUTES: usize = 10_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_routes: DEFAULT_MAX_ROUTES,
        }
    }
}

/// What the pre-scan of a YAML text found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanProblem {
    TooLarge(String),
    /// `document` is 1-based, like [`crate::DecodeError::document`].
    TooDeep {
        document: usize,
        message: String,
    },
    /// Not YAML to the pre-scan; `message` says where.
    Syntax {
        document: usize,
        message: String,
    },
}

impl Limits {
    pub(crate) fn size_problem(&self, bytes: usize) -> Option<String> {
        (bytes > self.max_bytes).then(|| {
            format!(
                "{bytes} bytes: more than the limit of {} bytes",
                self.max_bytes
            )
        })
    }

    fn depth_message(&self, line: usize, column: usize) -> String {
        format!(
            "nested deeper than the limit of {} levels (at line {line} column {column}): refused before decoding",
            self.max_depth
        )
    }

    /// Checks the size and nesting depth of a YAML (or JSON) text in one linear pass.
    pub(crate) fn scan_yaml(&self, text: &str) -> Result<(), ScanProblem> {
        use saphyr_parser::{Event, Parser};
        if let Some(problem) = self.size_problem(text.len()) {
            return Err(ScanProblem::TooLarge(problem));
        }
        let (mut document, mut depth) = (0usize, 0usize);
        for event in Parser::new_from_str(text) {
            let (event, span) = match event {
                Ok(event) => event,
                // The scanner's own bound (255 flow levels), reached before the parser emits
                // events when one line opens them all.
                Err(err) if err.info() == "recursion limit exceeded" => {
                    let (line, column) = (err.marker().line(), err.marker().col() + 1);
                    return Err(ScanProblem::TooDeep {
                        document: document.max(1),
                        message: self.depth_message(line, column),
                    });
                }
                Err(err) => {
                    let message = format!(
                        "{} at line {} column {}",
                        err.info(),
                        err.marker().line(),
                        err.marker().col() + 1
                    );
                    return Err(ScanProblem::Syntax {
                        document: document.max(1),
                        message,
                    });
                }
            };
            match event {
                Event::DocumentStart(_) => document += 1,
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    depth += 1;
                    if depth > self.max_depth {
                        let (line, column) = (span.start.line(), span.start.col() + 1);
                        return Err(ScanProblem::TooDeep {
                            document: document.max(1),
                            message: self.depth_message(line, column),
                        });
                    }
                }
                Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
                Event::StreamEnd => break,
                _ => {}
            }
        }
        Ok(())
    }

    /// The nesting depth of a decoded value, measured without recursion.
    pub(crate) fn value_depth_problem(&self, value: &Value) -> Option<String> {
        let mut stack = vec![(value, 0usize)];
        while let Some((value, depth)) = stack.pop() {
            let children: Box<dyn Iterator<Item = &Value>> = match value {
                Value::Array(items) => Box::new(items.iter()),
                Value::Object(map) => Box::new(map.values()),
                _ => continue,
            };
            let depth = depth + 1;
            if depth > self.max_depth {
                return Some(format!(
                    "nested deeper than the limit of {} levels",
                    self.max_depth
                ));
            }
            stack.extend(children.map(|child| (child, depth)));
        }
        None
    }

    /// The route list that is too long, as `(field path, message)`.
    pub(crate) fn routes_problem(&self, value: &Value) -> Option<(String, String)> {
        for (pointer, path) in [
            ("/spec/routes", "spec.routes"),
            ("/spec/virtualHost/routes", "spec.virtualHost.routes"),
        ] {
            let Some(Value::Array(routes)) = value.pointer(pointer) else {
                continue;
            };
            if routes.len() > self.max_routes {
                return Some((
                    path.to_string(),
                    format!(
                        "{} routes: more than the limit of {} routes per resource (split them into route tables with delegateAction)",
                        routes.len(),
                        self.max_routes
                    ),
                ));
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "limits_test.rs"]
mod tests;
