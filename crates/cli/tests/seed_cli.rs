//! Issue 4's end-to-end test: the seed's two-phased canary driven entirely through the CLI
//! against the embedded store, as the article drives Gloo with kubectl and glooctl.
//!
//! `apply -f` gets the seed's own files (their Namespaces, Deployments and Services are skipped
//! with a notice); each http-echo Deployment becomes a `lockgate echo` process plus an Endpoint
//! applied from a file; the settings patch goes through `lockgate patch`. `lockgate check` is
//! read at the clean, blocked and final states, and in the blocked state the gateway is killed
//! with SIGKILL and restarted: it must answer exactly as before. A second run replaces the
//! settings patch with lockgate's `keepLastValid`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::workflow::SeedFile;
use common::{
    Backend, Backends, Curl, Gateway, SEED_DIR, Step, Workflow, barrier_yaml, run_cli, run_cli_ok,
};

/// Which invalid-configuration policy the settings step turns on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The seed's own patch: `replaceInvalidRoutes: true`, 404 with Gloo's body.
    ReplaceInvalidRoutes,
    /// lockgate's per-resource policy: `keepLastValid: true`.
    KeepLastValid,
}

const KEEP_LAST_VALID: &str = r#"{"spec":{"gloo":{"invalidConfigPolicy":{"keepLastValid":true}}}}"#;

struct Replay {
    gateway: Gateway,
    backends: Backends,
    /// Endpoint and barrier files the test applies.
    files: PathBuf,
    barriers: usize,
    _home: tempfile::TempDir,
}

impl Replay {
    fn start() -> Replay {
        let home = tempfile::tempdir().expect("a temporary directory");
        let state = home.path().join("state");
        let files = home.path().join("files");
        std::fs::create_dir(&files).unwrap();
        let gateway = Gateway::start(&["--state-dir".into(), state.display().to_string()]);
        Replay {
            gateway,
            backends: Backends::default(),
            files,
            barriers: 0,
            _home: home,
        }
    }

    fn cli(&self, args: &[&str]) -> Output {
        run_cli(&self.gateway.server(), args)
    }

    fn cli_ok(&self, args: &[&str]) -> String {
        run_cli_ok(&self.gateway.server(), args)
    }

    fn endpoint_file(&self, backend: &Backend, address: std::net::SocketAddr) -> String {
        let path = self.files.join(format!(
            "endpoint-{}-{}.yaml",
            backend.namespace, backend.name
        ));
        std::fs::write(&path, backend.endpoint_yaml(address)).unwrap();
        path.display().to_string()
    }

    /// `kubectl apply -f FILE` of the seed.
    fn apply(&mut self, file: &str) {
        let seed = SeedFile::read(SEED_DIR, file);
        for backend in &seed.backends {
            let address = self.backends.start(backend);
            let endpoint = self.endpoint_file(backend, address);
            let out = self.cli_ok(&["apply", "-f", &endpoint]);
            let line = format!("endpoint.gloo.solo.io/{} ", backend.name);
            assert!(out.starts_with(&line), "apply of {endpoint}: {out}");
        }
        let path = Path::new(SEED_DIR).join(file).display().to_string();
        let output = self.cli(&["apply", "-f", &path]);
        let (stdout, stderr) = texts(&output);
        assert!(output.status.success(), "apply -f {file}: {stdout}{stderr}");
        for (name, yaml) in &seed.resources {
            let kind = name.split('.').next().unwrap_or_default();
            let value: serde_json::Value = serde_yaml_ng::from_str(yaml).unwrap();
            let object = format!(
                "{kind}.{}/{}",
                value["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .split('/')
                    .next()
                    .unwrap_or_default(),
                value["metadata"]["name"].as_str().unwrap_or_default()
            );
            let answered = stdout.lines().any(|line| {
                ["created", "configured", "unchanged"].iter().any(|result| {
                    let done = format!("{object} {result}");
                    // A change held back says so: `... configured (not served: blocked by
                    // RouteTable echo.echo-routes, Rejected)`.
                    line == done || line.starts_with(&format!("{done} (not served: blocked by "))
                })
            });
            assert!(
                answered,
                "apply -f {file} did not report {object}: {stdout}"
            );
        }
        for backend in &seed.backends {
            let notice = format!(
                "skipped apps/v1 Deployment {}.{}: not a lockgate resource",
                backend.namespace, backend.name
            );
            assert!(
                stderr.contains(&notice),
                "apply -f {file} did not notice the Deployment: {stderr}"
            );
        }
    }

    /// `kubectl delete -f FILE` of the seed: its Deployments' Endpoints go, and the backends stop.
    fn delete(&mut self, file: &str) {
        let seed = SeedFile::read(SEED_DIR, file);
        let path = Path::new(SEED_DIR).join(file).display().to_string();
        // The seed file itself holds only a Deployment: skipped, with a notice, and no error.
        let output = self.cli(&["delete", "-f", &path]);
        assert!(
            output.status.success(),
            "delete -f {file}: {:?}",
            texts(&output)
        );
        for backend in &seed.backends {
            let endpoint = self.files.join(format!(
                "endpoint-{}-{}.yaml",
                backend.namespace, backend.name
            ));
            let out = self.cli_ok(&["delete", "-f", &endpoint.display().to_string()]);
            assert_eq!(
                out,
                format!("endpoint.gloo.solo.io/{} deleted\n", backend.name)
            );
            self.backends.stop(backend);
        }
    }

    fn patch_settings(&self, file: &str, variant: Variant) {
        let out = match variant {
            Variant::ReplaceInvalidRoutes => {
                let path = Path::new(SEED_DIR).join(file).display().to_string();
                self.cli_ok(&[
                    "patch",
                    "settings",
                    "default",
                    "-n",
                    "gloo-system",
                    "--type",
                    "merge",
                    "--patch-file",
                    &path,
                ])
            }
            Variant::KeepLastValid => self.cli_ok(&[
                "patch",
                "settings",
                "default",
                "-n",
                "gloo-system",
                "--type",
                "merge",
                "--patch",
                KEEP_LAST_VALID,
            ]),
        };
        assert!(
            out.starts_with("settings.gloo.solo.io/default patched"),
            "{out}"
        );
    }

    /// Waits until the gateway has taken in every write so far (see `barrier_yaml`).
    fn settle(&mut self) {
        self.barriers += 1;
        let name = format!("barrier-{}", self.barriers);
        let path = self.files.join(format!("{name}.yaml"));
        std::fs::write(&path, barrier_yaml(&name)).unwrap();
        self.cli_ok(&["apply", "-f", &path.display().to_string()]);
        self.gateway.wait_for_barrier(&name);
    }

    /// `lockgate check`: its exit status and output.
    fn check(&self) -> (bool, String) {
        let output = self.cli(&["check"]);
        (output.status.success(), texts(&output).0)
    }
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// What a curl of the workflow must answer under `variant`: the seed's answers, except that
/// under keepLastValid echo's broken canary route keeps serving its last valid table (v2).
fn expected(curl: &Curl, variant: Variant) -> Curl {
    if variant == Variant::KeepLastValid && curl.status == 404 {
        assert_eq!(
            curl.path, "/echo",
            "only echo's canary is replaced in the seed: {curl}"
        );
        return Curl {
            status: 200,
            body: "version:echo-v2".into(),
            ..curl.clone()
        };
    }
    curl.clone()
}

fn assert_clean(replay: &Replay, state: &str) {
    let (clean, out) = replay.check();
    assert!(clean, "check at the {state} state should pass:\n{out}");
    assert!(out.ends_with("No problems detected.\n"), "{out}");
    assert!(out.contains("Checking route tables... OK\n"), "{out}");
}

fn assert_blocked(replay: &Replay) -> String {
    let (clean, out) = replay.check();
    assert!(!clean, "check in the blocked state must fail:\n{out}");
    for needle in [
        "Checking route tables... 1 Errors!",
        "RouteTable echo echo-routes: Rejected",
        "VirtualService gloo-system app: Rejected",
        "on sub route table echo.echo-routes",
        "{gloo-system.echo-typo} not found",
        "Problems detected!",
    ] {
        assert!(
            out.contains(needle),
            "check in the blocked state lacks {needle:?}:\n{out}"
        );
    }
    // foxtrot's table is valid: it is not among the problems, but its change waits on echo's.
    let (problems, blocked) = out
        .split_once("Checking what is served...")
        .unwrap_or((out.as_str(), ""));
    assert!(
        !problems.contains("foxtrot-routes"),
        "foxtrot's table is valid:\n{out}"
    );
    if blocked.contains("foxtrot-routes") {
        assert!(
            blocked.contains("blocked by RouteTable echo.echo-routes, Rejected"),
            "{out}"
        );
        assert!(!blocked.contains("RouteTable echo echo-routes:"), "{out}");
    }
    out
}

fn replay(variant: Variant) {
    let workflow = Workflow::read(SEED_DIR);
    let mut replay = Replay::start();
    // A fresh store holds Gloo's defaults: the setup's revert patch changes nothing.
    for step in &workflow.setup {
        if let Step::Patch { file, .. } = step {
            let path = Path::new(SEED_DIR).join(file).display().to_string();
            let out = replay.cli_ok(&[
                "patch",
                "settings",
                "default",
                "-n",
                "gloo-system",
                "--type",
                "merge",
                "--patch-file",
                &path,
            ]);
            assert_eq!(out, "settings.gloo.solo.io/default patched (no change)\n");
        }
    }

    let mut checked = 0;
    for (index, step) in workflow.steps.iter().enumerate() {
        let id = match step {
            Step::Apply { id, file } => {
                replay.apply(file);
                id
            }
            Step::Delete { id, file } => {
                replay.delete(file);
                id
            }
            Step::Patch { id, file } => {
                replay.patch_settings(file, variant);
                id
            }
            Step::Curl(_) | Step::Other => continue,
        };
        replay.settle();
        let curls: Vec<Curl> = workflow
            .curls_after(index)
            .iter()
            .map(|c| expected(c, variant))
            .collect();
        for curl in &curls {
            replay.gateway.expect(curl, &format!("after step {id}"));
            checked += 1;
        }

        match id.as_str() {
            "deploy-vs" => assert_clean(&replay, "clean"),
            "deploy-rt-foxtrot-4" => {
                let before = assert_blocked(&replay);
                // A crash in the blocked state: the persisted last known good is served again
                // as soon as the gateway is ready, before anything is re-translated ...
                replay.gateway.restart();
                for curl in &curls {
                    let context = "right after kill -9 and restart in the blocked state";
                    replay.gateway.expect(curl, context);
                }
                // ... and still once the store has been translated again.
                replay.settle();
                for curl in &curls {
                    replay
                        .gateway
                        .expect(curl, "after the restart, once re-translated");
                }
                let after = assert_blocked(&replay);
                assert_eq!(before, after, "check answers the same after the restart");
            }
            _ => {}
        }
    }
    assert_clean(&replay, "final");

    let all_curls = workflow
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Curl(_)))
        .count();
    assert_eq!(checked, all_curls, "every curl of the workflow was checked");
}

#[test]
fn the_seed_workflow_through_the_cli_with_a_crash_in_the_blocked_state() {
    replay(Variant::ReplaceInvalidRoutes);
}

#[test]
fn keep_last_valid_moves_foxtrot_on_while_echo_keeps_its_last_valid_table() {
    replay(Variant::KeepLastValid);
}
