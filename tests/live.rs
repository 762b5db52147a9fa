//! Live sound-card I/O through a loopback device (CI: `scripts/pulse-loopback.sh`, a PulseAudio
//! null sink whose monitor is the default input). Built only with `--features live`.

use std::process::Command;

#[test]
fn an_mf_spill_played_through_cpal_comes_back_through_cpal_decoded_exactly() {
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["live", "loopback", "--spill", "KP 0 5551234 ST"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    // The round trip, for the CI log.
    println!("{out}{err}");
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("heard: KP 0 5 5 5 1 2 3 4 ST"), "{out}");
    assert!(out.contains("round trip"), "{out}");
    assert!(out.contains("overruns: 0 samples"), "{out}");
}

#[test]
fn devices_are_listed() {
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["live", "devices"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(out.contains("output: ") && out.contains("input: "), "{out}");
}
