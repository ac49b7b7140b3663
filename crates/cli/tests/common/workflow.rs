//! `workflow.yaml` of the seed, read rather than retyped: the steps and the expected answers.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::Backend;

#[derive(Debug, Clone)]
pub struct Workflow {
    pub setup: Vec<Step>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub enum Step {
    /// `kubectl apply -f FILE`.
    Apply {
        id: String,
        file: String,
    },
    /// `kubectl delete -f FILE`.
    Delete {
        id: String,
        file: String,
    },
    /// `kubectl patch settings default -n gloo-system --type merge --patch-file FILE`.
    Patch {
        id: String,
        file: String,
    },
    Curl(Curl),
    /// Helm installs, pod waits, shell lines: Kubernetes chores with no lockgate counterpart.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Curl {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub body: String,
}

impl fmt::Display for Curl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "curl")?;
        for (name, value) in &self.headers {
            write!(f, " -H \"{name}: {value}\"")?;
        }
        write!(f, " {} => {} {:?}", self.path, self.status, self.body)
    }
}

#[derive(Deserialize)]
struct RawWorkflow {
    #[serde(default)]
    setup: Vec<Value>,
    steps: Vec<Value>,
}

impl Workflow {
    pub fn read(seed_dir: &str) -> Workflow {
        let path = Path::new(seed_dir).join("workflow.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let raw: RawWorkflow = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        Workflow {
            setup: raw.setup.iter().map(Step::from_value).collect(),
            steps: raw.steps.iter().map(Step::from_value).collect(),
        }
    }

    /// The curls that follow step `index` until the next change: what must hold after it.
    pub fn curls_after(&self, index: usize) -> Vec<Curl> {
        self.steps[index + 1..]
            .iter()
            .take_while(|s| matches!(s, Step::Curl(_) | Step::Other))
            .filter_map(|s| match s {
                Step::Curl(curl) => Some(curl.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Step {
    fn from_value(value: &Value) -> Step {
        let id = value["id"].as_str().unwrap_or_default().to_string();
        let file = |action: &str| value[action]["path"].as_str().map(str::to_string);
        if let Some(file) = file("apply") {
            return Step::Apply { id, file };
        }
        if let Some(file) = file("delete") {
            return Step::Delete { id, file };
        }
        if let Some(file) = file("patch") {
            let patch = &value["patch"];
            assert_eq!(
                patch["kubeType"], "settings",
                "only Settings are patched: {value}"
            );
            assert_eq!(patch["patchType"], "merge", "only merge patches: {value}");
            return Step::Patch { id, file };
        }
        if let Some(curl) = value.get("curl") {
            let headers = curl["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            return Step::Curl(Curl {
                path: curl["path"].as_str().expect("curl.path").to_string(),
                headers,
                status: curl["statusCode"].as_u64().expect("curl.statusCode") as u16,
                body: curl["responseBody"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Step::Other
    }
}

/// The documents of one seed file, split into lockgate's resources and the Deployments of
/// http-echo they stand beside.
#[derive(Debug, Default)]
pub struct SeedFile {
    /// `(file name for the resource, YAML text)` for each lockgate resource.
    pub resources: Vec<(String, String)>,
    pub backends: Vec<Backend>,
}

impl SeedFile {
    pub fn read(seed_dir: &str, name: &str) -> SeedFile {
        let path = Path::new(seed_dir).join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut file = SeedFile::default();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
            if value.is_null() {
                continue;
            }
            let api_version = value["apiVersion"].as_str().unwrap_or_default();
            let kind = value["kind"].as_str().unwrap_or_default();
            let namespace = value["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = value["metadata"]["name"].as_str().unwrap_or_default();
            if api_version.contains("solo.io/") {
                let yaml = serde_yaml_ng::to_string(&value).expect("YAML");
                let file_name = format!("{}.{namespace}.{name}.yaml", kind.to_lowercase());
                file.resources.push((file_name, yaml));
            } else if kind == "Deployment" {
                file.backends.push(backend_of(&value, namespace, name));
            }
        }
        file
    }
}

/// An http-echo Deployment: its pod labels and its `-text=` argument.
fn backend_of(deployment: &Value, namespace: &str, name: &str) -> Backend {
    let template = &deployment["spec"]["template"];
    let labels: BTreeMap<String, String> = template["metadata"]["labels"]
        .as_object()
        .map(|l| {
            l.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let text = template["spec"]["containers"][0]["args"]
        .as_array()
        .and_then(|args| {
            args.iter()
                .filter_map(Value::as_str)
                .find_map(|a| a.strip_prefix("-text="))
        })
        .unwrap_or_else(|| panic!("deployment {namespace}.{name} has no -text= argument"))
        .to_string();
    Backend {
        namespace: namespace.into(),
        name: name.into(),
        labels,
        text,
    }
}
