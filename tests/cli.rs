//! The `e911` binary as users run it: the contract's commands, output formats and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn e911(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(args)
        .output()
        .unwrap()
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("e911-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, text: &str) -> String {
    let p = dir().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn root(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

/// `e911 route --datafill DATAFILL --trunk CARYEO1 WAV EXTRA…`.
fn route_caryeo1(datafill: &str, wav: &str, extra: &[&str]) -> Output {
    let mut args = vec!["route", "--datafill", datafill, "--trunk", "CARYEO1", wav];
    args.extend_from_slice(extra);
    e911(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn cli_generate_then_detect_jsonl_follows_the_contract() {
    let script = write(
        "spill.txt",
        "# ANI spill on trunk 0, transfer code on trunk 1\nchannels 2\nsilence 120\nmf KP 0 5551234 ST\nchannel 1\nat 200\ndtmf *11\nnoise -40\n",
    );
    let wav = dir().join("spill.wav").display().to_string();
    let truth = dir().join("spill.truth").display().to_string();
    let o = e911(&["generate", &script, "-o", &wav, "--truth", &truth]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e911(&["detect", &wav, "--format", "jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mf: Vec<&str> = lines
        .iter()
        .filter(|v| v["kind"] == "mf")
        .map(|v| v["signal"].as_str().unwrap())
        .collect();
    assert_eq!(mf, ["KP", "0", "5", "5", "5", "1", "2", "3", "4", "ST"]);
    let dtmf: Vec<&str> = lines
        .iter()
        .filter(|v| v["kind"] == "dtmf")
        .map(|v| v["signal"].as_str().unwrap())
        .collect();
    assert_eq!(dtmf, ["*", "1", "1"]);
    for v in &lines {
        for f in [
            "channel",
            "kind",
            "signal",
            "start_ms",
            "end_ms",
            "reported_ms",
        ] {
            assert!(!v[f].is_null(), "{v} lacks {f}");
        }
    }
    // KP starts at 120 ms (the script) and is reported within 20 ms of it.
    let kp = &lines[0];
    assert_eq!(kp["channel"], 0);
    let reported = kp["reported_ms"].as_f64().unwrap();
    assert!(reported > 120.0 && reported <= 140.0, "{kp}");
    // Events of one channel are in reported_ms order.
    for ch in [0, 1] {
        let r: Vec<f64> = lines
            .iter()
            .filter(|v| v["channel"] == ch)
            .map(|v| v["reported_ms"].as_f64().unwrap())
            .collect();
        assert!(r.windows(2).all(|w| w[0] <= w[1]));
    }
    // The truth file lists what was placed.
    let t = std::fs::read_to_string(&truth).unwrap();
    assert_eq!(t.lines().count(), 13);
}

#[test]
fn cli_detect_kinds_runs_only_the_chosen_receivers() {
    let script = write("both.txt", "mf KP 1 ST\ndtmf 5\n");
    let wav = dir().join("both.wav").display().to_string();
    assert!(e911(&["generate", &script, "-o", &wav]).status.success());
    let o = e911(&["detect", &wav, "--format", "jsonl", "--kinds", "dtmf"]);
    let out = stdout(&o);
    assert!(out.contains("\"dtmf\"") && !out.contains("\"mf\""), "{out}");
    let o = e911(&["detect", &wav, "--kinds", "fax"]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(stderr(&o).contains("fax"));
}

#[test]
fn cli_generate_writes_other_rates_and_detect_reads_them_back() {
    let script = write("r48.txt", "rate 48000\nsilence 50\nmf KP 9 ST\n");
    let wav = dir().join("r48.wav").display().to_string();
    assert!(e911(&["generate", &script, "-o", &wav]).status.success());
    let o = e911(&["detect", &wav, "--format", "jsonl"]);
    let sigs: Vec<String> = stdout(&o)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["signal"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sigs, ["KP", "9", "ST"]);
}

#[test]
fn cli_bad_script_names_file_and_line_and_exits_1() {
    let script = write("bad.txt", "silence 10\nmf KP 12X ST\n");
    let o = e911(&["generate", &script, "-o", "/dev/null"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("bad.txt:2:") && e.contains("12X"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn cli_bad_wav_names_the_file_and_exits_1() {
    let f = write("notwav.wav", "this is text");
    let o = e911(&["detect", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("notwav.wav: not a WAV file"),
        "{}",
        stderr(&o)
    );
    let o = e911(&["detect", "/nonexistent/x.wav"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x.wav"));
    let empty = write("empty.wav", "");
    let o = e911(&["detect", &empty]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("empty"));
}

#[test]
fn cli_truncated_wav_prints_what_it_decoded_then_fails() {
    let script = write("tr.txt", "silence 50\nmf KP 0 5551234 ST\nsilence 800\n");
    let wav = dir().join("tr.wav");
    assert!(e911(&["generate", &script, "-o", wav.to_str().unwrap()])
        .status
        .success());
    let b = std::fs::read(&wav).unwrap();
    let cut = dir().join("tr-cut.wav");
    std::fs::write(&cut, &b[..b.len() - 9001]).unwrap();
    let o = e911(&["detect", cut.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("tr-cut.wav") && stderr(&o).contains("truncated"));
    assert_eq!(
        stdout(&o).lines().count(),
        10,
        "the spill before the cut is still reported"
    );
}

#[test]
fn cli_usage_error_exits_2() {
    let o = e911(&["detect"]);
    assert_eq!(o.status.code(), Some(2));
    let o = e911(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cli_sf_and_dial_pulses_follow_the_contract() {
    let script = write(
        "sf.txt",
        "sf on\nsilence 400\nsf seize\nsilence 600\ndp 91 pps=10 break=60\nsilence 400\nsf flash\nsilence 400\n",
    );
    let wav = dir().join("sf.wav").display().to_string();
    assert!(e911(&["generate", &script, "-o", &wav]).status.success());
    let o = e911(&["detect", &wav, "--format", "jsonl", "--kinds", "sf,dp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dp: Vec<(String, u64)> = lines
        .iter()
        .filter(|v| v["kind"] == "dp")
        .map(|v| {
            (
                v["signal"].as_str().unwrap().to_string(),
                v["pulses"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(dp, [("9".to_string(), 9), ("1".to_string(), 1)]);
    let sup: Vec<&str> = lines
        .iter()
        .filter(|v| v["kind"] == "sf" && v["signal"] != "on" && v["signal"] != "off")
        .map(|v| v["signal"].as_str().unwrap())
        .collect();
    assert_eq!(sup, ["seize", "flash"]);
    let seize = lines.iter().find(|v| v["signal"] == "seize").unwrap();
    assert!(
        (seize["start_ms"].as_f64().unwrap() - 400.0).abs() <= 2.0,
        "{seize}"
    );
    assert!(lines
        .iter()
        .all(|v| v["kind"] != "mf" && v["kind"] != "dtmf"));
}

#[test]
fn cli_bench_pipeline_reports_every_run_and_their_median_with_every_call_routed() {
    for delay in ["1", "2"] {
        let o = e911(&[
            "bench",
            "--trunks",
            "20",
            "--pipeline-seconds",
            "20",
            "--runs",
            "2",
            "--delay-blocks",
            delay,
            "--busy",
            "0.25",
        ]);
        let out = stdout(&o);
        assert!(o.status.success(), "{out}{}", stderr(&o));
        assert!(out.contains("run 1: ") && out.contains("run 2: "), "{out}");
        assert!(out.contains("median of 2 runs: 20.0 s simulated"), "{out}");
        // 5 trunks busy at a time with 8 s calls: one every 1.6 s, those that end in the run
        // (0 … 8 s: 6 calls), all routed (the first seizes as the trunk comes up).
        assert!(out.contains("calls: 6 placed, 6 routed"), "{out}");
        assert!(
            out.contains("trunks per core with 6 calls placed, 6 routed"),
            "{out}"
        );
        assert!(out.contains("traffic: 25 % of the trunks"), "{out}");
        assert!(
            out.contains(&format!("far end hears the tandem {delay} block(s) later")),
            "{out}"
        );
        for field in [
            "trunks in real time per core: ",
            "memory per trunk: ",
            "p99 ",
        ] {
            assert!(out.contains(field), "{field}: {out}");
        }
    }
    let o = e911(&["bench", "--trunks", "20", "--delay-blocks", "4"]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(
        stderr(&o).contains("--delay-blocks") && stderr(&o).contains("1–3"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sip_serve_refuses_a_bad_setup_in_one_line() {
    // Exit 1: the option names something the data does not have; 2: a bad value in itself.
    for (args, want, code) in [
        (
            &["--datafill", "docs/datafill/cary.dat"][..],
            "--datafill needs --msag",
            1,
        ),
        (
            &["--esgw", "WAKEPBX"][..],
            "must be an MF group with SF supervision",
            1,
        ),
        (&["--esgw", "NOPE"][..], "NOPE is not in TRKGRP", 1),
        (&["--listen", "0.0.0.0:5099"][..], "--media-ip", 2),
        (&["--esqk-npa", "212"][..], "no NPD in E911NPD", 1),
        (&["--psap-voice", "tone 5 -20"][..], "--psap-voice", 2),
    ] {
        let mut a = vec!["sip", "serve", "--seconds", "1"];
        a.extend_from_slice(args);
        let o = e911(&a);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{a:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
        assert!(err.contains(want), "{a:?}: {err}");
    }
}

#[test]
fn cli_simulate_and_route_report_the_mf_receiver_pool_when_one_is_datafilled() {
    // Two seizures 100 ms apart on an office with one MF receiver: the second waits.
    let cary = include_str!("../docs/datafill/cary.dat");
    let dat = write(
        "pool.dat",
        &format!("{cary}\nTABLE OFCENG\nPARMNAME PARMVAL\nMF_RECEIVERS 1\n"),
    );
    let sc = write(
        "pool.toml",
        &format!(
            "name = \"pool\"\ndatafill = \"{dat}\"\nduration_ms = 30000\n[trunks]\nCARYEO1 = 2\n\
             [[call]]\nat_ms = 1000\ntrunk = \"CARYEO1\"\nchannel = 0\nani = \"9195551234\"\nhold_ms = 15000\n\
             [[call]]\nat_ms = 1100\ntrunk = \"CARYEO1\"\nchannel = 1\nani = \"9195550100\"\nhold_ms = 15000\n"
        ),
    );
    let o = e911(&["simulate", &sc]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains("MF receiver pool (OFCENG MF_RECEIVERS 1): at most 1 attached at once; 1 seizure(s) waited for one"),
        "{out}"
    );
    assert!(out.contains("MF RECEIVER WAIT "), "{out}");
    // route on the bundled recording (two seizures 500 ms apart, each spill ~2 s): the second
    // waits, and its end office (a recording) spills into no receiver: ANI timeout, a record.
    let o = e911(&[
        "route",
        "--datafill",
        &dat,
        "--trunk",
        "CARYEO1",
        &root("audio-fixtures/spills/cary-eo.wav"),
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert_eq!(out.matches("call ").count(), 2, "{out}");
    assert!(out.contains("1 seizure(s) waited for one"), "{out}");
    // Without OFCENG no pool line.
    let o = e911(&[
        "route",
        "--datafill",
        &root("docs/datafill/cary.dat"),
        "--trunk",
        "CARYEO1",
        &root("audio-fixtures/spills/cary-eo.wav"),
    ]);
    assert!(!stdout(&o).contains("MF receiver pool"), "{}", stdout(&o));
}

/// `sip serve --registered`: a file that does not read, or an address the MSAG does not have
/// (its calls would all go to the ECRC), stops the start with the file, line and reason.
#[test]
fn cli_registered_locations_are_checked_before_serving() {
    let bad = write("reg-bad.csv", "TN,HNO,RD,A3,A1\n919555018,1,MAIN,CARY,NC\n");
    let o = e911(&["sip", "serve", "--registered", &bad, "--seconds", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("reg-bad.csv:2: TN \"919555018\" is not a 10-digit number"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    let nowhere = write(
        "reg-nowhere.csv",
        "# a comment\nTN,HNO,RD,STS,A3,A1\n9195550188,123,MAIN,ST,CARY,NC\n9195550199,5,NOWHERE,RD,CARY,NC\n",
    );
    let out = dir().join("reg-out");
    let o = e911(&[
        "sip",
        "serve",
        "--registered",
        &nowhere,
        "--seconds",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !out.join("calls.jsonl").exists(),
        "no output made before the check"
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("reg-nowhere.csv:4: TN 9195550199: 5 NOWHERE RD, CARY NC: not in the MSAG: O"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

/// Finding 8 (issue 29): an OS error is said once, not twice.
#[test]
fn finding_08_os_errors_are_said_once() {
    let o = e911(&["detect", "/tmp"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert_eq!(e.matches("Is a directory").count(), 1, "{e}");
    assert!(e.starts_with("e911: /tmp: "), "{e}");
}

/// Finding 6 (issue 29), for errors: a control character in a path is escaped, so the error
/// stays one line and no escape sequence reaches the terminal.
#[test]
fn finding_06_control_characters_in_an_error_are_escaped() {
    let o = e911(&["detect", "/nonexistent/a\nb\u{1b}[31m.wav"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e:?}");
    assert!(e.contains("a\\nb\\u{1b}[31m.wav"), "{e:?}");
    assert!(!e.contains('\u{1b}'), "{e:?}");
}

/// Finding 14 (issue 29): a bad option value is a usage error (exit 2) whoever finds it — clap
/// (`route --trunks 0`) or the command after parsing (`sip serve --trunks 0`, `--seconds 0`,
/// `--hold 0`).
#[test]
fn finding_14_bad_flag_values_exit_2_everywhere() {
    for args in [
        &["sip", "serve", "--trunks", "0"][..],
        &["sip", "serve", "--seconds", "0"],
        &["sip", "serve", "--hold", "0"],
        &["sip", "serve", "--esqk-per-esn", "0"],
    ] {
        let o = e911(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
}

/// Run `e911 args`, read the first bytes of its standard output, then close the pipe (as
/// `| head -1` does) and wait for it.
fn read_a_little_then_close(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read(&mut out, &mut first).unwrap();
    drop(out);
    child.wait_with_output().unwrap()
}

/// Finding 7 (issue 29): a reader that closes the pipe early (`| head -1`) ends the run quietly,
/// exit 0 — the reader has what it wanted.
#[test]
fn finding_07_a_closed_pipe_ends_quietly() {
    // Enough events to fill any pipe buffer: 400 spills.
    let script = write(
        "many.txt",
        &["mf KP 5551234 ST", "silence 100"].repeat(400).join("\n"),
    );
    let wav = dir().join("many.wav");
    let o = e911(&["generate", &script, "-o", wav.to_str().unwrap(), "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for fmt in ["text", "jsonl"] {
        let o = read_a_little_then_close(&["detect", wav.to_str().unwrap(), "--format", fmt]);
        assert_eq!(o.status.code(), Some(0), "{fmt}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{fmt}");
    }
    // Commands that print with println! end as quietly (no panic): bench, simulate.
    for args in [&["bench", "--no-throughput"][..], &["simulate"]] {
        let o = read_a_little_then_close(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
    // An MSAG address whose ESN the office does not have: no ESQK pool for its calls.
    let msag = write(
        "reg.msag",
        "PRD,STREET,STS,POD,LOW,HIGH,OEB,COMMUNITY,STATE,EXCHANGE,ESN\n,MAIN,ST,,1,199,B,CARY,NC,CARY,123\n,ELM,ST,,1,99,B,CARY,NC,CARY,999\n",
    );
    let elm = write(
        "reg-elm.csv",
        "TN,HNO,RD,STS,A3,A1\n9195550188,5,ELM,ST,CARY,NC\n",
    );
    let df = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/datafill/cary.dat");
    let o = e911(&[
        "sip",
        "serve",
        "--datafill",
        df,
        "--msag",
        &msag,
        "--esgw",
        "VPCESGW",
        "--registered",
        &elm,
        "--seconds",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("reg-elm.csv:2: TN 9195550188: 5 ELM ST, CARY NC: its ESN 999 is not in the office's E911ESN"), "{e}");
}

/// A WAV header and `data` of `fmt` (the `fmt ` chunk body) — a file made by hand, not by the
/// crate under test.
fn wav_with_fmt(name: &str, fmt: &[u8], data: &[u8]) -> String {
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    b.extend_from_slice(fmt);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    let p = dir().join(name);
    std::fs::write(&p, b).unwrap();
    p.to_str().unwrap().to_string()
}

/// Finding 9 (issue 29): a valid WAV in an encoding the tool does not read (64-bit float, IMA
/// ADPCM) is called that, with what to convert to — not "ill-formed".
#[test]
fn finding_09_valid_unsupported_wavs_are_named_and_not_called_ill_formed() {
    // fmt: tag, channels, rate, byte rate, block align, bits (+ extension for ADPCM).
    let fmt = |tag: u16, align: u16, bits: u16, ext: &[u8]| {
        let mut f = Vec::new();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&8000u32.to_le_bytes());
        f.extend_from_slice(&(8000 * align as u32).to_le_bytes());
        f.extend_from_slice(&align.to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        f.extend_from_slice(ext);
        f
    };
    let f64_wav = wav_with_fmt("f64.wav", &fmt(3, 8, 64, &[]), &[0u8; 800]);
    // IMA ADPCM: cbSize 2, 505 samples per 256-byte block.
    let ima = wav_with_fmt(
        "ima.wav",
        &fmt(0x11, 256, 4, &[2, 0, 0xF9, 0x01]),
        &[0u8; 256],
    );
    for (f, name) in [(&f64_wav, "64-bit float WAV"), (&ima, "IMA ADPCM WAV")] {
        let o = e911(&["detect", f]);
        assert_eq!(o.status.code(), Some(1));
        let e = stderr(&o);
        assert!(e.contains(name) && e.contains("does not read"), "{e}");
        assert!(e.contains("16-bit PCM"), "{e}");
        assert!(!e.to_lowercase().contains("ill-formed"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

/// Finding 6 (issue 29), for what files hold: a control character in a script line, a datafill
/// field or an MSAG line is shown escaped, one problem per line, and no ESC reaches the terminal.
#[test]
fn finding_06_control_characters_in_files_are_escaped() {
    let clean = |o: &Output, lines: usize| {
        let all = format!("{}{}", stdout(o), stderr(o));
        assert!(!all.contains('\u{1b}'), "{all:?}");
        assert!(all.to_lowercase().contains("\\u{1b}[31m"), "{all:?}");
        assert_eq!(stderr(o).lines().count(), lines, "{all:?}");
    };
    let script = write("esc.txt", "mf KP 555\u{1b}[31m1234 ST\n");
    let wav = dir().join("esc.wav");
    let o = e911(&["generate", &script, "-o", wav.to_str().unwrap(), "--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("esc.txt:1: "), "{}", stderr(&o));
    clean(&o, 1);

    let dat = std::fs::read_to_string(root("docs/datafill/cary.dat"))
        .unwrap()
        .replacen("CARYPOLICE", "CARY\u{1b}[31mPOLICE", 1);
    let o = e911(&["datafill", "check", &write("esc.dat", &dat)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("E911PSAP.PSAPNAME: `CARY\\u{1b}[31mPOLICE`"),
        "{}",
        stdout(&o)
    );
    clean(&o, 1);

    let msag = write(
        "esc.msag",
        "PRD,STREET,STS,POD,LOW,HIGH,OEB,COMMUNITY,STATE,EXCHANGE,ESN\n,MAIN,ST,,1,199,\u{1b}[31m,CARY,NC,CARY,123\n,ELM,ST,,1,99,Q,CARY,NC,CARY,999\n",
    );
    let o = e911(&[
        "msag",
        "validate",
        "--msag",
        &msag,
        &root("docs/datafill/cary.dat"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.lines().next().unwrap().contains("esc.msag:2: MSAG.OEB"),
        "{e}"
    );
    assert!(
        e.lines().nth(1).unwrap().contains("esc.msag:3: MSAG.OEB"),
        "{e}"
    );
    assert!(
        e.lines().nth(2).unwrap().contains("2 line(s) rejected"),
        "{e}"
    );
    clean(&o, 3);
}

/// Finding 12 (issue 29): the E911SRDB that `msag validate --srdb` writes loads as datafill, as
/// docs/location.md says: in a directory beside the office's other tables, checked and run.
#[test]
fn finding_12_the_srdb_msag_validate_writes_loads_as_datafill() {
    let d = dir().join("srdb-office");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    // The office without its hand-written E911SRDB (the table and its rows cut out).
    let cary = std::fs::read_to_string(root("docs/datafill/cary.dat")).unwrap();
    let start = cary.find("TABLE E911SRDB").unwrap();
    let end = cary.find("TABLE TRKGRP").unwrap();
    let office = format!("{}{}", &cary[..start], &cary[end..]);
    std::fs::write(d.join("office.dat"), office).unwrap();
    let srdb = d.join("srdb.dat");
    let o = e911(&[
        "msag",
        "validate",
        "--msag",
        &root("docs/datafill/cary.msag"),
        &root("docs/datafill/cary.ali"),
        "--srdb",
        srdb.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e911(&["datafill", "check", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("ok — 6 PSAPs, 2 NPDs, 3 ESNs, 3 E911SRDB rows, 4 E911 trunk groups"),
        "{}",
        stdout(&o)
    );
    // The same rows as the hand-written table: the same routes for the same calls.
    let route = |df: &str| {
        let o = route_caryeo1(df, &root("audio-fixtures/spills/cary-eo.wav"), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(
        route(d.to_str().unwrap()),
        route(&root("docs/datafill/cary.dat"))
    );
    // Beside an office that keeps its own E911SRDB: one error, not one per row.
    std::fs::copy(root("docs/datafill/cary.dat"), d.join("office.dat")).unwrap();
    let o = e911(&["datafill", "check", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("srdb.dat:1: E911SRDB: table datafilled twice"),
        "{out}"
    );
}

/// Finding 13 (issue 29): one datafill typo is reported once, at its cause — not again by every
/// row that refers to what it broke — and a mutual overflow loop is a warning, not a silent "ok".
#[test]
fn finding_13_one_typo_one_message_and_overflow_loops_warned() {
    let cary = std::fs::read_to_string(root("docs/datafill/cary.dat")).unwrap();
    let check = |name: &str, text: String| {
        let o = e911(&["datafill", "check", &write(name, &text)]);
        (o.status.code(), stdout(&o))
    };
    let (code, out) = check("pos0.dat", cary.replacen("SF    4 ", "SF    0 ", 1));
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("pos0.dat:6: E911PSAP.POSITIONS: `0` is not a number 1–99"),
        "{out}"
    );
    let (code, out) = check("hdr.dat", cary.replacen("POSITIONS", "POSITION", 1));
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("hdr.dat:5: E911PSAP.POSITION: unknown field (the header lacks POSITIONS)"),
        "{out}"
    );
    let looped = cary.replacen(
        "APEXPOLICE      1DIGIT  SF    2          NONE ",
        "APEXPOLICE      1DIGIT  SF    2          CARYPOLICE ",
        1,
    );
    assert_ne!(looped, cary);
    let (code, out) = check("loop.dat", looped);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("overflow loop").count(), 1, "{out}");
    assert!(
        out.contains("E911PSAP.OVFL: warning: overflow loop APEXPOLICE → CARYPOLICE → APEXPOLICE"),
        "{out}"
    );
}

/// Finding 5 (issue 29): `detect` prints its events in time order across channels (by the time
/// each was reported), in text and JSON lines alike — the same events as before, not per-channel
/// blocks.
#[test]
fn finding_05_detect_prints_in_time_order_across_channels() {
    // Two channels whose events interleave, past the first stream block (2 channels: 262 144
    // frames, 32.8 s) so events are held across blocks: channel 0 signals every 0.9 s, channel 1
    // every 1.3 s, for 30 keys each (to 38 s).
    let mut lines = vec!["channels 2".to_string()];
    for k in 0..30 {
        lines.push(format!("channel 0\nat {}\nmf KP 5551234 ST", k * 900 + 100));
        lines.push(format!("channel 1\nat {}\ndtmf 1", k * 1300 + 200));
    }
    let script = write("order.txt", &lines.join("\n"));
    let wav = dir().join("order.wav");
    let o = e911(&["generate", &script, "-o", wav.to_str().unwrap(), "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e911(&["detect", wav.to_str().unwrap(), "--format", "jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let evs: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reported: Vec<f64> = evs
        .iter()
        .map(|e| e["reported_ms"].as_f64().unwrap())
        .collect();
    assert!(reported.windows(2).all(|w| w[0] <= w[1]), "{reported:?}");
    let on = |c: u64| evs.iter().filter(|e| e["channel"] == c).count();
    assert!(on(0) >= 30 && on(1) >= 30, "{} {}", on(0), on(1));
    assert!(*reported.last().unwrap() > 33_000.0, "past the first block");
    let o = e911(&["detect", wav.to_str().unwrap()]);
    let reported: Vec<f64> = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(5).unwrap().parse().unwrap())
        .collect();
    assert!(reported.windows(2).all(|w| w[0] <= w[1]), "{reported:?}");
    assert_eq!(reported.len(), evs.len());
}

/// Finding 4 (issue 29): `route` takes a trunk as idle from its first idle tone, as `live` does —
/// a recording that starts with 50 ms of silence (as `bench --write-mix` output does) seizes no
/// trunk at 50 ms; its calls are the bundled recording's, 50 ms later.
#[test]
fn finding_04_route_ignores_silence_before_the_idle_tone() {
    let src = root("audio-fixtures/spills/cary-eo.wav");
    let mut r = hound::WavReader::open(&src).unwrap();
    let spec = r.spec();
    let x: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let late = dir().join("late-idle.wav");
    let mut w = hound::WavWriter::create(&late, spec).unwrap();
    for _ in 0..400 * spec.channels as usize {
        w.write_sample(0i16).unwrap();
    }
    for s in x {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let route = |f: &str| {
        let o = route_caryeo1(&root("docs/datafill/cary.dat"), f, &["--format", "jsonl"]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let (want, got) = (route(&src), route(late.to_str().unwrap()));
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g["ani"], w["ani"], "{g}");
        assert_eq!(g["abandoned"], false, "{g}");
        assert_eq!(g["psap"], w["psap"], "{g}");
        let (ws, gs) = (
            w["seized_ms"].as_f64().unwrap(),
            g["seized_ms"].as_f64().unwrap(),
        );
        assert!((gs - ws - 50.0).abs() < 0.5, "{ws} → {gs}");
    }
    assert!(!format!("{got:?}").contains("setup"), "{got:#?}");
}

/// Finding 1 (issue 29): `bench` refuses a pipeline run too short to place and end its calls, and
/// every throughput figure it prints comes with the calls placed and routed.
#[test]
fn finding_01_bench_refuses_a_run_without_calls_and_figures_carry_their_calls() {
    for s in ["1", "10", "19.9"] {
        let o = e911(&[
            "bench",
            "--trunks",
            "100",
            "--runs",
            "1",
            "--pipeline-seconds",
            s,
        ]);
        assert_eq!(o.status.code(), Some(2), "{s}: {}", stderr(&o));
        assert!(stderr(&o).contains("--pipeline-seconds"), "{}", stderr(&o));
        assert!(!stdout(&o).contains("per core"), "{}", stdout(&o));
    }
    let o = e911(&[
        "bench",
        "--trunks",
        "40",
        "--runs",
        "1",
        "--pipeline-seconds",
        "20",
        "--busy",
        "0.1",
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    // 4 trunks busy with 8 s calls: one every 2 s, those that end in the run: 0 … 8 s.
    for l in out.lines().filter(|l| l.contains("per core")) {
        assert!(
            l.contains("with 5 calls placed, 5 routed") || l.contains("with the calls above"),
            "{l}"
        );
    }
    assert!(out.contains("calls: 5 placed, 5 routed"), "{out}");
}

/// Finding 15 (issue 29): flags that would be ignored or taken twice are refused, `detect -`
/// reads a WAV from standard input as `generate -` reads a script, and `g711 mulaw` is what the
/// docs say.
#[test]
fn finding_15_ignored_or_doubled_flags_are_refused_and_stdin_reads() {
    for args in [
        &["bench", "--no-throughput", "--write-mix", "/tmp/never.wav"][..],
        &["bench", "--trunks", "10", "--write-mix", "/tmp/never.wav"],
    ] {
        let o = e911(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--write-mix"), "{}", stderr(&o));
    }
    assert!(!std::path::Path::new("/tmp/never.wav").exists());
    let eo = root("audio-fixtures/spills/cary-eo.wav");
    let (police, twice) = (format!("CARYPOLICE={eo}"), format!("caryPolice={eo}"));
    let o = route_caryeo1(
        &root("docs/datafill/cary.dat"),
        &eo,
        &["--psap-in", &police, "--psap-in", &twice],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--psap-in caryPolice: given twice"),
        "{}",
        stderr(&o)
    );
    // detect - : the same events as from the file.
    let mut child = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["detect", "-", "--format", "jsonl"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(&eo).unwrap();
    let mut sin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut sin, &bytes).unwrap();
    drop(sin);
    let piped = child.wait_with_output().unwrap();
    assert!(piped.status.success(), "{}", stderr(&piped));
    let from_file = e911(&["detect", &eo, "--format", "jsonl"]);
    assert_eq!(stdout(&piped), stdout(&from_file));
    assert!(stdout(&piped).lines().count() > 10);
    // g711 mulaw, as documented, is μ-law: the same file as `g711 ulaw`.
    let make = |law: &str| {
        let s = write(&format!("g711-{law}.txt"), &format!("dtmf 5\ng711 {law}\n"));
        let w = dir().join(format!("g711-{law}.wav"));
        let o = e911(&["generate", &s, "-o", w.to_str().unwrap(), "--force"]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read(w).unwrap()
    };
    assert_eq!(make("mulaw"), make("ulaw"));
    assert_ne!(make("alaw"), make("ulaw"));
    let doc = std::fs::read_to_string(root("docs/generate.md")).unwrap();
    assert!(doc.contains("`mulaw`"), "docs/generate.md names mulaw");
}

/// Finding 17 (issue 29): `route` prints a call as `simulate` does — seconds, `919-555-1234`,
/// `-` for no called digits, the same words for abandoned and delivered calls — and a wrong
/// called-digit log says what the trunk group expects.
#[test]
fn finding_17_route_and_simulate_print_a_call_alike() {
    let o = route_caryeo1(
        &root("docs/datafill/cary.dat"),
        &root("audio-fixtures/spills/cary-eo.wav"),
        &[],
    );
    let route = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    let sim = stdout(&e911(&["simulate"]));
    // The same first call (919-555-1234 on CARYEO1/0 at 1.05 s, to CARYPOLICE) in both: the
    // lines differ only in the position chosen and the times of the far end.
    let first = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("call 1 "))
            .unwrap()
            .to_string()
    };
    assert_eq!(first(&route), first(&sim));
    assert!(
        route.contains("ANI 919-555-1234 (ok)") && !route.contains(" ms "),
        "{route}"
    );
    let second = |t: &str| {
        t.lines()
            .skip_while(|l| !l.starts_with("call 1 "))
            .nth(1)
            .unwrap()
            .split("  ")
            .take(2)
            .collect::<Vec<_>>()
            .join("  ")
    };
    assert_eq!(second(&route), second(&sim));
    // The E911201 log's expected digits: tests/incoming_trunk.rs (wrong called digits).
}
