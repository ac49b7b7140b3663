//! Many puts validated together and stored in one transaction: how `lockgate apply -f DIR`
//! writes thousands of resources without validating each against everything stored.
//!
//! One put at a time costs a translation of everything for every resource, so applying N
//! route tables costs N translations that each grow with N. A batch is validated once with
//! all of its puts and stored with one compare-and-swap on the content revision, exactly as
//! one validated write is ([`Writes`]). The refusal rules stay per namespace: a namespace to
//! which the batch adds refused problems has its puts taken out, the rest is validated
//! again without them (so no put is stored on a validation that included a refused one), and
//! the puts taken out are then written one by one, each refused or stored on its own merits,
//! with its own answer. A put whose key came earlier in the batch is also written on its own,
//! after the batch, so the later one wins as it would one by one. Settings are written on
//! their own before the batch: they decide the refusal rules the rest is validated under, as
//! they would if the batch were applied one by one. A batch that meets a
//! resourceVersion conflict is written one by one too, so that each put gets its own answer.

use std::collections::{BTreeSet, HashSet};

use lockgate_api::{Kind, Resource};
use lockgate_store::{
    BatchPut, Precondition, PutResult, StoreError, check_expected, rfc3339_utc, would_put,
};

use crate::handle::Change;
use crate::writes::refusable;
use crate::{WRITE_ATTEMPTS, WriteError, WriteOptions, Writes, Written};

/// How many times a batch is validated again without the namespaces it breaks before the rest
/// is written one by one: a batch of items whose problems chain from namespace to namespace
/// would otherwise hold the write queue for a translation per link.
const REFUSAL_ROUNDS: usize = 3;

/// One put of a batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub resource: Resource,
    /// The stored object must have exactly this resourceVersion.
    pub expected_resource_version: Option<String>,
}

/// A put of the batch as it will be stored.
struct Planned {
    index: usize,
    result: PutResult,
    stored: Resource,
}

/// What the batch leaves to do: the puts written, and the puts to write one by one.
struct Settled<E> {
    written: Vec<(usize, Result<Written, E>)>,
    one_by_one: Vec<usize>,
}

impl Writes {
    /// Creates or replaces every resource of `items` (see the module documentation), with one
    /// answer per item, in order. `check` says whether the writer may write an item over
    /// what is stored (`None`: nothing); its error is that item's answer. The outer error is
    /// for the whole batch: the store failing, or other writers never letting it through.
    pub async fn put_batch<E, F>(
        &self,
        items: Vec<BatchItem>,
        options: &WriteOptions,
        check: F,
    ) -> Result<Vec<Result<Written, E>>, WriteError>
    where
        E: From<WriteError>,
        F: Fn(&Resource, Option<&Resource>) -> Result<(), E>,
    {
        let mut seen = HashSet::new();
        let (mut settings, mut first, mut repeated) = (Vec::new(), Vec::new(), Vec::new());
        for (index, item) in items.iter().enumerate() {
            let key = item.resource.key();
            if key.kind == Kind::Settings {
                settings.push(index);
            } else if seen.insert(key) {
                first.push(index);
            } else {
                repeated.push(index);
            }
        }
        let mut answers: Vec<Option<Result<Written, E>>> = items.iter().map(|_| None).collect();
        for index in settings {
            answers[index] = Some(self.put_one(&items[index], options, &check).await);
        }
        let settled = self.settle(&items, &first, options, &check).await?;
        for (index, answer) in settled.written {
            answers[index] = Some(answer);
        }
        let mut one_by_one = settled.one_by_one;
        one_by_one.extend(repeated);
        one_by_one.sort_unstable();
        for index in one_by_one {
            answers[index] = Some(self.put_one(&items[index], options, &check).await);
        }
        Ok(answers
            .into_iter()
            .map(|a| a.expect("every item is answered"))
            .collect())
    }

    async fn put_one<E, F>(
        &self,
        item: &BatchItem,
        options: &WriteOptions,
        check: &F,
    ) -> Result<Written, E>
    where
        E: From<WriteError>,
        F: Fn(&Resource, Option<&Resource>) -> Result<(), E>,
    {
        let options = WriteOptions {
            expected_resource_version: item.expected_resource_version.clone(),
            ..options.clone()
        };
        let key = item.resource.key();
        self.put_with(&key, &options, |existing| {
            let allowed = check(&item.resource, existing.as_ref()).map(|()| item.resource.clone());
            async move { allowed }
        })
        .await
    }

    /// Validates and stores the puts at `indices` together, retrying when another write
    /// lands in between.
    async fn settle<E, F>(
        &self,
        items: &[BatchItem],
        indices: &[usize],
        options: &WriteOptions,
        check: &F,
    ) -> Result<Settled<E>, WriteError>
    where
        E: From<WriteError>,
        F: Fn(&Resource, Option<&Resource>) -> Result<(), E>,
    {
        if indices.is_empty() {
            return Ok(Settled {
                written: Vec::new(),
                one_by_one: Vec::new(),
            });
        }
        let _queued = self.shared.write_queue.lock().await;
        for attempt in 1..=WRITE_ATTEMPTS {
            let (snapshot, validated_at) = self.handle().snapshot().await?;
            let created_at = rfc3339_utc(std::time::SystemTime::now());
            let mut written = Vec::new();
            let mut planned = Vec::new();
            for &index in indices {
                let item = &items[index];
                let key = item.resource.key();
                let existing = self.shared.store.get(&key).await?;
                if let Err(denied) = check(&item.resource, existing.as_ref()) {
                    written.push((index, Err(denied)));
                    continue;
                }
                let expected = item.expected_resource_version.as_deref();
                if let Err(conflict) = check_expected(&key, existing.as_ref(), expected) {
                    written.push((index, Err(WriteError::from(conflict).into())));
                    continue;
                }
                let (result, stored) = would_put(
                    item.resource.clone(),
                    existing.as_ref(),
                    None,
                    Some(&created_at),
                );
                planned.push(Planned {
                    index,
                    result,
                    stored,
                });
            }

            // Take out the namespaces the batch adds refused problems to, until what is left
            // passes on its own; a few rounds at most, each a translation of everything under
            // the write lock, then the rest goes one by one (no worse than as many PUTs).
            let mut one_by_one = Vec::new();
            let mut rounds = 0;
            let validation = loop {
                if rounds == REFUSAL_ROUNDS {
                    one_by_one.extend(planned.drain(..).map(|p| p.index));
                }
                if planned.is_empty() {
                    break None;
                }
                rounds += 1;
                let changes = planned
                    .iter()
                    .map(|p| Change::Put(p.stored.clone()))
                    .collect();
                let validation = self
                    .handle()
                    .validate_changes(snapshot.clone(), validated_at, changes)
                    .await?;
                let (errors, warnings) = refusable(&validation);
                let refused: BTreeSet<&str> = errors
                    .iter()
                    .chain(&warnings)
                    .map(|(key, _)| key.namespace.as_str())
                    .collect();
                let (out, kept): (Vec<Planned>, Vec<Planned>) = planned
                    .into_iter()
                    .partition(|p| refused.contains(p.stored.key().namespace.as_str()));
                planned = kept;
                if out.is_empty() {
                    break Some(validation);
                }
                one_by_one.extend(out.iter().map(|p| p.index));
            };
            let Some(validation) = validation else {
                return Ok(Settled {
                    written,
                    one_by_one,
                });
            };

            let store = &self.shared.store;
            let outcomes = if options.dry_run {
                // The answers must describe one state: the snapshot's and the objects read.
                if store.content_revision().await? != validated_at {
                    continue;
                }
                planned
                    .iter()
                    .map(|p| (p.result, p.stored.clone()))
                    .collect()
            } else {
                let precondition = Precondition {
                    content_revision: Some(validated_at),
                    creation_time: Some(created_at),
                    ..Precondition::default()
                };
                // The store stamps what it stores itself, from the items as written.
                let puts = planned
                    .iter()
                    .map(|p| BatchPut {
                        resource: items[p.index].resource.clone(),
                        expected_resource_version: items[p.index].expected_resource_version.clone(),
                    })
                    .collect();
                // Before the write, so that the controller finds it with the write's events.
                self.shared.offer_prepared(validation.prepared.clone());
                match store.put_batch_if(puts, &precondition).await {
                    Ok(outcomes) => outcomes
                        .into_iter()
                        .map(|o| (o.result, o.resource))
                        .collect(),
                    Err(StoreError::StaleValidation { .. }) => {
                        tracing::debug!(attempt, "the store changed while a batch was validated");
                        continue;
                    }
                    // One put's resourceVersion no longer holds: one by one, each put gets
                    // its own answer.
                    Err(StoreError::Conflict { .. }) => {
                        one_by_one.extend(planned.iter().map(|p| p.index));
                        return Ok(Settled {
                            written,
                            one_by_one,
                        });
                    }
                    Err(err) => return Err(err.into()),
                }
            };
            let outcomes: Vec<(PutResult, Resource)> = outcomes;
            for (p, (result, resource)) in planned.iter().zip(outcomes) {
                written.push((
                    p.index,
                    Ok(Written {
                        result: result.into(),
                        resource,
                        validation: validation.clone(),
                        attempts: attempt,
                    }),
                ));
            }
            return Ok(Settled {
                written,
                one_by_one,
            });
        }
        Err(WriteError::Contended {
            key: items[indices[0]].resource.key(),
            attempts: WRITE_ATTEMPTS,
        })
    }
}
