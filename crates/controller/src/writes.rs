//! The validated-write service: how every writer (the admin API today, a canary controller
//! next) changes the store.
//!
//! A write is validated against the mirror's snapshot and stored only if the store's content
//! revision is still the one that snapshot reflects ([`Precondition::content_revision`],
//! checked in the store's write transaction). So two writers, or two gateway replicas on one
//! store, can never both pass validation against a state that no longer holds: the second
//! one's write fails its precondition, and the service reads, prepares and validates it again
//! against what is stored now (a few times at most, then [`WriteError::Contended`]). Status
//! writes do not move the content revision, so the controller's own writes after every
//! translation never make a client's write conflict.
//!
//! What a put stores (generation, creation time, resourceVersion, the status kept) is the
//! store's rule, [`would_put`]; a dry run answers with what it says, and nothing here copies it.
//!
//! The writes of one process also queue behind one lock. That is only an optimisation: it
//! spares two writers of one gateway from validating the same state at once just for one of
//! them to start again. Correctness comes from the precondition, which is what protects
//! writers in different processes.

use std::fmt;
use std::sync::Arc;

use lockgate_api::{Resource, ResourceKey};
use lockgate_store::{Precondition, PutResult, Revision, StoreError, check_expected, would_put};
use lockgate_translate::Problem;

use crate::handle::{Change, ChangeValidation, Shared};
use crate::{ControllerError, ControllerHandle};

/// How many times a write is validated before it gives up on a store that keeps changing.
pub const WRITE_ATTEMPTS: u32 = 5;

/// How many added problems a refusal's message spells out; [`Refused`] has them all.
const MESSAGE_PROBLEMS: usize = 10;

/// See the module documentation. From [`ControllerHandle::writes`]; cheap to clone.
#[derive(Clone)]
pub struct Writes {
    pub(crate) shared: Arc<Shared>,
}

/// How to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Validate and answer as if stored, and store nothing.
    pub dry_run: bool,
    /// The stored object must have exactly this `metadata.resourceVersion` (and exist).
    pub expected_resource_version: Option<String>,
}

/// What a write did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteResult {
    Created,
    Configured,
    Unchanged,
    Deleted,
}

impl WriteResult {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteResult::Created => "created",
            WriteResult::Configured => "configured",
            WriteResult::Unchanged => "unchanged",
            WriteResult::Deleted => "deleted",
        }
    }
}

impl From<PutResult> for WriteResult {
    fn from(result: PutResult) -> WriteResult {
        match result {
            PutResult::Created => WriteResult::Created,
            PutResult::Configured => WriteResult::Configured,
            PutResult::Unchanged => WriteResult::Unchanged,
        }
    }
}

/// A write that went through.
#[derive(Debug, Clone)]
pub struct Written {
    pub result: WriteResult,
    /// The resource as stored (as a dry run would store it; as it was, for a delete), with
    /// the status the store keeps.
    pub resource: Resource,
    /// The validation the write passed, against the state it was stored on top of.
    pub validation: ChangeValidation,
    /// How many times it was validated (1 unless another writer came in between).
    pub attempts: u32,
}

/// A write refused by the Settings' validation rules; it stored nothing.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The errors the change adds to resources of its own namespace, as `(resource, problem)`.
    pub added_errors: Vec<(ResourceKey, Problem)>,
    /// The warnings it adds there (only counted with `allowWarnings: false`).
    pub added_warnings: Vec<(ResourceKey, Problem)>,
    pub validation: ChangeValidation,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.added_errors.is_empty() {
            "warnings"
        } else {
            "errors"
        };
        let added = self.added_errors.len() + self.added_warnings.len();
        let mut listed: Vec<String> = self
            .added_errors
            .iter()
            .chain(&self.added_warnings)
            .take(MESSAGE_PROBLEMS)
            .map(|(key, problem)| format!("{key}: {problem}"))
            .collect();
        if added > MESSAGE_PROBLEMS {
            listed.push(format!(
                "and {} more (see details.problems)",
                added - MESSAGE_PROBLEMS
            ));
        }
        write!(
            f,
            "the change is refused because it adds {what} (Settings gloo-system.default has validation.alwaysAccept: false): {}",
            listed.join("; ")
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The change adds problems its namespace may not add (the admin API's 422).
    #[error("{0}")]
    Refused(Box<Refused>),
    /// Other writes kept landing between validation and write (the admin API's 409).
    #[error(
        "{key}: the configuration kept changing while this write was being validated ({attempts} attempts): retry it"
    )]
    Contended { key: ResourceKey, attempts: u32 },
    /// What the writer prepared is another resource than the one it asked to write.
    #[error("the change is for {found}, but the write is for {key}")]
    WrongResource {
        key: ResourceKey,
        found: ResourceKey,
    },
    /// From the store: not found, resourceVersion conflict, read-only, ...
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Controller(ControllerError),
}

impl From<ControllerError> for WriteError {
    fn from(err: ControllerError) -> WriteError {
        match err {
            ControllerError::Store(err) => WriteError::Store(err),
            other => WriteError::Controller(other),
        }
    }
}

/// What a writer makes of the stored object.
enum Edit {
    Put(Box<Resource>),
    Delete,
}

impl Writes {
    pub(crate) fn new(shared: Arc<Shared>) -> Writes {
        Writes { shared }
    }

    pub(crate) fn handle(&self) -> ControllerHandle {
        ControllerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Creates or replaces `resource`.
    pub async fn put(
        &self,
        resource: Resource,
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        let key = resource.key();
        self.put_with(&key, options, |_| {
            let resource = resource.clone();
            async move { Ok::<_, WriteError>(resource) }
        })
        .await
    }

    /// Creates or replaces `key` with what `prepare` makes of the stored object (`None` when
    /// there is none): a merge patch, a canary's next step, or a check of what the writer
    /// may do to it. `prepare` runs again on what is stored then whenever the write is
    /// validated again, so it never applies to a state that is gone; its error ends the write.
    pub async fn put_with<E, F, Fut>(
        &self,
        key: &ResourceKey,
        options: &WriteOptions,
        mut prepare: F,
    ) -> Result<Written, E>
    where
        E: From<WriteError>,
        F: FnMut(Option<Resource>) -> Fut,
        Fut: Future<Output = Result<Resource, E>>,
    {
        self.write(key, options, |existing| {
            let prepared = prepare(existing);
            async move { prepared.await.map(|resource| Edit::Put(Box::new(resource))) }
        })
        .await
    }

    /// Deletes `key`.
    pub async fn delete(
        &self,
        key: &ResourceKey,
        options: &WriteOptions,
    ) -> Result<Written, WriteError> {
        self.write(key, options, |_| async {
            Ok::<_, WriteError>(Edit::Delete)
        })
        .await
    }

    async fn write<E, F, Fut>(
        &self,
        key: &ResourceKey,
        options: &WriteOptions,
        mut prepare: F,
    ) -> Result<Written, E>
    where
        E: From<WriteError>,
        F: FnMut(Option<Resource>) -> Fut,
        Fut: Future<Output = Result<Edit, E>>,
    {
        let started = std::time::Instant::now();
        let _queued = self.shared.write_queue.lock().await;
        let queued_ms = started.elapsed().as_millis() as u64;
        for attempt in 1..=WRITE_ATTEMPTS {
            let (snapshot, validated_at) =
                self.handle().snapshot().await.map_err(WriteError::from)?;
            let caught_up_ms = started.elapsed().as_millis() as u64;
            // Read after the snapshot: if the write's precondition holds, nothing was written
            // since the snapshot, so this is the object the snapshot holds.
            let existing = self.store_get(key).await?;
            let edit = prepare(existing.clone()).await?;
            let step = self
                .attempt(key, options, existing, edit, snapshot, validated_at)
                .await?;
            match step {
                Some(mut written) => {
                    tracing::debug!(
                        %key,
                        queued_ms,
                        caught_up_ms,
                        total_ms = started.elapsed().as_millis() as u64,
                        "write done"
                    );
                    written.attempts = attempt;
                    return Ok(written);
                }
                None => tracing::debug!(
                    %key,
                    attempt,
                    "the store changed while the write was validated; validating again"
                ),
            }
        }
        Err(WriteError::Contended {
            key: key.clone(),
            attempts: WRITE_ATTEMPTS,
        }
        .into())
    }

    async fn store_get(&self, key: &ResourceKey) -> Result<Option<Resource>, WriteError> {
        Ok(self.shared.store.get(key).await?)
    }

    /// One validation and write; `None` when the store moved on since `validated_at` and the
    /// write must start again.
    async fn attempt(
        &self,
        key: &ResourceKey,
        options: &WriteOptions,
        existing: Option<Resource>,
        edit: Edit,
        snapshot: Arc<lockgate_api::Snapshot>,
        validated_at: Revision,
    ) -> Result<Option<Written>, WriteError> {
        let expected = options.expected_resource_version.as_deref();
        let (change, planned) = match edit {
            Edit::Put(resource) => {
                let found = resource.key();
                if found != *key {
                    return Err(WriteError::WrongResource {
                        key: key.clone(),
                        found,
                    });
                }
                check_expected(key, existing.as_ref(), expected)?;
                // Validate what the store would keep (its creation time, never the client's).
                let (result, stored) =
                    would_put((*resource).clone(), existing.as_ref(), None, None);
                (
                    Change::Put(stored.clone()),
                    Planned::Put(*resource, result, Box::new(stored)),
                )
            }
            Edit::Delete => {
                let Some(existing) = existing else {
                    return Err(StoreError::NotFound(key.clone()).into());
                };
                check_expected(key, Some(&existing), expected)?;
                (Change::Delete(key.clone()), Planned::Delete(existing))
            }
        };
        let validating = std::time::Instant::now();
        let validation = self
            .handle()
            .validate_on(snapshot, validated_at, change)
            .await?;
        let validate_ms = validating.elapsed().as_millis() as u64;
        let validation = refuse_if_invalid(validation, &key.namespace)?;
        let store = &self.shared.store;
        if options.dry_run {
            // The answer must describe one state: the snapshot's and the object read with it.
            if store.content_revision().await? != validated_at {
                return Ok(None);
            }
            let (result, resource) = match planned {
                Planned::Put(_, result, stored) => (result.into(), *stored),
                Planned::Delete(existing) => (WriteResult::Deleted, existing),
            };
            return Ok(Some(Written {
                result,
                resource,
                validation,
                attempts: 1,
            }));
        }
        // A create is stored with the creation time it was validated with, so that what is
        // stored is what was translated (a virtual service's age decides its domains).
        let creation_time = match &planned {
            Planned::Put(_, PutResult::Created, stored) => {
                stored.metadata().creation_timestamp.clone()
            }
            _ => None,
        };
        let precondition = Precondition {
            resource_version: options.expected_resource_version.clone(),
            content_revision: Some(validated_at),
            creation_time,
        };
        // Offered before the write, so that the controller finds it when the write's event
        // comes. Safe whatever the write's fate: it is only ever used for exactly the content
        // and history it was translated from.
        self.shared.offer_prepared(Arc::clone(&validation.prepared));
        let storing = std::time::Instant::now();
        let stored = match planned {
            Planned::Put(resource, ..) => store
                .put_if(resource, &precondition)
                .await
                .map(|outcome| (outcome.result.into(), outcome.resource)),
            Planned::Delete(_) => store
                .delete_if(key, &precondition)
                .await
                .map(|deleted| (WriteResult::Deleted, deleted)),
        };
        tracing::debug!(
            %key,
            validate_ms,
            store_ms = storing.elapsed().as_millis() as u64,
            "write validated and stored"
        );
        match stored {
            Ok((result, resource)) => Ok(Some(Written {
                result,
                resource,
                validation,
                attempts: 1,
            })),
            Err(StoreError::StaleValidation { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

/// What an attempt will store: the resource as prepared (the store stamps it itself) and what
/// the store's rules say it becomes; or the object a delete removes.
enum Planned {
    Put(Resource, PutResult, Box<Resource>),
    Delete(Resource),
}

/// Refuses the change when the snapshot's Settings say so and it adds errors (or warnings) to
/// resources of the written resource's `namespace` (the written one included). Problems it
/// would add elsewhere do not count, so that no team's write is held hostage by another
/// team's resources; translation keeps what a namespace does from reaching other namespaces'
/// reports in the first place (a refused delegation is the delegator's warning).
fn refuse_if_invalid(
    validation: ChangeValidation,
    namespace: &str,
) -> Result<ChangeValidation, WriteError> {
    let (errors, warnings) = refusable(&validation);
    let in_namespace = |added: AddedProblems| {
        added
            .into_iter()
            .filter(|(key, _)| key.namespace == namespace)
            .collect::<Vec<_>>()
    };
    let (added_errors, added_warnings) = (in_namespace(errors), in_namespace(warnings));
    if added_errors.is_empty() && added_warnings.is_empty() {
        return Ok(validation);
    }
    Err(WriteError::Refused(Box::new(Refused {
        added_errors,
        added_warnings,
        validation,
    })))
}

/// The problems the validated change adds that the snapshot's Settings refuse: errors unless
/// `alwaysAccept`, and warnings too without `allowWarnings`. In every namespace; the caller
/// keeps those of the namespaces a write speaks for.
pub(crate) fn refusable(validation: &ChangeValidation) -> (AddedProblems, AddedProblems) {
    let rules = &validation.snapshot.settings.spec.gateway.validation;
    if rules.always_accept() {
        return (Vec::new(), Vec::new());
    }
    let (before, after) = (&validation.before, &validation.after);
    let errors = after
        .error_set()
        .difference(&before.error_set())
        .cloned()
        .collect();
    let warnings = if rules.allow_warnings() {
        Vec::new()
    } else {
        after
            .warning_set()
            .difference(&before.warning_set())
            .cloned()
            .collect()
    };
    (errors, warnings)
}

pub(crate) type AddedProblems = Vec<(ResourceKey, Problem)>;

#[cfg(test)]
#[path = "writes_test.rs"]
mod tests;
