//! Golden test: every state of the seed's two-phased canary workflow, translated.
//!
//! The workflow (`shared/seed/two-phased-canary/workflow.yaml`) is replayed step by step:
//! lockgate resources are applied as they are, each Deployment becomes an Endpoint resource
//! (labels from its pod template, a port per deployment), the settings patches are merged into
//! Settings `gloo-system.default`. After every step the translation (reports and compiled routes)
//! is checked against a snapshot file, and every `curl` step of the workflow is answered by
//! evaluating the compiled routes, so the expected bodies are checked too.

use std::collections::BTreeMap;
use std::fmt::Write;

use lockgate_api::{
    Document, Endpoint, EndpointSpec, Kind, ObjectMeta, Resource, ResourceKey, Settings, Snapshot,
};
use lockgate_compiled::{Action, CompiledConfig, PathMatch, Target, ValueMatch};
use lockgate_translate::{PolicyState, translate};
use serde_yaml_ng::Value;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../seed/two-phased-canary");

/// A Deployment of the seed, as lockgate runs it: an echo backend and its Endpoint.
struct Deployment {
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    text: String,
}

fn port_of(deployment: &str) -> u16 {
    match deployment {
        "echo-v1" => 10001,
        "echo-v2" => 10002,
        "foxtrot-v1" => 10003,
        "foxtrot-v2" => 10004,
        other => panic!("unknown deployment {other}"),
    }
}

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{SEED}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The lockgate resources and the deployments a seed file holds.
fn load(file: &str) -> (Vec<Resource>, Vec<Deployment>) {
    let text = read(file);
    let mut resources = Vec::new();
    for doc in lockgate_api::decode_documents(&text) {
        if let Document::Resource(r) = doc.unwrap_or_else(|e| panic!("{file}: {e}")) {
            resources.push(r);
        }
    }
    let mut deployments = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(doc).unwrap();
        if value["kind"].as_str() != Some("Deployment") {
            continue;
        }
        let template = &value["spec"]["template"];
        let labels = serde_yaml_ng::from_value(template["metadata"]["labels"].clone()).unwrap();
        let args = template["spec"]["containers"][0]["args"]
            .as_sequence()
            .unwrap();
        let text = args
            .iter()
            .find_map(|a| a.as_str()?.strip_prefix("-text="))
            .unwrap()
            .to_string();
        deployments.push(Deployment {
            namespace: value["metadata"]["namespace"].as_str().unwrap().into(),
            name: value["metadata"]["name"].as_str().unwrap().into(),
            labels,
            text,
        });
    }
    (resources, deployments)
}

fn endpoint(d: &Deployment) -> Resource {
    Resource::Endpoint(Endpoint {
        api_version: "gloo.solo.io/v1".into(),
        kind: "Endpoint".into(),
        metadata: ObjectMeta {
            name: d.name.clone(),
            namespace: d.namespace.clone(),
            labels: d.labels.clone(),
            ..Default::default()
        },
        spec: EndpointSpec {
            upstreams: vec![],
            address: "127.0.0.1".into(),
            port: port_of(&d.name),
        },
        status: None,
    })
}

/// JSON merge patch (RFC 7386) of `patch` into `target`.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// What the gateway answers for a request, read off the compiled configuration: `(status, body)`.
fn answer(
    config: &CompiledConfig,
    texts: &BTreeMap<u16, String>,
    path: &str,
    headers: &BTreeMap<String, String>,
) -> (u16, String) {
    let Some(vh) = config.virtual_host("gateway-proxy") else {
        return (404, "no virtual host".into());
    };
    for route in &vh.routes {
        let m = &route.matcher;
        let path_ok = match &m.path {
            PathMatch::Prefix { value, .. } => path.starts_with(value.as_str()),
            PathMatch::Exact { value, .. } => path == value,
            PathMatch::Regex(p) => p.is_match(path),
        };
        let headers_ok = m.headers.iter().all(|h| {
            let got = headers.get(&h.name);
            let hit = match &h.value {
                ValueMatch::Present => got.is_some(),
                ValueMatch::Exact(v) => got == Some(v),
                ValueMatch::Regex(p) => got.is_some_and(|g| p.is_match(g)),
            };
            hit != h.invert
        });
        if !(path_ok && headers_ok && m.query.is_empty() && m.methods.is_empty()) {
            continue;
        }
        return match &route.action {
            Action::DirectResponse { status, body } => (*status, body.clone()),
            Action::Redirect(r) => (r.status, String::new()),
            Action::Forward(f) => {
                // The workflow's curls expect one answer: every destination with weight must agree.
                let answers: Vec<(u16, String)> = f
                    .destinations
                    .iter()
                    .filter(|d| d.weight > 0)
                    .map(|d| match &d.target {
                        Target::Invalid { status, body } => (*status, body.clone()),
                        Target::Cluster(id) => {
                            let eps = &config.cluster(*id).endpoints;
                            let bodies: Vec<&String> =
                                eps.iter().filter_map(|a| texts.get(&a.port())).collect();
                            match bodies.as_slice() {
                                [] => (503, "no endpoints".into()),
                                [one] => (200, (*one).clone()),
                                many => panic!(
                                    "{} endpoints answer differently: {many:?}",
                                    config.cluster(*id).key
                                ),
                            }
                        }
                    })
                    .collect();
                assert!(
                    answers.windows(2).all(|w| w[0] == w[1]),
                    "destinations disagree: {answers:?}"
                );
                answers
                    .into_iter()
                    .next()
                    .unwrap_or((503, "no destination".into()))
            }
        };
    }
    (404, "no route".into())
}

/// A readable rendering of one translation: reports of every resource, then the served routes.
fn dump(snapshot: &Snapshot, outcome: &lockgate_translate::Outcome) -> String {
    let mut out = String::new();
    writeln!(out, "reports:").unwrap();
    for (key, report) in outcome.reports.iter() {
        if key.kind == Kind::Endpoint || (key.kind == Kind::Settings && report.problems.is_empty())
        {
            continue;
        }
        writeln!(out, "  {key}: {}", report.state()).unwrap();
        for reason in report.reasons() {
            writeln!(out, "    - {reason}").unwrap();
        }
    }
    let policy = &snapshot.settings.spec.gloo.invalid_config_policy;
    writeln!(
        out,
        "policy: replaceInvalidRoutes={} keepLastValid={}",
        policy.replace_invalid_routes(),
        policy.keep_last_valid()
    )
    .unwrap();
    writeln!(out, "served:").unwrap();
    for vh in &outcome.config.virtual_hosts {
        writeln!(out, "  {} {:?}", vh.name, vh.domains).unwrap();
        for r in &vh.routes {
            let m = &r.matcher;
            let path = match &m.path {
                PathMatch::Prefix { value, .. } => format!("prefix {value}"),
                PathMatch::Exact { value, .. } => format!("exact {value}"),
                PathMatch::Regex(p) => format!("regex {}", p.as_str()),
            };
            let headers: Vec<String> = m
                .headers
                .iter()
                .map(|h| format!("{}={:?}", h.name, h.value))
                .collect();
            let action = match &r.action {
                Action::DirectResponse { status, body } => format!("direct {status} {body:?}"),
                Action::Redirect(rd) => format!("redirect {}", rd.status),
                Action::Forward(f) => f
                    .destinations
                    .iter()
                    .map(|d| match &d.target {
                        Target::Cluster(id) => {
                            let c = outcome.config.cluster(*id);
                            let eps: Vec<String> =
                                c.endpoints.iter().map(|e| e.to_string()).collect();
                            format!("{}x {} {eps:?}", d.weight, c.key)
                        }
                        Target::Invalid { status, .. } => {
                            format!("{}x invalid({status})", d.weight)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" + "),
            };
            writeln!(out, "    {path} {headers:?} -> {action}   # {}", r.origin).unwrap();
        }
    }
    out
}

/// Replays the workflow; `settings_override` replaces the workflow's settings patch (for the
/// keepLastValid variant). Returns the number of curls checked.
fn replay(
    name: &str,
    settings_override: Option<&str>,
    expectations: &dyn Fn(usize, &str, u16, &str) -> Option<(u16, String)>,
) -> usize {
    let workflow: Value = serde_yaml_ng::from_str(&read("workflow.yaml")).unwrap();
    let mut snapshot = Snapshot::default();
    let mut state = PolicyState::default();
    let mut texts: BTreeMap<u16, String> = BTreeMap::new();
    let mut outcome = translate(&snapshot, &state);
    let mut curls = 0;
    for (index, step) in workflow["steps"].as_sequence().unwrap().iter().enumerate() {
        let id = step["id"].as_str().unwrap_or("curl").to_string();
        let changed = if let Some(file) = step["apply"]["path"].as_str() {
            let (resources, deployments) = load(file);
            for r in resources {
                snapshot.insert(r);
            }
            for d in &deployments {
                texts.insert(port_of(&d.name), d.text.clone());
                snapshot.insert(endpoint(d));
            }
            true
        } else if let Some(file) = step["delete"]["path"].as_str() {
            let (resources, deployments) = load(file);
            for r in resources {
                snapshot.remove(&r.key());
            }
            for d in &deployments {
                texts.remove(&port_of(&d.name));
                snapshot.remove(&ResourceKey::new(Kind::Endpoint, &d.namespace, &d.name));
            }
            true
        } else if let Some(file) = step["patch"]["path"].as_str() {
            let text = settings_override
                .map(str::to_string)
                .unwrap_or_else(|| read(file));
            let patch: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
            let mut current = serde_json::to_value(&snapshot.settings).unwrap();
            merge(&mut current, &patch);
            let settings: Settings = serde_json::from_value(current).unwrap();
            snapshot.insert(Resource::Settings(settings));
            true
        } else {
            false
        };
        if changed {
            outcome = translate(&snapshot, &state);
            state = outcome.state.clone();
            insta::assert_snapshot!(format!("{name}-{index:02}-{id}"), dump(&snapshot, &outcome));
        }
        if let Some(curl) = step.get("curl") {
            let path = curl["path"].as_str().unwrap();
            let headers: BTreeMap<String, String> = curl["headers"]
                .as_mapping()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().unwrap().to_string(),
                                v.as_str().unwrap().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let status = curl["statusCode"].as_u64().unwrap() as u16;
            let body = curl["responseBody"].as_str().unwrap();
            let (want_status, want_body) =
                expectations(index, path, status, body).unwrap_or((status, body.to_string()));
            let got = answer(&outcome.config, &texts, path, &headers);
            assert_eq!(
                got,
                (want_status, want_body),
                "{name}: step {index} curl {path} {headers:?}"
            );
            curls += 1;
        }
    }
    curls
}

#[test]
fn seed_workflow_under_gloo_policies() {
    let curls = replay("gloo", None, &|_, _, _, _| None);
    assert_eq!(curls, 23, "every curl of the workflow was checked");
}

#[test]
fn seed_workflow_under_keep_last_valid() {
    // With keepLastValid instead of replaceInvalidRoutes, echo's canary keeps answering v2 from
    // echo's last valid route table (rt-echo-2) instead of the invalid-route response, while
    // foxtrot moves on to v2.
    let patch = "spec:\n  gloo:\n    invalidConfigPolicy:\n      keepLastValid: true\n";
    let curls = replay("keep-last-valid", Some(patch), &|_, path, status, _| {
        (path == "/echo" && status == 404).then(|| (200, "version:echo-v2".to_string()))
    });
    assert_eq!(curls, 23);
}
