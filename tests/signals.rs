//! SIGTERM (systemd, Docker, Kubernetes) and SIGHUP (the terminal gone) end a long run exactly as
//! Ctrl-C does: everything decided so far printed, the calls not reached accounted for, exit
//! status 128 + the signal (README "Stopping"). `sip serve`'s drain: tests/sip_edge.rs.

use std::process::{Command, Stdio};

fn simulate_stopped_by(sig: &str) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["simulate", "--realtime", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Call 1 (seized 1.05 s) is routed about 2 s in.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let killed = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn sigterm_ends_simulate_like_ctrl_c_with_status_143() {
    let (code, text) = simulate_stopped_by("TERM");
    assert_eq!(code, Some(143), "{text}");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["psap"], "CARYPOLICE");
    assert!(text.contains("(interrupted: SIGTERM)"), "{text}");
}

#[test]
fn sighup_ends_simulate_like_ctrl_c_with_status_129() {
    let (code, text) = simulate_stopped_by("HUP");
    assert_eq!(code, Some(129), "{text}");
    assert!(text.contains("(interrupted: SIGHUP)"), "{text}");
}
