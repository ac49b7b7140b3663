//! Issue 3's end-to-end test: the seed's two-phased canary served from a watched directory.
//!
//! The real binary runs as the gateway (`lockgate serve --config-dir`) and as the four http-echo
//! backends (`lockgate echo`). Every step of the seed's `workflow.yaml` is replayed by writing,
//! atomically replacing and deleting files in the directory, and every curl of the workflow is
//! checked, status and body, including the blocked state under the default policy and the 404
//! replacement body after the settings patch.

mod common;

use std::path::{Path, PathBuf};

use common::workflow::SeedFile;
use common::{
    Backends, Gateway, SEED_DIR, Step, Workflow, barrier_yaml, merge_patch, run_cli, run_cli_ok,
    write_atomically,
};
use serde_json::Value;

/// The watched directory and how the test writes into it.
struct ConfigDir {
    dir: PathBuf,
    /// Files are written here first, then renamed into `dir`, so the watcher never sees half
    /// a file (same file system: the rename is atomic).
    staging: PathBuf,
    /// The Settings as stored, so a merge patch applies to what is there.
    settings: Value,
}

impl ConfigDir {
    fn write(&self, name: &str, text: &str) {
        write_atomically(&self.staging, &self.dir.join(name), text);
    }

    fn remove(&self, name: &str) {
        let path = self.dir.join(name);
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
    }

    /// `kubectl patch settings default --type merge`: the merged Settings written in place of
    /// the old file.
    fn patch_settings(&mut self, patch_file: &str) {
        let path = Path::new(SEED_DIR).join(patch_file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let patch: Value = serde_yaml_ng::from_str(&text).expect("a YAML merge patch");
        merge_patch(&mut self.settings, &patch);
        let yaml = serde_yaml_ng::to_string(&self.settings).expect("YAML");
        self.write("settings.gloo-system.default.yaml", &yaml);
    }
}

fn endpoint_file(backend: &common::Backend) -> String {
    format!("endpoint.{}.{}.yaml", backend.namespace, backend.name)
}

#[test]
fn the_seed_workflow_is_served_from_a_watched_directory() {
    let workflow = Workflow::read(SEED_DIR);
    let home = tempfile::tempdir().expect("a temporary directory");
    let mut config = ConfigDir {
        dir: home.path().join("config"),
        staging: home.path().join("staging"),
        settings: serde_json::to_value(lockgate_api::Settings::default())
            .expect("Settings as JSON"),
    };
    std::fs::create_dir(&config.dir).unwrap();
    std::fs::create_dir(&config.staging).unwrap();
    // The setup's Settings patch (back to Gloo's default policy) is the directory's first file.
    for step in &workflow.setup {
        if let Step::Patch { file, .. } = step {
            config.patch_settings(file);
        }
    }

    let gateway = Gateway::start(&["--config-dir".into(), config.dir.display().to_string()]);
    let mut backends = Backends::default();
    let mut checked = 0;
    let mut barriers = 0;

    for (index, step) in workflow.steps.iter().enumerate() {
        let id = match step {
            Step::Apply { id, file } => {
                let seed = SeedFile::read(SEED_DIR, file);
                for backend in &seed.backends {
                    let address = backends.start(backend);
                    config.write(&endpoint_file(backend), &backend.endpoint_yaml(address));
                }
                for (name, yaml) in &seed.resources {
                    config.write(name, yaml);
                }
                id
            }
            Step::Delete { id, file } => {
                let seed = SeedFile::read(SEED_DIR, file);
                for backend in &seed.backends {
                    config.remove(&endpoint_file(backend));
                    backends.stop(backend);
                }
                for (name, _) in &seed.resources {
                    config.remove(name);
                }
                id
            }
            Step::Patch { id, file } => {
                config.patch_settings(file);
                id
            }
            Step::Curl(_) | Step::Other => continue,
        };

        // A fresh barrier resource after every change: once /check lists it, every file written
        // before it has been taken in, even a change that alters nothing observable.
        barriers += 1;
        let barrier = format!("barrier-{barriers}");
        config.write("upstream.gloo-system.barrier.yaml", &barrier_yaml(&barrier));
        gateway.wait_for_barrier(&barrier);

        for curl in workflow.curls_after(index) {
            gateway.expect(&curl, &format!("after step {id}"));
            checked += 1;
        }

        // `lockgate check` reads the same reports from a directory-backed gateway.
        let check = run_cli(&gateway.server(), &["check"]);
        let out = String::from_utf8_lossy(&check.stdout);
        match id.as_str() {
            "deploy-vs" => assert!(
                check.status.success() && out.ends_with("No problems detected.\n"),
                "{out}"
            ),
            "deploy-rt-foxtrot-4" => {
                assert!(!check.status.success(), "{out}");
                assert!(
                    out.contains("RouteTable echo echo-routes: Rejected"),
                    "{out}"
                );
                assert!(out.contains("{gloo-system.echo-typo} not found"), "{out}");
            }
            _ => {}
        }
    }
    assert_eq!(
        run_cli_ok(&gateway.server(), &["proxy", "url"]),
        format!("http://{}\n", gateway.listen)
    );

    let all_curls = workflow
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Curl(_)))
        .count();
    assert_eq!(checked, all_curls, "every curl of the workflow was checked");
}
