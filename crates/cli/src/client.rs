//! The admin API client: Kubernetes-style resource paths, bearer tokens, and the server's
//! `Status` errors turned into messages for people.

use std::fmt;
use std::time::Duration;

use lockgate_api::Kind;
use reqwest::StatusCode;
use reqwest::blocking::{RequestBuilder, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::output::ResourceReport;

/// Where the admin API is, and who is asking.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// The admin API of the gateway.
    #[arg(long, env = "LOCKGATE_SERVER", default_value = "http://127.0.0.1:9901")]
    pub(crate) server: String,
    /// Bearer token, when the gateway runs with --auth-file.
    #[arg(long, env = "LOCKGATE_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error(
        "cannot reach the lockgate admin API at {server}: {cause}\n\
         Is the gateway running? Start one with `lockgate serve`, or point --server (or \
         LOCKGATE_SERVER) at its --admin address."
    )]
    Unreachable { server: String, cause: String },
    #[error("request to {url} failed: {cause}")]
    Transport { url: String, cause: String },
    /// A Kubernetes `Status` (or any non-success answer) from the server.
    #[error("{0}")]
    Server(ServerError),
    #[error("unexpected answer from {url}: {cause}")]
    Answer { url: String, cause: String },
}

/// An error answer, shown the way kubectl shows one: `Error from server (Invalid): ...`.
#[derive(Debug, Clone)]
pub(crate) struct ServerError {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) message: String,
    pub(crate) problems: Vec<ResourceReport>,
}

impl ServerError {
    pub(crate) fn is_not_found(&self) -> bool {
        self.code == 404
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error from server ({}): {}", self.reason, self.message)?;
        for problem in &self.problems {
            write!(f, "\n{}", problem.indented("  "))?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Option<StatusDetails>,
}

#[derive(Deserialize)]
struct StatusDetails {
    #[serde(default)]
    problems: Vec<ResourceReport>,
}

/// The answer to every successful write.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WriteAnswer {
    pub(crate) result: String,
    #[serde(default)]
    pub(crate) problems: Vec<ResourceReport>,
    /// The resource as stored, with its status (what is served of it).
    #[serde(default)]
    pub(crate) object: Value,
}

/// The answer to `POST /apply`: one per item, in order, and what the writes made not Accepted.
#[derive(Debug, Clone)]
pub(crate) struct ApplyAnswer {
    pub(crate) items: Vec<Result<WriteAnswer, ServerError>>,
    pub(crate) problems: Vec<ResourceReport>,
}

#[derive(Deserialize)]
struct ApplyBody {
    items: Vec<Value>,
    #[serde(default)]
    problems: Vec<ResourceReport>,
}

pub(crate) struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub(crate) fn new(args: &ServerArgs) -> Result<Client, ClientError> {
        let base = normalise_server(&args.server);
        let http = reqwest::blocking::Client::builder()
            // A write is translated before it is answered; even 50,000 routes take well under
            // this. The bound is there so that a wedged server does not hang a script forever.
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Transport {
                url: base.clone(),
                cause: e.to_string(),
            })?;
        Ok(Client {
            http,
            base,
            token: args.token.clone().filter(|t| !t.is_empty()),
        })
    }

    pub(crate) fn server(&self) -> &str {
        &self.base
    }

    /// Whether the gateway answers `/readyz` with 200: it has published a configuration.
    pub(crate) fn is_ready(&self) -> bool {
        self.send(self.http.get(self.url("/readyz")), "/readyz")
            .is_ok()
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.json(self.http.get(self.url(path)), path)
    }

    pub(crate) fn put(
        &self,
        path: &str,
        body: &Value,
        dry_run: bool,
    ) -> Result<WriteAnswer, ClientError> {
        let request = self
            .http
            .put(self.url(path))
            .query(&dry_run_query(dry_run))
            .json(body);
        self.write(request, path)
    }

    pub(crate) fn merge_patch(
        &self,
        path: &str,
        patch: &Value,
        dry_run: bool,
    ) -> Result<WriteAnswer, ClientError> {
        let request = self
            .http
            .patch(self.url(path))
            .query(&dry_run_query(dry_run))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/merge-patch+json",
            )
            .body(patch.to_string());
        self.write(request, path)
    }

    /// Many resources in one request (`POST /apply`, a `List`), each answered on its own.
    pub(crate) fn apply(
        &self,
        items: Vec<Value>,
        dry_run: bool,
    ) -> Result<ApplyAnswer, ClientError> {
        let path = "/apply";
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        let request = self
            .http
            .post(self.url(path))
            .query(&dry_run_query(dry_run))
            .json(&list);
        let answer = |cause: String| ClientError::Answer {
            url: self.url(path),
            cause,
        };
        let body: ApplyBody =
            serde_json::from_value(self.json(request, path)?).map_err(|e| answer(e.to_string()))?;
        let items = body
            .items
            .into_iter()
            .map(|item| match item.get("error") {
                Some(status) => {
                    let code = status["code"].as_u64().unwrap_or(500) as u16;
                    let code =
                        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    Ok(Err(server_error(code, &status.to_string())))
                }
                None => serde_json::from_value(item)
                    .map(Ok)
                    .map_err(|e| answer(e.to_string())),
            })
            .collect::<Result<_, _>>()?;
        Ok(ApplyAnswer {
            items,
            problems: body.problems,
        })
    }

    pub(crate) fn delete(&self, path: &str, dry_run: bool) -> Result<WriteAnswer, ClientError> {
        let request = self
            .http
            .delete(self.url(path))
            .query(&dry_run_query(dry_run));
        self.write(request, path)
    }

    fn write(&self, request: RequestBuilder, path: &str) -> Result<WriteAnswer, ClientError> {
        let value = self.json(request, path)?;
        serde_json::from_value(value).map_err(|e| ClientError::Answer {
            url: self.url(path),
            cause: e.to_string(),
        })
    }

    fn json(&self, request: RequestBuilder, path: &str) -> Result<Value, ClientError> {
        let response = self.send(request, path)?;
        let url = self.url(path);
        let text = response.text().map_err(|e| ClientError::Transport {
            url: url.clone(),
            cause: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| ClientError::Answer {
            url,
            cause: format!("not JSON ({e}): {}", excerpt(&text)),
        })
    }

    fn send(&self, request: RequestBuilder, path: &str) -> Result<Response, ClientError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().map_err(|e| {
            if e.is_connect() {
                ClientError::Unreachable {
                    server: self.base.clone(),
                    cause: root_cause(&e),
                }
            } else {
                ClientError::Transport {
                    url: self.url(path),
                    cause: root_cause(&e),
                }
            }
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().unwrap_or_default();
        Err(ClientError::Server(server_error(status, &text)))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

fn dry_run_query(dry_run: bool) -> Vec<(&'static str, &'static str)> {
    if dry_run {
        vec![("dryRun", "All")]
    } else {
        Vec::new()
    }
}

/// Reads an error answer: a `Status` object when the server sent one, else its text.
fn server_error(status: StatusCode, text: &str) -> ServerError {
    match serde_json::from_str::<Status>(text) {
        Ok(parsed) if !parsed.message.is_empty() => ServerError {
            code: status.as_u16(),
            reason: if parsed.reason.is_empty() {
                default_reason(status)
            } else {
                parsed.reason
            },
            message: parsed.message,
            problems: parsed.details.map(|d| d.problems).unwrap_or_default(),
        },
        _ => ServerError {
            code: status.as_u16(),
            reason: default_reason(status),
            message: if text.trim().is_empty() {
                status.to_string()
            } else {
                excerpt(text)
            },
            problems: Vec::new(),
        },
    }
}

fn default_reason(status: StatusCode) -> String {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        422 => "Invalid",
        _ => {
            return status
                .canonical_reason()
                .unwrap_or("Error")
                .replace(' ', "");
        }
    }
    .to_string()
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The innermost cause ("Connection refused (os error 111)"): reqwest's own message only says
/// that sending failed.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// `127.0.0.1:9901` and `http://127.0.0.1:9901/` both mean `http://127.0.0.1:9901`.
pub(crate) fn normalise_server(server: &str) -> String {
    let server = server.trim().trim_end_matches('/');
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    }
}

/// `/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}]`, or across all namespaces
/// `/apis/{group}/{version}/{plural}` when `namespace` is `None`.
pub(crate) fn resource_path(kind: Kind, namespace: Option<&str>, name: Option<&str>) -> String {
    let mut path = format!("/apis/{}/{}", kind.group(), kind.version());
    if let Some(namespace) = namespace {
        path.push_str("/namespaces/");
        path.push_str(namespace);
    }
    path.push('/');
    path.push_str(kind.plural());
    if let Some(name) = name {
        path.push('/');
        path.push_str(name);
    }
    path
}

/// How kubectl names an object in its one-line answers: `routetable.gateway.solo.io/echo-routes`.
pub(crate) fn object_name(kind: Kind, name: &str) -> String {
    format!(
        "{}.{}/{}",
        kind.as_str().to_ascii_lowercase(),
        kind.group(),
        name
    )
}

#[cfg(test)]
#[path = "client_test.rs"]
mod tests;
