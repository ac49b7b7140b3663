use std::path::Path;

use super::*;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/demo")
}

/// Rescans that find nothing changed, for measuring under callgrind (only the rescans inside
/// are counted: `--toggle-collect='*measured_rescans*'`). Not a test of behaviour.
#[inline(never)]
fn measured_rescans(shared: &Shared, times: usize) {
    for _ in 0..times {
        shared.rescan();
    }
}

/// `valgrind --tool=callgrind --toggle-collect='*measured_rescans*' TEST_BINARY --ignored
/// --exact dir::tests::rescan_probe`, with `LOCKGATE_PROBE_DIR` to read another directory
/// (the demo by default) and `LOCKGATE_PROBE_RESCANS` rescans (10 by default).
#[test]
#[ignore = "a measurement, run under callgrind"]
fn rescan_probe() {
    let dir = std::env::var_os("LOCKGATE_PROBE_DIR").map_or_else(demo_dir, PathBuf::from);
    let times = std::env::var("LOCKGATE_PROBE_RESCANS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let shared = Shared::new(dir, None);
    shared.rescan();
    let revision = shared.lock().revision;
    assert!(
        revision > Revision(0),
        "the probe directory holds resources"
    );
    measured_rescans(&shared, times);
    assert_eq!(shared.lock().revision, revision, "nothing changed");
}

fn event(kind: notify::EventKind) -> notify::Result<notify::Event> {
    Ok(notify::Event::new(kind))
}

#[test]
fn reading_a_file_does_not_wake_a_rescan_and_changing_one_does() {
    use notify::event::{
        AccessKind, AccessMode, CreateKind, DataChange, EventKind, ModifyKind, RemoveKind,
    };
    for quiet in [
        EventKind::Access(AccessKind::Open(AccessMode::Any)),
        EventKind::Access(AccessKind::Read),
        EventKind::Access(AccessKind::Close(AccessMode::Read)),
    ] {
        assert!(!wakes_rescan(&event(quiet)), "{quiet:?}");
    }
    for change in [
        EventKind::Create(CreateKind::File),
        EventKind::Modify(ModifyKind::Data(DataChange::Any)),
        EventKind::Access(AccessKind::Close(AccessMode::Write)),
        EventKind::Remove(RemoveKind::File),
        EventKind::Other,
        EventKind::Any,
    ] {
        assert!(wakes_rescan(&event(change)), "{change:?}");
    }
    assert!(wakes_rescan(&Err(notify::Error::generic("queue overflow"))));
}

/// What the kernel reports when the directory is read the way a rescan reads it: nothing that
/// wakes a rescan (before, every rescan woke the next one).
#[test]
fn a_rescan_reading_the_directory_does_not_wake_the_next() {
    use notify::{RecursiveMode, Watcher};
    let root = tempfile::tempdir().unwrap();
    let team = root.path().join("team");
    std::fs::create_dir(&team).unwrap();
    std::fs::write(team.join("rt.yaml"), "kind: RouteTable\n").unwrap();
    let (events, seen) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let paths = event.as_ref().map(|e| e.paths.clone()).unwrap_or_default();
        let _ = events.send((wakes_rescan(&event), paths));
    })
    .unwrap();
    watcher
        .watch(root.path(), RecursiveMode::Recursive)
        .unwrap();

    Scanner::new(root.path().to_path_buf()).scan();
    // Events arrive in order: once the marker's creation is seen, the reads' events were too.
    let marker = root.path().join("marker.yaml");
    std::fs::write(&marker, "").unwrap();
    for _ in 0..1000 {
        let (wakes, paths) = seen
            .recv_timeout(Duration::from_secs(10))
            .expect("the marker's creation is reported");
        if paths.contains(&marker) {
            assert!(wakes, "creating a file wakes a rescan");
            return;
        }
        assert!(!wakes, "reading {paths:?} woke a rescan");
    }
    panic!("the marker's creation was never reported");
}

#[test]
fn a_rescan_stores_only_what_changed() {
    let root = tempfile::tempdir().unwrap();
    let yaml = |name: &str, port: u16| {
        format!(
            "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata:\n  name: {name}\n  namespace: echo\nspec:\n  static:\n    hosts:\n      - addr: 127.0.0.1\n        port: {port}\n"
        )
    };
    std::fs::write(root.path().join("a.yaml"), yaml("a", 1)).unwrap();
    std::fs::write(root.path().join("b.yaml"), yaml("b", 1)).unwrap();
    let shared = Shared::new(root.path().to_path_buf(), None);
    shared.rescan();
    let revision = shared.lock().revision;
    assert_eq!(revision, Revision(2));

    shared.rescan();
    assert_eq!(shared.lock().revision, revision, "nothing changed");

    std::fs::write(root.path().join("a.yaml"), yaml("a", 2)).unwrap();
    // The same upstream with a comment: decoded again, and still not a change.
    std::fs::write(root.path().join("b.yaml"), yaml("b", 1) + "# reviewed\n").unwrap();
    shared.rescan();
    let state = shared.lock();
    assert_eq!(state.revision, revision.next());
    let version = |name: &str| {
        let key = ResourceKey::new(lockgate_api::Kind::Upstream, "echo", name);
        state.current[&key].resource_version
    };
    assert_eq!(version("a"), revision.next());
    assert_eq!(version("b"), Revision(2));
}
