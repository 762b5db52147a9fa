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

/// Finding 3 (issue 29): a run cut short lists every scenario call exactly once — the SIP call to
/// the ECRC and the PSAP's callback included — each call it did not reach as `unrouted` at its
/// scheduled time (not the run's end), in the numbering of the whole run.
#[test]
fn finding_03_every_scenario_call_once_at_its_time_when_interrupted() {
    let (code, text) = simulate_stopped_by("INT");
    assert_eq!(code, Some(130), "{text}");
    let full = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["simulate", "--format", "jsonl"])
        .output()
        .unwrap();
    let parse = |t: &str| -> Vec<serde_json::Value> {
        t.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (cut, whole) = (parse(&text), parse(&String::from_utf8_lossy(&full.stdout)));
    assert_eq!(cut.len(), whole.len(), "{text}");
    let time = |v: &serde_json::Value| {
        v.get("seized_ms")
            .or(v.get("at_ms"))
            .and_then(|t| t.as_f64())
            .unwrap()
    };
    let mut unrouted = 0;
    for (c, w) in cut.iter().zip(&whole) {
        assert_eq!(c["call"], w["call"]);
        assert_eq!(c["scenario_call"], w["scenario_call"], "{c}");
        // A trunk call's record is at its seizure (the scheduled time + the 50 ms seize time).
        assert!((time(c) - time(w)).abs() <= 60.0, "{c} vs {w}");
        if c["kind"] == "unrouted" {
            unrouted += 1;
            assert!(
                c["reason"]
                    .as_str()
                    .unwrap()
                    .contains("(interrupted: SIGINT)"),
                "{c}"
            );
        }
    }
    assert!(unrouted >= 2, "{text}");
    assert_eq!(cut.last().unwrap()["kind"], "unrouted");
}
