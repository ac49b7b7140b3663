//! `lockgate demo` as a newcomer runs it: it starts, answers the seed's first curls, prints the
//! commands to go on, and stops cleanly on Ctrl-C (SIGINT), removing its temporary directory.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use common::{START_WAIT, WAIT, fetch, free_address, http, lockgate};

#[test]
fn the_demo_serves_the_seed_and_stops_on_ctrl_c() {
    let (listen, admin) = (free_address(), free_address());
    let mut child = lockgate()
        .args([
            "demo",
            "--listen",
            &listen.to_string(),
            "--admin",
            &admin.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting lockgate demo");
    let guard = KillOnDrop(child.id());

    // Read the guide as it is printed, up to its last line.
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut guide = Vec::new();
    loop {
        let line = received
            .recv_timeout(START_WAIT)
            .unwrap_or_else(|_| panic!("the demo did not finish its guide:\n{}", guide.join("\n")));
        let last = line == "Press Ctrl-C to stop.";
        guide.push(line);
        if last {
            break;
        }
    }
    let guide = guide.join("\n");
    assert!(
        guide.contains("virtualservice.gateway.solo.io/app created"),
        "{guide}"
    );
    assert!(
        guide.contains(&format!(
            "curl -H \"stage: canary\" http://{listen}/foxtrot"
        )),
        "{guide}"
    );
    assert!(
        guide.contains(&format!("export LOCKGATE_SERVER=http://{admin}")),
        "{guide}"
    );
    let seed_dir = guide
        .lines()
        .find_map(|l| l.trim().strip_prefix("seed files: "))
        .expect("the guide names the seed directory")
        .to_string();
    assert!(
        std::path::Path::new(&seed_dir)
            .join("rt-echo-3.yaml")
            .is_file()
    );

    let client = http();
    for (path, body) in [
        ("/echo", "version:echo-v1"),
        ("/foxtrot", "version:foxtrot-v1"),
    ] {
        let answer = fetch(&client, &format!("http://{listen}{path}"), &[]).unwrap();
        assert_eq!(answer, (200, body.to_string()), "{path}");
    }

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + WAIT;
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo did not stop on SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit}");
    assert!(
        !std::path::Path::new(&seed_dir).exists(),
        "{seed_dir} was removed"
    );
    drop(guard);
}

/// Kills the demo with SIGKILL if the test fails before it stopped.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}
