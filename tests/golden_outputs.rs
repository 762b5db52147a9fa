//! What users compare between runs stays the same: the default office's call log and JSONL (on one
//! thread, on the engine with 1 and 2 workers), `route` on the bundled end-office recording, and
//! `detect` on the bundled trunk fixture and on the 32-trunk bench mix — byte for byte against the
//! files in `tests/golden/` (the mix by an FNV-1a digest of its JSONL). A change that alters any
//! of them must say so: regenerate with `E911_BLESS=1 cargo test --release golden` and review
//! the diff.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn e911(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Compare with (or, with E911_BLESS=1, write) `tests/golden/NAME`.
fn golden(name: &str, got: &str) {
    let p = root().join("tests/golden").join(name);
    if std::env::var("E911_BLESS").is_ok() {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (E911_BLESS=1 writes it)", p.display()));
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from tests/golden/{name} at line {}:\n want: {}\n  got: {}",
            line + 1,
            want.lines().nth(line).unwrap_or("<end>"),
            got.lines().nth(line).unwrap_or("<end>")
        );
    }
}

fn fnv1a(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}\n")
}

#[test]
fn golden_simulate_default_office_on_every_thread_count() {
    let text = e911(&["simulate", "--threads", "1"]);
    golden("simulate-default.txt", &text);
    assert_eq!(e911(&["simulate", "--threads", "2"]), text);
    let jsonl = e911(&["simulate", "--format", "jsonl", "--threads", "2"]);
    golden("simulate-default.jsonl", &jsonl);
    // The single-threaded reference loop gives the same records.
    let run = e911_tandem::sim::run_inline(
        &e911_tandem::sim::scenario::Scenario::default_office(),
        &mut |_, _, _, _| {},
    )
    .unwrap();
    let mut inline = run.json_lines().join("\n");
    inline.push('\n');
    assert_eq!(inline, jsonl);
}

#[test]
fn golden_route_on_the_bundled_end_office_recording() {
    let args = [
        "route",
        "--datafill",
        "docs/datafill/cary.dat",
        "--trunk",
        "CARYEO1",
        "audio-fixtures/spills/cary-eo.wav",
    ];
    golden("route-cary-eo.txt", &e911(&args));
    let mut j = args.to_vec();
    j.extend(["--format", "jsonl"]);
    golden("route-cary-eo.jsonl", &e911(&j));
}

#[test]
fn golden_detect_on_the_trunk_fixture_and_the_bench_mix() {
    golden(
        "detect-cary-trunk.jsonl",
        &e911(&[
            "detect",
            "audio-fixtures/spills/cary-trunk.wav",
            "--format",
            "jsonl",
        ]),
    );
    let speech =
        e911_tandem::audio::wav::read_wav(&root().join("audio-fixtures/talkoff/speech.wav"))
            .unwrap()
            .channels
            .remove(0);
    let (mix, _) = e911_tandem::cli::bench::trunk_mix(&speech, 32, 60.0);
    let events = e911_tandem::detect::detect_all(&mix, e911_tandem::detect::Kinds::ALL, 2);
    let mut s = String::new();
    for e in &events {
        s.push_str(&serde_json::to_string(e).unwrap());
        s.push('\n');
    }
    golden("detect-bench-mix.fnv", &fnv1a(&s));
}
