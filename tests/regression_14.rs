//! Issue 14's findings, one test each, named after what it guards (a newcomer's and a fuzzer's
//! bug reports: crashes on hostile sizes, wrong results, data loss, confusion). Expectations come
//! from the report itself and the spec (a call abandoned while queued is abandoned; 3 dB of twist
//! is 3 dB between the tones, measured here by a plain DFT), not from the code under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e911_tandem::generate::sender::{LineSender, MfTiming};
use e911_tandem::register::mf::MfSignal;
use e911_tandem::sim::scenario::Scenario;
use e911_tandem::sim::{run_inline, SimRun};

fn e911_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_e911"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn e911(args: &[&str]) -> Output {
    e911_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("e911-r14-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn docs(rel: &str) -> Result<(PathBuf, String), String> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/scenarios");
    let p = base.join(rel);
    std::fs::read_to_string(&p)
        .map(|t| (p.clone(), t))
        .map_err(|e| format!("{}: {e}", p.display()))
}

const HEAD: &str = "datafill = \"../datafill/cary.dat\"\n[trunks]\nCARYEO1 = 2\n";
const CALL: &str = "[[call]]\nat_ms = 1000\ntrunk = \"CARYEO1\"\nani = \"9195551234\"\n";

fn scenario_error(text: &str) -> String {
    Scenario::parse("t.toml", text, &docs)
        .unwrap_err()
        .to_string()
}

fn default_run() -> SimRun {
    run_inline(&Scenario::default_office(), &mut |_, _, _, _| {}).unwrap()
}

/// A 16-bit PCM WAV with `channels` channels of `frames` silent frames.
fn wav(path: &Path, channels: u16, frames: u32) {
    let data = 2 * channels as u32 * frames;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&(8000 * 2 * channels as u32).to_le_bytes());
    b.extend_from_slice(&(2 * channels).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(b.len() + data as usize, 0);
    std::fs::write(path, b).unwrap();
}

// 1
#[test]
fn attendant_hold_ms_beyond_a_day_is_refused_not_an_abort() {
    for v in ["99999999999999", "-1", "nan", "inf"] {
        let e = scenario_error(&format!("{HEAD}[attendant]\nhold_ms = {v}\n{CALL}"));
        assert!(e.contains("t.toml: attendant.hold_ms"), "{v}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

/// `e911 route` on the Cary office's CARYEO1 with `args` after it.
fn route_cary(args: &[&str]) -> Output {
    let mut all = vec![
        "route",
        "--datafill",
        "docs/datafill/cary.dat",
        "--trunk",
        "CARYEO1",
    ];
    all.extend_from_slice(args);
    e911(&all)
}

// 2
#[test]
fn route_refuses_a_wav_with_more_channels_than_a_trunk_group_holds() {
    let d = scratch("wide");
    let f = d.join("wide.wav");
    wav(&f, 65535, 1);
    let o = route_cary(&[f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("65535 channels") && err(&o).contains("at most 4096"),
        "{}",
        err(&o)
    );
}

// 3
#[test]
fn generate_refuses_output_no_wav_can_hold_before_allocating() {
    let d = scratch("gen-big");
    std::fs::write(
        d.join("big.txt"),
        "channels 1024\nchannel 0\nsilence 86400000\n",
    )
    .unwrap();
    // The library says what kind of refusal it is.
    let e = e911_tandem::generate::script::render_limited(
        "big.txt",
        "channels 1024\nchannel 0\nsilence 86400000\n",
        &e911_tandem::generate::script::Limits::default(),
        &e911_tandem::generate::script::no_files,
    )
    .unwrap_err();
    assert!(
        matches!(e, e911_tandem::generate::script::ScriptError::TooLarge(_)),
        "{e:?}"
    );
    let o = e911_in(&d, &["generate", "big.txt", "-o", "big.wav"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("big.txt:3: channel 0 would be 86400.000 s long"),
        "{}",
        err(&o)
    );
    assert!(!d.join("big.wav").exists());
}

/// Level (dBm0) of `hz` in `x` by a plain DFT over whole periods of the tone.
fn level_dbm0(x: &[f32], hz: f64) -> f64 {
    let w = std::f64::consts::TAU * hz / 8000.0;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (i, &s) in x.iter().enumerate() {
        re += s as f64 * (w * i as f64).cos();
        im += s as f64 * (w * i as f64).sin();
    }
    let amp = 2.0 * (re * re + im * im).sqrt() / x.len() as f64;
    e911_tandem::units::power_to_dbm0(amp * amp / 2.0)
}

// 4
#[test]
fn mf_twist_db_puts_the_high_tone_that_many_db_above_the_low() {
    let mut tx = LineSender::new();
    let tm = MfTiming {
        twist_db: 3.0,
        ..MfTiming::default()
    };
    // Digit 1 is 700 + 900 Hz; KP first (100 ms), then the digit 68 ms later.
    tx.mf(0, &[MfSignal::KP, MfSignal::Digit(1)], &tm);
    let mut buf = vec![0f32; 4000];
    tx.render(0, &mut buf);
    let digit = &buf[1344 + 40..1344 + 40 + 400]; // 50 ms inside the digit
    let (lo, hi) = (level_dbm0(digit, 700.0), level_dbm0(digit, 900.0));
    assert!((lo + 7.0).abs() < 0.2, "low tone {lo:.2} dBm0");
    assert!((hi - lo - 3.0).abs() < 0.2, "twist {:.2} dB", hi - lo);
    // And the default office's "3 dB of twist" call carries it to the sender.
    let sc = Scenario::default_office();
    assert!(sc.calls.iter().any(|c| c.mf.twist_db == 3.0));
}

// 5
#[test]
fn a_caller_who_hangs_up_while_queued_is_abandoned_not_answered() {
    let run = default_run();
    let carol = run
        .calls
        .iter()
        .find(|c| c.scenario_call == Some(9))
        .unwrap();
    let r = &carol.record;
    assert!(r.abandoned, "{r:#?}");
    assert_eq!(r.abandoned_while.as_deref(), Some("queued at CARYPOLICE"));
    let gone = r.abandoned_ms.unwrap();
    assert!(gone < r.answered_ms.unwrap(), "{r:#?}");
    // No record has an answer after its caller left unless it says it was abandoned.
    for c in &run.calls {
        let r = &c.record;
        if let (Some(a), Some(rel)) = (r.answered_ms, r.released_ms) {
            assert!(a <= rel || r.abandoned, "{r:#?}");
        }
    }
    let log = e911_tandem::sim::report::call_log("x", &run);
    assert!(
        log.contains("8 answered, 1 abandoned before answer"),
        "{log}"
    );
}

// 6
#[test]
fn callback_and_sip_call_times_must_be_finite_and_in_range() {
    let ent = "[enterprise]\nname = \"A\"\nlis_wap = \"../location/acme-wap.csv\"\n";
    for v in ["inf", "-1", "nan"] {
        let e = scenario_error(&format!(
            "{HEAD}{ent}[[callback]]\nat_ms = {v}\nelin = \"9195550199\"\n"
        ));
        assert!(e.contains("callback 1: at_ms"), "{v}: {e}");
        let e = scenario_error(&format!(
            "msag = \"../datafill/cary.msag\"\n{HEAD}{ent}sip_trunk = \"CARYEO1\"\n\
             [[sip_call]]\nat_ms = {v}\nuser = \"x\"\ncallback = \"9195550300\"\n"
        ));
        assert!(e.contains("at_ms"), "{v}: {e}");
    }
}

// 7
#[test]
fn noise_and_attendant_fields_refuse_nan_infinities_and_out_of_range() {
    for v in ["inf", "nan", "1e308", "0"] {
        let call = CALL.replace("ani =", &format!("noise_dbm0 = {v}\nani ="));
        let e = scenario_error(&format!("{HEAD}{call}"));
        assert!(e.contains("call 1: noise_dbm0"), "{v}: {e}");
    }
    for f in ["wink_delay_ms", "wink_ms", "answer_ms", "hold_ms"] {
        for v in ["-1", "nan", "inf"] {
            let e = scenario_error(&format!("{HEAD}[attendant]\n{f} = {v}\n{CALL}"));
            assert!(e.contains(&format!("attendant.{f}")), "{f} = {v}: {e}");
        }
    }
}

#[test]
fn sip_provider_numbers_are_checked_not_clamped() {
    let ent = "[enterprise]\nname = \"A\"\nlis_wap = \"../location/acme-wap.csv\"\nsip_trunk = \"CARYEO1\"\n";
    let sip = "[[sip_call]]\nat_ms = 0\nuser = \"x\"\ncallback = \"9195550300\"\n";
    for (field, want) in [
        ("esqk_per_esn = 4000000000", "enterprise.esqk_per_esn"),
        ("esqk_per_esn = 0", "enterprise.esqk_per_esn"),
        ("sip_npa = 0", "enterprise.sip_npa"),
    ] {
        let e = scenario_error(&format!(
            "msag = \"../datafill/cary.msag\"\n{HEAD}{ent}{field}\n{sip}"
        ));
        assert!(e.contains(want), "{field}: {e}");
    }
}

// 8
#[test]
fn route_modelled_psaps_answer_and_release_so_no_call_queues_forever() {
    // 30 copies of the bundled end-office recording: 60 calls, far more than CARYPOLICE's 4
    // positions and its overflow's hold at once.
    let audio = e911_tandem::audio::wav::read_wav(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/spills/cary-eo.wav"),
    )
    .unwrap();
    let long: Vec<Vec<i16>> = audio.channels.iter().map(|c| c.repeat(30)).collect();
    let office = e911_tandem::files::datafill(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat"),
    )
    .unwrap()
    .office;
    let run = e911_tandem::route::run(&office, "CARYEO1", &long).unwrap();
    assert_eq!(run.records.len(), 60);
    for r in &run.records {
        assert!(r.position.is_some() && r.answered_ms.is_some(), "{r:#?}");
        assert!(r.position_released_ms.is_some(), "{r:#?}");
    }
    // Records in seizure order, numbered in that order.
    assert!(run
        .records
        .windows(2)
        .all(|w| w[0].seized_ms <= w[1].seized_ms && w[0].call + 1 == w[1].call));
}

// 9
#[test]
fn outputs_never_overwrite_inputs_and_existing_ones_are_refused_before_the_run() {
    let d = scratch("outputs");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let msag = root.join("docs/datafill/cary.msag");
    let ali = d.join("cary.ali");
    std::fs::copy(root.join("docs/datafill/cary.ali"), &ali).unwrap();
    let before = std::fs::read(&ali).unwrap();
    let o = e911(&[
        "msag",
        "validate",
        "--msag",
        msag.to_str().unwrap(),
        ali.to_str().unwrap(),
        "--srdb",
        ali.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("would overwrite the input"), "{}", err(&o));
    assert_eq!(std::fs::read(&ali).unwrap(), before);
    std::fs::write(d.join("s.txt"), "mf KP 1 ST\n").unwrap();
    for args in [
        &["generate", "s.txt", "-o", "s.txt"][..],
        &["generate", "s.txt", "-o", "x.wav", "--truth", "s.txt"][..],
    ] {
        let o = e911_in(&d, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            err(&o).contains("would overwrite the input s.txt"),
            "{}",
            err(&o)
        );
        assert_eq!(
            std::fs::read_to_string(d.join("s.txt")).unwrap(),
            "mf KP 1 ST\n"
        );
    }
    // route --out: an existing calls.jsonl is refused at once, not after the run.
    let dir = d.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("calls.jsonl"), "mine\n").unwrap();
    let o = route_cary(&[
        "audio-fixtures/spills/cary-eo.wav",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("calls.jsonl: --out: the file exists"),
        "{}",
        err(&o)
    );
    assert!(out(&o).is_empty(), "the run did not start: {}", out(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("calls.jsonl")).unwrap(),
        "mine\n"
    );
}

// 10
#[test]
fn simulate_jsonl_holds_the_ecrc_call_and_the_callback_with_a_kind() {
    let o = e911(&["simulate", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", err(&o));
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(lines.len(), 11, "{kinds:?}");
    let ecrc = lines.iter().find(|v| v["kind"] == "sip_ecrc").unwrap();
    assert_eq!(ecrc["user"], "bob");
    assert!(ecrc["reason"].as_str().unwrap().contains("NOT IN THE MSAG"));
    let cb = lines.iter().find(|v| v["kind"] == "callback").unwrap();
    assert_eq!(
        (cb["elin"].as_str(), cb["reaches"].as_str()),
        (Some("919-555-0199"), Some("alice"))
    );
    assert!(kinds.contains(&"enterprise") && kinds.contains(&"sip") && kinds.contains(&"trunk"));
    // One numbering: 1..=11 in order.
    let nums: Vec<u64> = lines.iter().map(|v| v["call"].as_u64().unwrap()).collect();
    assert_eq!(nums, (1..=11).collect::<Vec<_>>());
}

// 11
#[test]
fn sigint_during_a_realtime_simulate_prints_the_calls_decided_so_far() {
    let child = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["simulate", "--realtime", "--format", "jsonl"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Call 1 (seized 1.05 s) is routed about 2 s in; interrupt at 4 s of wall time.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", err(&o));
    let text = out(&o);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "trunk");
    assert_eq!(first["ani"], "9195551234");
    assert_eq!(first["psap"], "CARYPOLICE");
    // The calls the run did not reach are accounted for, not lost.
    assert!(text.contains("(interrupted: SIGINT)"), "{text}");
}

// 12
#[test]
fn a_printed_default_saved_anywhere_runs_from_anywhere() {
    let d = scratch("print-default");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    let o = e911_in(&d, &["simulate", "--print-default", "sub/my.toml"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = e911_in(&d, &["simulate", "sub/my.toml", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", err(&o));
    let reference = e911(&["simulate", "--format", "jsonl"]);
    assert_eq!(out(&o), out(&reference));
    // Printing again onto the saved file is refused (it exists).
    let o = e911_in(&d, &["simulate", "--print-default", "sub/my.toml"]);
    assert_eq!(o.status.code(), Some(1));
}

// 13
#[test]
fn the_call_log_is_in_seizure_order_with_one_call_number_everywhere() {
    let run = default_run();
    assert!(run
        .calls
        .windows(2)
        .all(|w| w[0].record.seized_ms <= w[1].record.seized_ms));
    // The enterprise section's "call N: alice" is the block whose origin is alice.
    let alice = run
        .calls
        .iter()
        .find(|c| c.origin.as_deref().is_some_and(|o| o.contains("alice")))
        .unwrap();
    let n = alice.record.call;
    assert!(
        run.enterprise
            .iter()
            .any(|l| l.contains(&format!("call {n}: alice at"))),
        "{:#?}",
        run.enterprise
    );
    // And the end office's hang-up of call n is the same call.
    assert!(run
        .notes
        .iter()
        .any(|l| l.contains(&format!("call {n}: CALLER HANGS UP"))));
}

// 14
#[test]
fn every_position_release_and_every_overflow_is_in_the_record() {
    let run = default_run();
    for c in &run.calls {
        let r = &c.record;
        assert!(r.position_released_ms.is_some(), "{r:#?}");
        for x in r.transfers.iter().filter(|x| x.outcome == "conferenced") {
            assert!(x.released_ms.is_some(), "{x:#?}");
        }
    }
    // 919-555-9999 finds CARYPOLICE's 4 positions busy and overflows to APEXPOLICE.
    let c = run
        .calls
        .iter()
        .find(|c| c.record.ani.as_deref() == Some("9195559999"))
        .unwrap();
    assert_eq!(c.record.psap.as_deref(), Some("APEXPOLICE"));
    assert!(c
        .record
        .logs
        .iter()
        .any(|l| l.starts_with("OVERFLOW: ALL POSITIONS BUSY AT CARYPOLICE: TO APEXPOLICE/")));
}

// 15
#[test]
fn a_duration_shorter_than_the_calls_is_warned_about() {
    let sc = Scenario::parse(
        "t.toml",
        &format!(
            "duration_ms = 5000\n{HEAD}{CALL}{}",
            CALL.replace("1000", "8000")
        ),
        &docs,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.warnings.len(), 1, "{:?}", sc.warnings);
    assert!(
        sc.warnings[0]
            .contains("1 call(s) start after it and are not placed, 1 call(s) are cut short"),
        "{}",
        sc.warnings[0]
    );
}

// 16
#[test]
fn generate_refuses_extra_arguments_and_levels_that_clip() {
    use e911_tandem::generate::script::render;
    for (line, want) in [
        ("tone 1000 -20 300 400", "unexpected `400`"),
        ("silence 100 200", "unexpected `200`"),
        ("mf KP 1 ST level=300", "level 300 dBm0"),
        ("mf KP 1 ST twist=20", "level 13 dBm0"),
        ("mf KP 1 ST level=0 twist=3", "would clip"),
        ("dtmf 1 level_low=3 level_high=3", "would clip"),
    ] {
        let e = render("s.txt", line).unwrap_err().to_string();
        assert!(e.starts_with("s.txt:1:") && e.contains(want), "{line}: {e}");
    }
}

// 17
#[test]
fn empty_or_partial_location_data_and_duplicates_are_errors() {
    use e911_tandem::location::{ali::Ali, lis::Lis, lis::Table, msag::Msag};
    use e911_tandem::tandem::datafill::load;
    let mut l = load(&[(PathBuf::from("e.dat"), String::new())]);
    l.require_office();
    let msgs: Vec<String> = l.errors().map(|p| p.to_string()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(
        msgs[0].starts_with("e.dat:1: E911PSAP: no tuples"),
        "{msgs:?}"
    );
    let partial = "TABLE E911ESN\nESN FLASH PRIMPSAP PSAP1 PSAP2 PSAP3 PSAP4 PSAP5 PSAP6\n";
    let mut l = load(&[(PathBuf::from("p.dat"), partial.into())]);
    l.require_office();
    assert!(!l.is_valid());
    // `datafill check` on an empty file exits 1.
    let d = scratch("empty-dat");
    std::fs::write(d.join("e.dat"), "").unwrap();
    let o = e911_in(&d, &["datafill", "check", "e.dat"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(Msag::parse("").unwrap_err()[0].contains("MSAG: empty"));
    let (_, e) = Ali::parse("");
    assert!(e[0].to_string().contains("no TN records"));
    let ali = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.ali"),
    )
    .unwrap();
    let first = ali.lines().find(|l| !l.starts_with('#')).unwrap();
    let (_, e) = Ali::parse(&format!("{ali}{first}\n"));
    assert_eq!(e.len(), 1);
    assert!(e[0].to_string().contains("is already on line"), "{}", e[0]);
    let wap = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/location/acme-wap.csv"),
    )
    .unwrap();
    let row = wap.lines().last().unwrap();
    let e = Lis::default()
        .load(Table::Wap, &format!("{wap}\n{row}\n"))
        .unwrap_err();
    assert!(e[0].contains("is already on line"), "{e:?}");
    assert!(Lis::default().load(Table::Wap, "").unwrap_err()[0].contains("no rows"));
}

// 18
#[test]
fn bench_refuses_a_mix_too_short_for_a_call_and_runs_from_any_directory() {
    usage_errors(&[
        &["bench", "--seconds", "5"],
        &["bench", "--seconds", "0"],
        &["bench", "--channels", "0"],
    ]);
    let d = scratch("bench");
    let o = e911_in(
        &d,
        &[
            "bench",
            "--no-latency",
            "--channels",
            "1",
            "--seconds",
            "12",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("SF + DP counts seizures, disconnects and dial-pulse digits"));
    let sf = text.lines().find(|l| l.contains("SF + DP ")).unwrap();
    assert!(!sf.contains("signals 0/"), "{sf}");
}

/// Each command line is a usage error: exit 2.
fn usage_errors(cases: &[&[&str]]) {
    for args in cases {
        let o = e911(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
    }
}

// 19
#[test]
fn usage_errors_exit_2_and_toml_errors_take_one_line() {
    usage_errors(&[
        &["detect", "--kinds", "mf,xx", "x.wav"],
        &["detect", "--kinds", "", "x.wav"],
        &["bench", "--trunks", "0"],
        &["bench", "--runs", "0"],
        &["bench", "--block-ms", "0"],
        &["bench", "--delay-blocks", "0"],
    ]);
    let e = scenario_error("datafill = \"../datafill/cary.dat\"\n[trunks]\nCARYEO1 = \"two\"\n");
    assert!(!e.contains('\n') && e.starts_with("t.toml:3:"), "{e}");
    // simulate --print-default X.toml writes X.toml.
    let d = scratch("print-x");
    let o = e911_in(&d, &["simulate", "--print-default", "X.toml"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(std::fs::read_to_string(d.join("X.toml"))
        .unwrap()
        .contains("builtin:datafill/cary.dat"));
}
