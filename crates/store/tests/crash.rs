//! Crash consistency of the embedded store: a writer process is killed with SIGKILL in the
//! middle of a burst of writes; after reopening, every write it had acknowledged is there and
//! every record decodes.
//!
//! The writer is this test binary itself, re-executed with `LOCKGATE_CRASH_WRITER` set: the
//! function `crash_writer_process` does nothing in a normal run and is the writer in the child.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::upstream;
use lockgate_api::{Kind, ResourceKey};
use lockgate_store::{EmbeddedStore, Store};

const WRITER_ENV: &str = "LOCKGATE_CRASH_WRITER";
const HOT: &str = "hot";

fn port_of(resource: &lockgate_api::Resource) -> u64 {
    resource.spec_json()["static"]["hosts"][0]["port"]
        .as_u64()
        .unwrap_or(0)
}

/// The writer, in the child process only: creates `u{i}` with port i, and every fifth write
/// also replaces `hot` with port i, printing `ack ...` after each acknowledged write.
#[tokio::test]
async fn crash_writer_process() {
    let Ok(path) = std::env::var(WRITER_ENV) else {
        return;
    };
    let store = EmbeddedStore::open(&path).expect("writer opens the store");
    for i in 1..u16::MAX {
        store
            .put(upstream(&format!("u{i}"), i), None)
            .await
            .expect("write");
        println!("ack u{i} {i}");
        if i % 5 == 0 {
            store.put(upstream(HOT, i), None).await.expect("write");
            println!("ack {HOT} {i}");
        }
    }
}

#[test]
fn kill_9_during_a_burst_of_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("writer starts");
    let stdout = child.stdout.take().unwrap();
    let mut acknowledged: BTreeMap<String, u64> = BTreeMap::new();
    let mut lines = BufReader::new(stdout).lines();
    // Kill it mid-burst: after 300 acknowledgements it is still writing as fast as it can.
    while acknowledged.len() < 300 {
        let line = lines.next().expect("the writer runs until killed").unwrap();
        let Some(ack) = line.strip_prefix("ack ") else {
            continue;
        };
        let (name, port) = ack.split_once(' ').unwrap();
        acknowledged.insert(name.to_string(), port.parse().unwrap());
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    // Acknowledgements printed before the kill but not read yet count too.
    for line in lines.map_while(Result::ok) {
        if let Some((name, port)) = line.strip_prefix("ack ").and_then(|a| a.split_once(' ')) {
            acknowledged.insert(name.to_string(), port.parse().unwrap());
        }
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(&path).expect("the store reopens after a kill -9");
        let listing = store.list().await.unwrap();
        assert!(
            store.problems().is_empty(),
            "damaged records: {:?}",
            store.problems()
        );
        let stored: BTreeMap<String, u64> = listing
            .resources
            .iter()
            .filter(|r| r.kind() == Kind::Upstream)
            .map(|r| (r.metadata().name.clone(), port_of(r)))
            .collect();
        for (name, port) in &acknowledged {
            let found = stored.get(name).copied();
            if name == HOT {
                // A newer, unacknowledged replacement may have landed; an older one may not.
                assert!(
                    found >= Some(*port),
                    "{name}: acknowledged {port}, found {found:?}"
                );
            } else {
                assert_eq!(found, Some(*port), "{name} was acknowledged");
            }
        }
        // At most the one write in flight at the kill is there beyond what was acknowledged.
        let extra: Vec<_> = stored
            .keys()
            .filter(|n| !acknowledged.contains_key(*n))
            .collect();
        assert!(extra.len() <= 1, "unacknowledged writes: {extra:?}");
        // Revisions count every stored write: nothing was lost from the history either.
        let writes = acknowledged.len() as u64 + acknowledged[HOT] / 5 - 1;
        // ... plus the first revision, which seeded the default Settings.
        assert!(
            listing.revision.0 > writes,
            "revision {} < {}",
            listing.revision,
            writes + 1
        );
        let key = ResourceKey::new(Kind::Upstream, "echo", "u1");
        assert!(store.get(&key).await.unwrap().is_some());
    });
}
