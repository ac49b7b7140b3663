//! `lockgate serve` refuses an open admin API on a non-loopback address, through the binary.

use std::process::Command;

#[test]
fn serve_refuses_an_open_non_loopback_admin_api_and_exits_non_zero() {
    let state = tempfile::tempdir().unwrap();
    // Refused before anything binds, so the address is never listened on.
    let output = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"])
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--auth-file"), "{stderr}");
    assert!(stderr.contains("--insecure-admin"), "{stderr}");
    assert!(!state.path().join("store.redb").exists(), "nothing started");
}
