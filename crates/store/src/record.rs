//! How a resource is kept: its JSON (with the metadata the store owns) plus the status the
//! controller wrote, which the API types do not serialise (a client's status is never input).

use lockgate_api::{Document, Resource, ResourceKey, decode_value};
use serde_json::{Value, json};

use crate::{PutResult, Revision, StoreError};

/// The status written on a resource, if any.
pub fn status_of(resource: &Resource) -> Option<&Value> {
    match resource {
        Resource::Upstream(r) => r.status.as_ref(),
        Resource::Endpoint(r) => r.status.as_ref(),
        Resource::VirtualService(r) => r.status.as_ref(),
        Resource::RouteTable(r) => r.status.as_ref(),
        Resource::Settings(r) => r.status.as_ref(),
    }
}

pub fn set_status(resource: &mut Resource, status: Option<Value>) {
    let slot = match resource {
        Resource::Upstream(r) => &mut r.status,
        Resource::Endpoint(r) => &mut r.status,
        Resource::VirtualService(r) => &mut r.status,
        Resource::RouteTable(r) => &mut r.status,
        Resource::Settings(r) => &mut r.status,
    };
    *slot = status;
}

/// Whether storing `new` over `old` changes anything a client wrote: spec, labels or
/// annotations. Everything else in metadata is the store's.
pub fn same_content(old: &Resource, new: &Resource) -> bool {
    let (a, b) = (old.metadata(), new.metadata());
    a.labels == b.labels && a.annotations == b.annotations && old.spec_json() == new.spec_json()
}

/// The generation `new` gets when it replaces `old` (or is created, when `old` is `None`).
pub fn next_generation(old: Option<&Resource>, new: &Resource) -> i64 {
    match old {
        None => 1,
        Some(old) => {
            let generation = old.metadata().generation.unwrap_or(1);
            if old.spec_json() == new.spec_json() {
                generation
            } else {
                generation + 1
            }
        }
    }
}

/// `time` as RFC 3339 in UTC with microseconds (`2026-12-01T23:16:28.123456Z`): a fixed width,
/// so that stored creation times also sort as text.
pub fn rfc3339_utc(time: std::time::SystemTime) -> String {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Sets the store-owned creation time on `resource` before it is written over `existing`:
/// the existing one's on every update; on create `creation_time` (the server's own, stamped
/// when the write was validated) or now. Whatever the client sent is ignored, so that nobody
/// can backdate a resource to win a domain.
pub fn stamp_creation(
    resource: &mut Resource,
    existing: Option<&Resource>,
    creation_time: Option<&str>,
) {
    resource.metadata_mut().creation_timestamp = match existing {
        Some(existing) => existing.metadata().creation_timestamp.clone(),
        None => Some(
            creation_time
                .map(str::to_string)
                .unwrap_or_else(|| rfc3339_utc(std::time::SystemTime::now())),
        ),
    };
}

/// What storing `resource` over `existing` (`None`: nothing stored) stores, and whether it
/// changes anything: the rule every put follows, and what a dry run answers with. A put that
/// changes no spec, label or annotation is `Unchanged` and stores nothing (`existing` comes
/// back as it is). Otherwise the store sets the generation, the creation time and the
/// resourceVersion (`revision`, the revision of the write; a dry run passes `None` and keeps
/// the existing one), and keeps the controller's status. A created resource gets
/// `creation_time` if given (see [`crate::Precondition::creation_time`]), else now.
pub fn would_put(
    mut resource: Resource,
    existing: Option<&Resource>,
    revision: Option<Revision>,
    creation_time: Option<&str>,
) -> (PutResult, Resource) {
    if let Some(existing) = existing.filter(|e| same_content(e, &resource)) {
        return (PutResult::Unchanged, existing.clone());
    }
    let generation = next_generation(existing, &resource);
    stamp_creation(&mut resource, existing, creation_time);
    let metadata = resource.metadata_mut();
    metadata.generation = Some(generation);
    metadata.resource_version = match revision {
        Some(revision) => Some(revision.as_resource_version()),
        None => existing.and_then(|e| e.metadata().resource_version.clone()),
    };
    set_status(&mut resource, existing.and_then(status_of).cloned());
    let result = if existing.is_some() {
        PutResult::Configured
    } else {
        PutResult::Created
    };
    (result, resource)
}

/// The resourceVersion precondition: with `expected`, the stored object (`existing`) must
/// exist with exactly that resourceVersion.
pub fn check_expected(
    key: &ResourceKey,
    existing: Option<&Resource>,
    expected: Option<&str>,
) -> Result<(), StoreError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let actual = existing.and_then(|r| r.metadata().resource_version.clone());
    if actual.as_deref() == Some(expected) {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            key: key.clone(),
            expected: expected.to_string(),
            actual,
        })
    }
}

pub(crate) fn encode(resource: &Resource) -> Vec<u8> {
    let record = json!({
        "object": resource.to_json(),
        "status": status_of(resource),
    });
    // Serialising a JSON value to bytes cannot fail.
    serde_json::to_vec(&record).unwrap_or_default()
}

pub(crate) fn decode(key: &str, bytes: &[u8]) -> Result<Resource, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        key: key.to_string(),
        message,
    };
    let mut record: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let status = match record.get_mut("status").map(Value::take) {
        None | Some(Value::Null) => None,
        Some(status) => Some(status),
    };
    let object = record
        .get_mut("object")
        .map(Value::take)
        .ok_or_else(|| corrupt("no object in the record".into()))?;
    match decode_value(object) {
        Ok(Document::Resource(mut resource)) => {
            set_status(&mut resource, status);
            Ok(resource)
        }
        Ok(Document::Skipped(skipped)) => Err(corrupt(skipped.to_string())),
        Err(err) => Err(corrupt(err.to_string())),
    }
}

#[cfg(test)]
#[path = "record_test.rs"]
mod tests;
