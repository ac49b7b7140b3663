//! Bearer tokens for the admin API: the `--auth-file`, and what each token's subject may do.
//!
//! ```yaml
//! tokens:
//!   - token: s3cret-echo          # or tokenSha256: <hex>, so the file need not hold the secret
//!     subject: team-echo
//!     rules:
//!       - namespaces: [echo]      # '*' for all
//!         kinds: [RouteTable]     # '*' for all
//!         verbs: [get, list, create, update, patch, delete]
//! ```
//!
//! A file that does not read exactly like this is refused with the file and the field path: a
//! typo in an access rule must stop the gateway, never leave the admin API open or grant more
//! than was written. Rules only grant; anything no rule grants is forbidden.
//!
//! Every token is kept as its SHA-256 digest, and a presented token is hashed and compared with
//! every digest in constant time, so that neither the memory of the process nor the time an
//! answer takes tells anything about the secrets.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use lockgate_api::Kind;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A loaded, valid `--auth-file`.
///
/// ```
/// let tokens = lockgate_admin::Tokens::parse(
///     "tokens:\n- token: s3cret-echo\n  subject: team-echo\n  rules: []\n",
///     "tokens.yaml",
/// )?;
/// assert_eq!(tokens.len(), 1);
/// # Ok::<(), lockgate_admin::AuthFileError>(())
/// ```
pub struct Tokens {
    entries: Vec<Entry>,
}

struct Entry {
    digest: [u8; 32],
    subject: Arc<Subject>,
}

// Never print a digest: it is as good as the token for an offline guess.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "subjects",
                &self
                    .entries
                    .iter()
                    .map(|e| &e.subject.name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why an `--auth-file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("cannot read the auth file {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// `file: tokens[0].rules[1].verbs[2]: ...`
    #[error("{file}: {}{message}", field_prefix(.path))]
    Invalid {
        file: String,
        /// Where in the file, e.g. `tokens[0].tokenSha256`; empty for the whole file.
        path: String,
        message: String,
    },
}

fn field_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// What a request does to a resource, in Kubernetes' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Verb {
    Get,
    List,
    Create,
    Update,
    Patch,
    Delete,
}

impl Verb {
    const ALL: [Verb; 6] = [
        Verb::Get,
        Verb::List,
        Verb::Create,
        Verb::Update,
        Verb::Patch,
        Verb::Delete,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    fn parse(text: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request reaches: one namespace, or every namespace at once (a list across all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    Namespace(&'a str),
    AllNamespaces,
}

impl fmt::Display for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Namespace(namespace) => write!(f, "in namespace {namespace:?}"),
            Scope::AllNamespaces => f.write_str("across all namespaces"),
        }
    }
}

/// `'*'`, or the values listed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant<T> {
    All,
    Only(Vec<T>),
}

impl<T: PartialEq> Grant<T> {
    fn covers(&self, value: &T) -> bool {
        match self {
            Grant::All => true,
            Grant::Only(values) => values.contains(value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    namespaces: Grant<String>,
    kinds: Grant<Kind>,
    verbs: Grant<Verb>,
}

impl Rule {
    fn allows(&self, verb: Verb, kind: Kind, scope: Scope<'_>) -> bool {
        let namespace = match scope {
            Scope::Namespace(namespace) => match &self.namespaces {
                Grant::All => true,
                Grant::Only(names) => names.iter().any(|n| n == namespace),
            },
            // A list across all namespaces shows every namespace: only '*' grants that.
            Scope::AllNamespaces => self.namespaces == Grant::All,
        };
        namespace && self.kinds.covers(&kind) && self.verbs.covers(&verb)
    }
}

/// Who holds a token, and what the token's rules grant.
#[derive(Debug)]
pub(crate) struct Subject {
    name: String,
    rules: Vec<Rule>,
}

impl Subject {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn may(&self, verb: Verb, kind: Kind, scope: Scope<'_>) -> bool {
        self.rules.iter().any(|rule| rule.allows(verb, kind, scope))
    }

    /// `subject "team-echo" may not update RouteTable in namespace "foxtrot"`.
    pub(crate) fn refusal(&self, verb: Verb, kind: Kind, scope: Scope<'_>) -> String {
        let mut message = format!("subject {:?} may not {verb} {kind} {scope}", self.name);
        if scope == Scope::AllNamespaces {
            message.push_str(
                ": that needs a rule with namespaces ['*']; ask for one namespace instead",
            );
        }
        message
    }
}

impl Tokens {
    /// Reads and validates an auth file.
    pub fn load(file: &Path) -> Result<Tokens, AuthFileError> {
        let text = std::fs::read_to_string(file).map_err(|source| AuthFileError::Read {
            file: file.display().to_string(),
            source,
        })?;
        Tokens::parse(&text, &file.display().to_string())
    }

    /// Validates the text of an auth file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Tokens, AuthFileError> {
        let invalid = |path: &str, message: String| AuthFileError::Invalid {
            file: file.to_string(),
            path: path.to_string(),
            message,
        };
        if text.trim().is_empty() {
            return Err(invalid(
                "",
                "the file is empty: it must list `tokens` (see docs/admin-api.md, Authentication)"
                    .into(),
            ));
        }
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let document: FileDocument =
            serde_path_to_error::deserialize(deserializer).map_err(|err| {
                let path = err.path().to_string();
                let path = if path == "." { String::new() } else { path };
                let message = without_yaml_path(&path, err.into_inner().to_string());
                invalid(&path, message)
            })?;
        if document.tokens.is_empty() {
            return Err(invalid(
                "tokens",
                "empty: with --auth-file every request but /healthz and /readyz needs a token; list at least one".into(),
            ));
        }

        let mut entries: Vec<Entry> = Vec::with_capacity(document.tokens.len());
        // digest -> index of the entry that holds it
        let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
        for (index, token) in document.tokens.into_iter().enumerate() {
            let at = format!("tokens[{index}]");
            let digest = token_digest(&token, &at).map_err(|(p, m)| invalid(&p, m))?;
            let name = token.subject.trim().to_string();
            if name.is_empty() {
                return Err(invalid(
                    &format!("{at}.subject"),
                    "empty: name who holds the token (403 answers and logs show it)".into(),
                ));
            }
            let rules = token
                .rules
                .into_iter()
                .enumerate()
                .map(|(r, rule)| rule_of(rule, &format!("{at}.rules[{r}]")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|(p, m)| invalid(&p, m))?;
            if let Some(&first) = seen.get(&digest) {
                return Err(invalid(
                    &at,
                    format!(
                        "the same token as tokens[{first}] (subject {:?}): a token must name one subject",
                        entries[first].subject.name
                    ),
                ));
            }
            seen.insert(digest, index);
            entries.push(Entry {
                digest,
                subject: Arc::new(Subject { name, rules }),
            });
        }
        Ok(Tokens { entries })
    }

    /// How many tokens the file lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true for a loaded file (an empty one is refused); here for completeness.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The subject whose token this is, if any. Every digest is compared, in constant time.
    pub(crate) fn subject_of(&self, token: &str) -> Option<&Arc<Subject>> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.digest.ct_eq(&presented)) {
                found = Some(&entry.subject);
            }
        }
        found
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDocument {
    tokens: Vec<TokenDocument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TokenDocument {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_sha256: Option<String>,
    subject: String,
    /// No rules: the token reaches the operational endpoints and no resource.
    #[serde(default)]
    rules: Vec<RuleDocument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDocument {
    namespaces: Vec<String>,
    kinds: Vec<String>,
    verbs: Vec<String>,
}

/// serde_yaml_ng starts its messages with the path of the mapping it was in
/// (`tokens[0].rules[0]: unknown field ...`), which `path` already says more precisely.
fn without_yaml_path(path: &str, message: String) -> String {
    let mut prefix = path;
    loop {
        if let Some(rest) = message
            .strip_prefix(prefix)
            .and_then(|m| m.strip_prefix(": "))
            .filter(|_| !prefix.is_empty())
        {
            return rest.to_string();
        }
        match prefix.rfind(['.', '[']) {
            Some(cut) => prefix = &prefix[..cut],
            None => return message,
        }
    }
}

type Problem = (String, String);

fn token_digest(token: &TokenDocument, at: &str) -> Result<[u8; 32], Problem> {
    match (&token.token, &token.token_sha256) {
        (Some(_), Some(_)) => Err((
            at.to_string(),
            "give either token or tokenSha256, not both".into(),
        )),
        (None, None) => Err((
            at.to_string(),
            "missing: give token (the secret) or tokenSha256 (its SHA-256 in hex)".into(),
        )),
        (Some(secret), None) => {
            let path = format!("{at}.token");
            if secret.is_empty() {
                return Err((path, "empty".into()));
            }
            // Tokens travel in an Authorization header: `Bearer <token>`.
            if !secret.bytes().all(|b| b.is_ascii_graphic()) {
                return Err((
                    path,
                    "a bearer token can hold only visible ASCII characters (no spaces)".into(),
                ));
            }
            Ok(Sha256::digest(secret.as_bytes()).into())
        }
        (None, Some(hex)) => {
            parse_sha256(hex).ok_or_else(|| {
                (
                    format!("{at}.tokenSha256"),
                    format!(
                        "must be 64 hexadecimal digits, the SHA-256 of the token as `printf %s TOKEN | sha256sum` prints it; found {} characters",
                        hex.chars().count()
                    ),
                )
            })
        }
    }
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(digest)
}

fn rule_of(rule: RuleDocument, at: &str) -> Result<Rule, Problem> {
    Ok(Rule {
        namespaces: grant(&rule.namespaces, &format!("{at}.namespaces"), namespace_of)?,
        kinds: grant(&rule.kinds, &format!("{at}.kinds"), |text| {
            Kind::parse(text).ok_or_else(|| {
                format!(
                    "unknown kind {text:?}: use VirtualService, RouteTable, Upstream, Endpoint, Settings (or their plurals) or '*'"
                )
            })
        })?,
        verbs: grant(&rule.verbs, &format!("{at}.verbs"), |text| {
            Verb::parse(text).ok_or_else(|| {
                format!(
                    "unknown verb {text:?}: use get, list, create, update, patch, delete or '*'"
                )
            })
        })?,
    })
}

/// `['*']` (alone or among others) grants all; otherwise every value must parse.
fn grant<T: PartialEq>(
    values: &[String],
    at: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Grant<T>, Problem> {
    if values.is_empty() {
        return Err((
            at.to_string(),
            "empty: this rule would grant nothing; list values or '*'".into(),
        ));
    }
    let mut parsed = Vec::with_capacity(values.len());
    let mut all = false;
    for (index, value) in values.iter().enumerate() {
        if value == "*" {
            all = true;
            continue;
        }
        parsed.push(parse(value).map_err(|message| (format!("{at}[{index}]"), message))?);
    }
    Ok(if all { Grant::All } else { Grant::Only(parsed) })
}

/// Namespaces are DNS labels, as the resources' `metadata.namespace` are.
fn namespace_of(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a namespace: use lower-case letters, digits and '-', or '*' for all"
        ))
    }
}

#[cfg(test)]
#[path = "auth_test.rs"]
mod tests;
