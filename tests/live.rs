//! Live sound-card I/O through a loopback device (CI: `scripts/pulse-loopback.sh`, a PulseAudio
//! null sink whose monitor is the default input). Built only with `--features live`.

use std::process::Command;

/// The first number after `key` on the line that contains `line`.
fn figure(out: &str, line: &str, key: &str) -> f64 {
    let l = out
        .lines()
        .find(|l| l.contains(line))
        .unwrap_or_else(|| panic!("no line with {line:?} in\n{out}"));
    let rest = &l[l.find(key).unwrap_or_else(|| panic!("no {key:?} in {l}")) + key.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_loopback_brings_back_bursts_kps_and_a_spill_within_tens_of_milliseconds() {
    // As the three-process exchange below: a run spoilt by the sound server stalling (≥ 3 device
    // stalls: frames dropped or repeated inside a spill) is made again, at most twice; any other
    // failure fails at once.
    for attempt in 1..=3 {
        let o = Command::new(env!("CARGO_BIN_EXE_e911"))
            .args([
                "live",
                "loopback",
                "--probes",
                "20",
                "--spill",
                "KP 0 5551234 ST",
            ])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        // The figures, for the CI log.
        println!("{out}{err}");
        let worst = stalls(&out).max(stalls(&err));
        match loopback_checks(o.status.success(), &out, &err) {
            Ok(()) => return,
            Err(why) if worst >= 3 && attempt < 3 => {
                println!(
                    "== run {attempt}: {why}; the sound server stalled {worst} times: once more"
                )
            }
            Err(why) => panic!("{why} (run {attempt}, {worst} device stalls)"),
        }
    }
}

/// What a loopback run must show.
fn loopback_checks(ok: bool, out: &str, err: &str) -> Result<(), String> {
    let check = |cond: bool, what: String| if cond { Ok(()) } else { Err(what) };
    check(ok, format!("exit status: {out}{err}"))?;
    check(
        out.contains("heard: KP 0 5 5 5 1 2 3 4 ST"),
        format!("the spill: {out}"),
    )?;
    // A device buffer from the ladder, never the silent default.
    check(
        err.contains("buffer 128 frames") || err.contains("buffer 192 frames"),
        format!("the buffer: {err}"),
    )?;
    // Loose bounds that cannot flake on a loaded CI machine; the tight figures (p50 ≤ 20 ms,
    // p99 ≤ 30 ms, KP p99 ≤ 50 ms) are measured by scripts/live-latency (docs/performance.md).
    let dev = figure(out, "device round trip", "p50 ");
    let kp = figure(out, "signal round trip", "p99 ");
    check(
        dev > 1.0 && dev < 60.0,
        format!("device round trip p50 {dev} ms"),
    )?;
    check(kp > dev && kp < 120.0, format!("KP round trip p99 {kp} ms"))?;
    check(
        figure(out, "glitches", "glitches: ") <= 4.0,
        format!("glitches: {out}"),
    )
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

/// A fresh directory for one test's files.
fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("e911-live-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A new 8 kHz stereo null sink on the test's PulseAudio server (a "wire").
fn wire(name: &str) {
    let o = Command::new("pactl")
        .args([
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
            "rate=8000",
            "channels=2",
            "norewinds=1",
        ])
        .output()
        .expect("pactl (scripts/pulse-loopback.sh runs the live tests)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `e911` with the card's output on sink `out` and its input from `inp`'s monitor.
fn e911_on(out: &str, inp: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_e911"));
    c.env("PULSE_SINK", out)
        .env("PULSE_SOURCE", format!("{inp}.monitor"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `e911 detect --format jsonl` on a recording: (kind, signal, start, end, reported) in ms.
fn detect(wav: &std::path::Path) -> Vec<(String, String, f64, f64, f64)> {
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["detect", "--kinds", "sf,mf", "--format", "jsonl"])
        .arg(wav)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["kind"].as_str().unwrap().to_string(),
                v["signal"].as_str().unwrap().to_string(),
                v["start_ms"].as_f64().unwrap(),
                v["end_ms"].as_f64().unwrap_or(f64::NAN),
                v["reported_ms"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Three processes across two crossed wires: `live eo` places a call on channel 0 of wire A,
/// `live tandem` hears wire A (channel 0 its CARYEO1 trunk, channel 1 CARYPOLICE position 0)
/// and answers on wire B; `live psap` is channel 1 of both. The call is seized, winked, gets its
/// called digits and ANI, is routed and delivered with the regenerated spill decoded at the live
/// PSAP, whose `*11` is conferenced; `--expect` passes; the tandem's wink and ANI off-hook,
/// measured on its recordings, are within ±5 ms of its datafill.
/// One run of the three processes on the two wires (made by the caller): tandem, psap, eo.
fn three_processes(
    d: &std::path::Path,
) -> (
    std::process::Output,
    std::process::Output,
    std::process::Output,
) {
    let df = "docs/datafill/cary.dat";
    let ali = "docs/datafill/cary.ali";
    let rec = d.join("tandem");
    let rec_s = rec.to_str().unwrap();
    let tandem = e911_on(
        "wireB",
        "wireA",
        &[
            "live",
            "tandem",
            "--datafill",
            df,
            "--ali",
            ali,
            "--trunk",
            "CARYEO1",
            "--psap",
            "CARYPOLICE:1",
            "--seconds",
            "19",
            "--record",
            rec_s,
            "--expect",
            "tests/live_fixtures/one-call.expect",
        ],
    )
    .spawn()
    .unwrap();
    let psap = e911_on(
        "wireA",
        "wireB",
        &[
            "live",
            "psap",
            "--datafill",
            df,
            "--ali",
            ali,
            "--psap",
            "CARYPOLICE",
            "--first-channel",
            "1",
            "--transfer",
            "*11",
            "--after",
            "3s",
            "--hold",
            "8s",
            "--seconds",
            "18",
        ],
    )
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let eo = e911_on(
        "wireA",
        "wireB",
        &[
            "live",
            "eo",
            "tests/live_fixtures/one-call.toml",
            "--seconds",
            "19",
            "--record",
            d.join("eo").to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    (
        tandem.wait_with_output().unwrap(),
        psap.wait_with_output().unwrap(),
        eo,
    )
}

#[test]
fn device_stalls_are_read_from_the_tally() {
    let t = "19.0 s on the card; xruns: 15 (0 late output callbacks, 0 samples of silence played; 0 late input callbacks, 0 samples dropped; 15 device stalls, 15838 frames of output dropped to restore the latency)";
    assert_eq!(stalls(t), 15);
    assert_eq!(stalls("xruns: 0 (… 0 device stalls, 0 frames …)"), 0);
    assert_eq!(stalls("no tally"), 0);
}

/// Device stalls a live process reported (the sound server consuming less than real time).
fn stalls(text: &str) -> u64 {
    text.split(" device stalls")
        .next()
        .filter(|_| text.contains(" device stalls"))
        .and_then(|before| before.rsplit([' ', '(']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn eo_tandem_and_psap_in_three_processes_across_a_wire() {
    wire("wireA");
    wire("wireB");
    // A sound server that stalls again and again (seen on a loaded CI host: 15 stalls in 19 s in
    // all three processes at once, output dropped to restore the latency) carries no reliable
    // signalling. A run that fails while any process reported 3 or more stalls says so and is
    // run again, at most twice; any other failure fails at once.
    for attempt in 1..=3 {
        // Each run records into a fresh directory (a run never overwrites the last one's files).
        let d = tmp(&format!("wire{attempt}"));
        let (tandem, psap, eo) = three_processes(&d);
        let (t, p, e) = (text(&tandem), text(&psap), text(&eo));
        println!("== run {attempt}\n== tandem\n{t}\n== psap\n{p}\n== eo\n{e}");
        let ok = [&tandem, &psap, &eo].iter().all(|o| o.status.success());
        let verdict = if ok {
            exchange_checks(&d, &t, &p, &e)
        } else {
            Err("a process failed".into())
        };
        let worst = [&t, &p, &e].iter().map(|x| stalls(x)).max().unwrap_or(0);
        match verdict {
            Ok(()) => return,
            Err(why) if worst >= 3 && attempt < 3 => {
                println!(
                    "== run {attempt}: {why}; the sound server stalled {worst} times: once more"
                )
            }
            Err(why) => panic!("{why} (run {attempt}, at most {worst} device stalls)"),
        }
    }
}

/// What one run of the three processes must show (their texts: tandem, psap, eo).
fn exchange_checks(d: &std::path::Path, t: &str, p: &str, e: &str) -> Result<(), String> {
    let check = |cond: bool, why: String| if cond { Ok(()) } else { Err(why) };
    // The end office: seized, heard the wink and the off-hook, spilled.
    for want in [
        "call 1: seize",
        "wink heard",
        "called digits `911` sent",
        "off-hook heard: send ANI",
        "ANI spill `KP 0 5551234 ST` sent",
        "hang up",
    ] {
        check(e.contains(want), format!("eo: no {want:?}"))?;
    }
    // The tandem: routed on the ANI, delivered to the live position with the ANI regenerated.
    for want in [
        "called 911, spill `KP 0 5551234 ST`: ANI 9195551234 (ok) → ESN 123 (srdb)",
        "call 1: delivered to CARYPOLICE pos 0, sent `KP 0 5551234 ST`",
        "call 1: answered",
        "call 1: CARYPOLICE dialled `*11` → CARYFIRE pos 0: conferenced",
        "EXPECT call 1 PASS",
        "EXPECT: 1 of 1 call(s) passed, 0 expected call(s) not placed",
    ] {
        check(t.contains(want), format!("tandem: no {want:?}"))?;
    }
    // The live PSAP decoded the regenerated spill and showed Jane's ALI record.
    for want in [
        "spill `KP 0 5551234 ST` → (919) 555-1234 RESD | 123 MAIN ST",
        "flash, dial `*11`",
    ] {
        check(p.contains(want), format!("psap: no {want:?}"))?;
    }
    // Timing at the card, from the tandem's own recordings: the wink 150 ms after the 50 ms
    // that recognise the seizure, 200 ms long; the off-hook for ANI at the called digits' ST
    // (ANIDELAY 0).
    let rec = d.join("tandem");
    let heard = detect(&rec.join("heard-ch0.wav"));
    let sent = detect(&rec.join("sent-ch0.wav"));
    let find = |v: &[(String, String, f64, f64, f64)], sig: &str, after: f64, what: &str| {
        v.iter()
            .find(|x| x.1 == sig && x.2 > after)
            .cloned()
            .ok_or(format!("no {what}"))
    };
    let seize = find(&heard, "seize", f64::MIN, "seizure heard")?;
    let wink = find(&sent, "wink", f64::MIN, "wink sent")?;
    let st = find(&heard, "ST", f64::MIN, "ST of the called digits")?;
    let offhook = find(&sent, "seize", wink.3, "off-hook for ANI")?;
    let (delay, len, ani) = (wink.2 - seize.2, wink.3 - wink.2, offhook.2 - st.4);
    println!(
        "wink {delay:.1} ms after the seizure, {len:.1} ms long; off-hook {ani:.1} ms after ST"
    );
    check((delay - 200.0).abs() <= 5.0, format!("wink delay {delay}"))?;
    check((len - 200.0).abs() <= 5.0, format!("wink length {len}"))?;
    check(ani.abs() <= 5.0, format!("ANI off-hook {ani}"))?;
    // On the far side, as the end office recorded it across the wire: the wink's length is the
    // tandem's (its delay there also holds the wire's round trip, measured by `live loopback`).
    let far = detect(&d.join("eo").join("heard-ch0.wav"));
    let w = find(&far, "wink", f64::MIN, "wink heard by the end office")?;
    println!("the end office heard a {:.1} ms wink", w.3 - w.2);
    check(
        (w.3 - w.2 - 200.0).abs() <= 5.0,
        format!("far-side wink {:.1} ms", w.3 - w.2),
    )
}

/// The tandem role against a recording played into the card: the same calls as `route` gives
/// on the file.
#[test]
fn the_tandem_on_a_played_recording_routes_as_route_does() {
    wire("playA");
    wire("playB");
    let f = "audio-fixtures/spills/cary-eo.wav";
    let df = "docs/datafill/cary.dat";
    let tandem = e911_on(
        "playB",
        "playA",
        &[
            "live",
            "tandem",
            "--datafill",
            df,
            "--trunk",
            "CARYEO1",
            "--trunks",
            "2",
            "--seconds",
            "11",
            "--format",
            "jsonl",
        ],
    )
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let play = Command::new("paplay")
        .args(["--device=playA", f])
        .output()
        .unwrap();
    assert!(play.status.success(), "{}", text(&play));
    let tandem = tandem.wait_with_output().unwrap();
    assert!(tandem.status.success(), "{}", text(&tandem));
    let route = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args([
            "route",
            "--datafill",
            df,
            "--trunk",
            "CARYEO1",
            f,
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    let keys = [
        "trunk",
        "channel",
        "called",
        "ani_spill",
        "ani",
        "ani_status",
        "esn",
        "esn_source",
        "psap",
        "position",
        "outpulsed",
    ];
    let pick = |v: &serde_json::Value| keys.map(|k| v[k].to_string()).join(" ");
    let mut live: Vec<String> = String::from_utf8_lossy(&tandem.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "record")
        .map(|v| pick(&v))
        .collect();
    let mut want: Vec<String> = String::from_utf8_lossy(&route.stdout)
        .lines()
        .map(|l| pick(&serde_json::from_str(l).unwrap()))
        .collect();
    live.sort();
    want.sort();
    println!("live:\n{}\nroute:\n{}", live.join("\n"), want.join("\n"));
    assert_eq!(want.len(), 2);
    assert_eq!(live, want);
}

/// Findings 10 and 11 (issue 29), with no sound card (an empty ALSA configuration: no `default`
/// device): every role fails with our one line — no "ALSA lib" noise, no "unplugged" for a card
/// that never was — bad flags are refused before any device is opened, `live --help` names the
/// roles, and a failed `--record` run leaves no files, so the next run is not refused.
#[test]
fn finding_10_11_no_sound_card_one_clear_line_and_nothing_left() {
    let conf = tmp("no-card").join("empty-alsa.conf");
    std::fs::write(&conf, "\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_e911"))
            .env("ALSA_CONFIG_PATH", &conf)
            .args(args)
            .output()
            .unwrap()
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let df = format!("{root}/docs/datafill/cary.dat");
    let rec = tmp("no-card-rec").join("rec");
    let rec_s = rec.to_str().unwrap();
    let scenario = format!("{root}/tests/live_fixtures/one-call.toml");
    for args in [
        vec![
            "live",
            "tandem",
            "--datafill",
            &df,
            "--trunk",
            "CARYEO1",
            "--seconds",
            "1",
        ],
        vec![
            "live",
            "psap",
            "--datafill",
            &df,
            "--psap",
            "CARYPOLICE",
            "--record",
            rec_s,
        ],
        vec!["live", "eo", &scenario, "--seconds", "1"],
        vec!["live", "listen", "--seconds", "1"],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("no sound card answers"), "{args:?}: {err}");
        assert!(
            !err.contains("ALSA lib") && !err.contains("unplugged"),
            "{err}"
        );
    }
    assert!(
        !rec.exists(),
        "a run that never started made {}",
        rec.display()
    );
    // Bad flags: refused before the card (no card message).
    for args in [
        vec![
            "live",
            "psap",
            "--datafill",
            &df,
            "--psap",
            "CARYPOLICE",
            "--transfer",
            "*1Z",
        ],
        vec![
            "live",
            "tandem",
            "--datafill",
            &df,
            "--trunk",
            "CARYEO1",
            "--buffer-ms",
            "0.5",
        ],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            matches!(o.status.code(), Some(1) | Some(2)),
            "{args:?}: {err}"
        );
        assert!(!err.contains("sound card"), "{args:?}: {err}");
    }
    let o = run(&["live", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    for role in ["tandem", "eo", "psap"] {
        assert!(help.contains(&format!("  {role} ")), "{help}");
    }
    assert!(!help.lines().next().unwrap().contains("trunk"), "{help}");
}
