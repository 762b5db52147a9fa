//! `e911 simulate`: the embedded default office in closed loop, checked against tandem.md's
//! routing and regenerated-ANI rules (the expected spills are written out by hand from §4, not
//! computed by the code under test); scenario errors; the CLI with `--out`.

use std::path::{Path, PathBuf};
use std::process::Command;

use e911_tandem::register::mf::MfReceiver;
use e911_tandem::sim::scenario::Scenario;
use e911_tandem::sim::{run_inline, SimCall, SimRun};
use e911_tandem::tandem::ani::spill_string;

fn default_run() -> SimRun {
    run_inline(&Scenario::default_office(), &mut |_, _, _, _| {}).unwrap()
}

fn by_scenario(run: &SimRun, n: usize) -> &SimCall {
    run.calls
        .iter()
        .find(|c| c.scenario_call == Some(n))
        .unwrap_or_else(|| panic!("scenario call {n} has no record: {:#?}", run.calls))
}

#[test]
fn the_default_office_routes_every_call_as_tandem_md_says() {
    let run = default_run();
    assert_eq!(run.calls.len(), 9, "one record per seizure");
    // (scenario call, ANI status, ESN, source, PSAP, sent to the PSAP)
    let want = [
        (1, "ok", 123, "srdb", "CARYPOLICE", "KP 0 5551234 ST"),
        (
            2,
            "failure",
            123,
            "default",
            "CARYPOLICE",
            "KP 0 9110011 ST",
        ),
        (3, "ok", 200, "srdb", "APEXPOLICE", "KP 1 5557000 ST"),
        (4, "ok", 124, "srdb", "CARYPOLICE", "KP 4 5550100 ST"),
        (5, "none", 124, "default", "CARYPOLICE", "KP 5 9110013 ST"),
        (6, "ok", 123, "default", "APEXPOLICE", "KP 0 5559999 ST"),
        (
            7,
            "timeout",
            123,
            "default",
            "CARYPOLICE",
            "KP 0 9110011 ST",
        ),
    ];
    for (n, status, esn, source, psap, sent) in want {
        let r = &by_scenario(&run, n).record;
        assert_eq!(
            (
                r.ani_status,
                r.esn,
                r.esn_source,
                r.psap.as_deref(),
                r.outpulsed.as_deref()
            ),
            (status, Some(esn), Some(source), Some(psap), Some(sent)),
            "call {n}: {r:#?}"
        );
        assert!(r.answered_ms.is_some(), "call {n} answered");
        assert!(r.released_ms.is_some(), "call {n} released");
    }
    // Call 6 overflowed from CARYPOLICE (4 positions busy) to APEXPOLICE; call 7 queued.
    assert!(by_scenario(&run, 7)
        .record
        .logs
        .iter()
        .any(|l| l.contains("QUEUED")));
    assert!(by_scenario(&run, 2).record.logs[0].starts_with("E911202"));
    assert!(by_scenario(&run, 6).record.logs[0].starts_with("E911203"));
}

#[test]
fn the_default_office_transfers_and_screens() {
    let run = default_run();
    let c1 = by_scenario(&run, 1);
    let x = &c1.record.transfers;
    assert_eq!(x.len(), 1);
    assert_eq!(
        (
            x[0].code.as_str(),
            x[0].target.as_deref(),
            x[0].outcome.as_str(),
            x[0].outpulsed.as_deref()
        ),
        (
            "*11",
            Some("CARYFIRE"),
            "conferenced",
            Some("KP 0 5551234 ST")
        )
    );
    // Both PSAPs showed Jane Doe's ALI record.
    assert_eq!(c1.screens.len(), 2, "{:#?}", c1.screens);
    for s in &c1.screens {
        assert!(
            s.screen
                .contains("123 MAIN ST | CARY NC | APT 718 | DOE, JANE"),
            "{s:?}"
        );
        assert_eq!(s.ani.as_deref(), Some("9195551234"));
    }
    let c3 = &by_scenario(&run, 3).record;
    assert_eq!(
        (
            c3.transfers[0].code.as_str(),
            c3.transfers[0].outcome.as_str()
        ),
        ("*15", "reorder")
    );
    let c4 = by_scenario(&run, 4);
    assert_eq!(
        (
            c4.record.transfers[0].target.as_deref(),
            c4.record.transfers[0].outpulsed.as_deref()
        ),
        (Some("WAKEEMS"), Some("KP 919 5550100 ST"))
    );
    assert!(c4.screens[0].flash && c4.screens[0].screen.ends_with("| FLASH"));
    // Substitute ANI: no ALI record.
    let c2 = by_scenario(&run, 2);
    assert!(c2.screens[0].screen.contains("NO RECORD FOUND"));
}

fn read(rel: &str) -> Result<(PathBuf, String), String> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill");
    let p = base.join(rel.trim_start_matches("../datafill/"));
    std::fs::read_to_string(&p)
        .map(|t| (p.clone(), t))
        .map_err(|e| format!("{}: {e}", p.display()))
}

#[test]
fn scenario_errors_name_the_call_and_field() {
    let head = "datafill = \"../datafill/cary.dat\"\n[trunks]\nCARYEO1 = 2\n";
    let cases = [
        ("[[call]]\nat_ms = 0\ntrunk = \"NOPE\"\nani = \"9195551234\"\n", "call 1: trunk: NOPE"),
        ("[[call]]\nat_ms = 0\ntrunk = \"CARYEO1\"\nani = \"12ab\"\n", "call 1: ani: `12ab`"),
        ("[[call]]\nat_ms = 0\ntrunk = \"CARYEO1\"\n", "call 1: ani:"),
        ("[[call]]\nat_ms = 0\ntrunk = \"CARYEO1\"\nani = \"fail\"\nchannel = 2\n", "call 1: channel: 2"),
        ("[[call]]\nat_ms = 0\ntrunk = \"CARYEO1\"\nani = \"fail\"\npsap = [{ after_ms = 1, do = \"jump\" }]\n", "call 1: psap[0]"),
        ("[[call]]\nat_ms = 0\ntrunk = \"APEXEO1\"\nani = \"fail\"\n", "APEXEO1 has no trunks"),
        ("[[call]]\nat_ms = 0\ntrunk = \"CARYEO1\"\nani = \"fail\"\ncolour = 1\n", "colour"),
        ("[[call]]\nat_ms = 0\ntrunk = \"CARYEO1\"\nvoice = \"tone 1000\"\nani = \"fail\"\n", "call 1: voice"),
    ];
    for (call, want) in cases {
        let e = Scenario::parse("t.toml", &format!("{head}{call}"), &read)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml") && e.contains(want), "{want}: {e}");
    }
    // A bad datafill is reported with its own FILE:LINE.
    let e = Scenario::parse("t.toml", "datafill = \"x.dat\"\n[trunks]\n", &|_| {
        Ok((
            PathBuf::from("x.dat"),
            "TABLE E911ESN\nESN FLASH\n1\n".into(),
        ))
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("x.dat:"), "{e}");
    // A missing file is named.
    let e = e911_tandem::files::scenario(Path::new("/nonexistent/s.toml")).unwrap_err();
    assert!(
        matches!(e, e911_tandem::files::ScenarioError::Io { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("/nonexistent/s.toml"), "{e}");
}

#[test]
fn cli_simulate_prints_the_call_log_and_writes_every_leg() {
    let out = std::env::temp_dir().join(format!("e911-sim-{}", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["simulate", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(
            "summary: 9 calls through the tandem, 9 routed, 8 answered, 1 abandoned before answer"
        ),
        "{text}"
    );
    assert!(text.contains("→ ECRC"), "{text}");
    assert!(
        text.contains("dialled `*11` → CARYFIRE/0  conferenced"),
        "{text}"
    );
    let lines = std::fs::read_to_string(out.join("calls.jsonl")).unwrap();
    // Every call of the log: 9 through the tandem, Bob's SIP call to the ECRC, the callback.
    assert_eq!(lines.lines().count(), 11);
    let v: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    for k in [
        "call",
        "trunk",
        "ani",
        "ani_status",
        "esn",
        "psap",
        "outpulsed",
        "transfers",
        "screens",
    ] {
        assert!(v.get(k).is_some(), "{k} in {v}");
    }
    // The fire leg, as written, carries Jane Doe's regenerated ANI (our MF receiver decodes it).
    let w = e911_tandem::audio::wav::read_wav(&out.join("to-CARYFIRE.wav")).unwrap();
    let mut rx = MfReceiver::new();
    let mut got = Vec::new();
    rx.process(&w.channels[0], &mut |e| {
        if e.on {
            got.push(e.signal)
        }
    });
    assert_eq!(spill_string(&got), "KP 0 5551234 ST");
    // What the end office sent is there too.
    assert!(out.join("from-CARYEO1.wav").exists());
    let _ = std::fs::remove_dir_all(&out);
    // A bad scenario: exit 1 and the file named.
    let bad = std::env::temp_dir().join(format!("e911-bad-{}.toml", std::process::id()));
    std::fs::write(&bad, "datafill = \"nope.dat\"\n[trunks]\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["simulate", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.dat"));
}

#[test]
fn the_engine_gives_the_same_calls_as_the_single_threaded_reference() {
    let sc = Scenario::default_office();
    let inline = run_inline(&sc, &mut |_, _, _, _| {}).unwrap();
    for workers in [1, 2, 3] {
        let opts = e911_tandem::engine::Opts {
            workers,
            ..Default::default()
        };
        let (run, stats) = e911_tandem::sim::run_sim(&sc, &opts, None).unwrap();
        let a = serde_json::to_string(&inline.calls).unwrap();
        let b = serde_json::to_string(&run.calls).unwrap();
        assert_eq!(a, b, "{workers} worker(s)");
        assert_eq!(stats.workers, workers);
        assert_eq!(stats.latency_us.count(), stats.blocks);
    }
}

#[test]
fn with_two_blocks_of_delay_the_stages_overlap_and_every_call_still_routes() {
    let sc = Scenario::default_office();
    let opts = e911_tandem::engine::Opts {
        workers: 2,
        delay_blocks: 2,
        ..Default::default()
    };
    let (run, _) = e911_tandem::sim::run_sim(&sc, &opts, None).unwrap();
    let inline = default_run();
    assert_eq!(run.calls.len(), inline.calls.len());
    for (a, b) in run.calls.iter().zip(&inline.calls) {
        let (a, b) = (&a.record, &b.record);
        assert_eq!(
            (a.psap.is_some(), a.answered_ms.is_some()),
            (true, true),
            "{a:#?}"
        );
        // 10 ms more each way: the same calls, the same routing and spills.
        assert_eq!((&a.ani, a.esn, &a.outpulsed), (&b.ani, b.esn, &b.outpulsed));
        assert_eq!(a.transfers.len(), b.transfers.len());
    }
}

#[test]
fn the_default_office_enterprise_elin_callback_esqk_and_ecrc() {
    let sc = Scenario::default_office();
    let run = default_run();
    // Alice (scenario call 8) behind the ELIN gateway: her ELIN is the ANI, its ERL label is on
    // the PSAP's screen (ALI loaded by the carrier), and E911SRDB routes it by the MSAG's ESN 124.
    let alice = by_scenario(&run, 8);
    let r = &alice.record;
    assert_eq!(r.trunk, "CARYEO1");
    assert_eq!(
        (r.ani.as_deref(), r.ani_spill.as_str()),
        (Some("9195550199"), "KP 0 5550199 ST")
    );
    assert_eq!((r.esn, r.esn_source), (Some(124), Some("srdb")));
    assert_eq!(
        r.outpulsed.as_deref(),
        Some("KP 4 5550199 ST"),
        "ESN 124 is FLASH Y"
    );
    assert!(r.answered_ms.is_some());
    assert!(
        alice.screens[0]
            .screen
            .contains("2000 REGENCY PKWY | CARY NC | Bldg 4 Fl 2"),
        "{:?}",
        alice.screens
    );
    // The callback after she hung up reaches her.
    let cb = sc
        .notes
        .iter()
        .find(|n| n.text.contains("calls back ELIN 919-555-0199"))
        .expect("callback note");
    assert!(cb.text.contains("rings alice"), "{cb:?}");
    // Carol's SIP call: validated, ESQK from ESN 124's pool on the provider's ESGW trunk; the
    // PSAP's ALI query with the ESQK shows her ERL and callback number.
    let carol = by_scenario(&run, 9);
    assert_eq!(carol.record.trunk, "VPCESGW");
    assert_eq!(carol.record.ani.as_deref(), Some("9192110100"));
    assert_eq!(carol.record.esn, Some(124));
    assert!(
        carol.screens[0]
            .screen
            .contains("Bldg 4 Fl 3 Rm 310 | VOIP CBN 9195550310"),
        "{:?}",
        carol.screens
    );
    // Bob's unvalidated address went to the ECRC, not to the tandem.
    assert!(sc.notes.iter().any(|n| n.text.contains("bob")
        && n.text.contains("ECRC")
        && n.text.contains("O (street not in the MSAG)")));
    assert!(run
        .calls
        .iter()
        .all(|c| c.origin.as_deref().is_none_or(|o| !o.contains("bob"))));
}

#[test]
fn enterprise_errors_are_named() {
    let head = "datafill = \"../datafill/cary.dat\"\n[trunks]\nCARYEO1 = 2\n";
    let call =
        "[[call]]\nat_ms = 0\ntrunk = \"CARYEO1\"\nuser = \"x\"\nclient = { ip = \"10.9.9.9\" }\n";
    let e = Scenario::parse("t.toml", &format!("{head}{call}"), &read)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[enterprise]"), "{e}");
    let ent = "[enterprise]\nname = \"A\"\nlis_subnet = \"../location/acme-subnet.csv\"\n";
    let e = Scenario::parse("t.toml", &format!("{head}{ent}{call}"), &read_all)
        .unwrap_err()
        .to_string();
    assert!(e.contains("call 1: client: no ERL"), "{e}");
    let bad_ip = call.replace("10.9.9.9", "10.9.9");
    let e = Scenario::parse("t.toml", &format!("{head}{ent}{bad_ip}"), &read_all)
        .unwrap_err()
        .to_string();
    assert!(e.contains("call 1: client: ip"), "{e}");
    let e = Scenario::parse(
        "t.toml",
        &format!("{head}[enterprise]\nname = \"A\"\ncallback_minutes = 90\n[[callback]]\nat_ms = 1\nelin = \"9195550199\"\n"),
        &read_all,
    )
    .unwrap_err().to_string();
    assert!(e.contains("callback_minutes"), "{e}");
}

fn read_all(rel: &str) -> Result<(PathBuf, String), String> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/scenarios");
    let p = base.join(rel);
    std::fs::read_to_string(&p)
        .map(|t| (p.clone(), t))
        .map_err(|e| format!("{}: {e}", p.display()))
}

#[test]
fn the_psap_model_decodes_the_information_digit_against_e911npd() {
    use e911_tandem::register::mf::MfSignal;
    use e911_tandem::sim::psap::decode_spill;
    use e911_tandem::tandem::tables::AniFormat;
    let o = Scenario::default_office().office;
    let spill = |s: &str| MfSignal::parse_sequence(s).unwrap();
    let d = |f, s: &str| decode_spill(&o, f, &spill(s));
    // E911NPD: 0 = 919, 1 = 984 (cary.dat); +4 = flash; 8 = test call (tandem.md §4).
    assert_eq!(
        d(AniFormat::OneDigit, "KP 0 5551234 ST"),
        Some((9195551234, false, false))
    );
    assert_eq!(
        d(AniFormat::OneDigit, "KP 1 5557000 ST"),
        Some((9845557000, false, false))
    );
    assert_eq!(
        d(AniFormat::OneDigit, "KP 4 5550100 ST"),
        Some((9195550100, true, false))
    );
    assert_eq!(
        d(AniFormat::OneDigit, "KP 5 9110013 ST"),
        Some((9849110013, true, false))
    );
    assert_eq!(
        d(AniFormat::OneDigit, "KP 8 5551234 ST"),
        Some((9195551234, false, true))
    );
    assert_eq!(
        d(AniFormat::OneDigit, "KP 9 5551234 ST"),
        None,
        "9 is unused"
    );
    assert_eq!(
        d(AniFormat::OneDigit, "KP 2 5551234 ST"),
        None,
        "NPD 2 is not datafilled"
    );
    assert_eq!(
        d(AniFormat::ThreeDigit, "KP 919 5550100 ST"),
        Some((9195550100, false, false))
    );
    assert_eq!(
        d(AniFormat::ThreeDigit, "KP 0 5550100 ST"),
        None,
        "wrong format for 3DIGIT"
    );
}

#[test]
fn a_run_cut_short_accounts_for_every_call() {
    // duration_ms ends the run 2.2 s in: call 1 is mid-setup (seized at 1 s, spill not sent yet),
    // call 2 (at 5 s) never starts. Neither is silently lost.
    let text = "datafill = \"../datafill/cary.dat\"\nduration_ms = 2200\n[trunks]\nCARYEO1 = 2\n\
[[call]]\nat_ms = 1000\ntrunk = \"CARYEO1\"\nani = \"9195551234\"\n\
[[call]]\nat_ms = 5000\ntrunk = \"CARYEO1\"\nani = \"fail\"\n";
    let sc = Scenario::parse("short.toml", text, &read).unwrap();
    let run = run_inline(&sc, &mut |_, _, _, _| {}).unwrap();
    assert!(run.calls.is_empty(), "{:#?}", run.calls);
    let text: Vec<(u64, &str)> = run
        .others
        .iter()
        .map(|o| (o.call, o.text.as_str()))
        .collect();
    assert_eq!(text.len(), 2, "{text:#?}");
    assert_eq!(text[0].0, 1);
    assert!(
        text[0].1.contains("SEIZED ON CARYEO1/0 BUT NOT YET ROUTED"),
        "{text:#?}"
    );
    assert_eq!(text[1].0, 2);
    assert!(text[1].1.contains("NOT PLACED"), "{text:#?}");
}

/// A Cary scenario of `duration_ms` with two calls on CARYEO1, one per channel: 919-555-1234 at
/// `first_ms` on channel 0, 919-555-0100 at `second_ms` on channel 1.
fn two_calls(duration_ms: u32, first_ms: u32, second_ms: u32) -> String {
    format!(
        "datafill = \"../datafill/cary.dat\"\nduration_ms = {duration_ms}\n[trunks]\nCARYEO1 = 2\n\
[[call]]\nat_ms = {first_ms}\ntrunk = \"CARYEO1\"\nchannel = 0\nani = \"9195551234\"\n\
[[call]]\nat_ms = {second_ms}\ntrunk = \"CARYEO1\"\nchannel = 1\nani = \"9195550100\"\n"
    )
}

#[test]
fn a_call_placed_the_moment_the_trunk_comes_up_is_routed() {
    // The end office seizes at 0 ms, before the tandem ever heard its idle tone: the tandem takes
    // its trunks as idle at start, so a line off-hook from the first sample is a seizure (found
    // by `e911 bench`, whose first call is at 0 ms: it used to be silently lost).
    let sc = Scenario::parse("t0.toml", &two_calls(8000, 0, 300), &read).unwrap();
    let inline = run_inline(&sc, &mut |_, _, _, _| {}).unwrap();
    let opts = e911_tandem::engine::Opts {
        workers: 2,
        ..Default::default()
    };
    let (engine, _) = e911_tandem::sim::run_sim(&sc, &opts, None).unwrap();
    for run in [&inline, &engine] {
        assert_eq!(run.calls.len(), 2, "{:#?}", run.notes);
        let first = by_scenario(run, 1);
        assert_eq!(first.record.ani.as_deref(), Some("9195551234"));
        assert_eq!(first.record.outpulsed.as_deref(), Some("KP 0 5551234 ST"));
        // Seized within the seizure time of the start (50 ms + detection).
        assert!(first.record.seized_ms <= 60.0, "{}", first.record.seized_ms);
        assert!(by_scenario(run, 2).record.psap.is_some());
        assert!(
            run.notes.iter().all(|n| !n.contains("NO WINK")),
            "{:#?}",
            run.notes
        );
    }
    assert_eq!(
        serde_json::to_string(&inline.calls).unwrap(),
        serde_json::to_string(&engine.calls).unwrap()
    );
}

#[test]
fn a_seizure_the_tandem_never_recognised_is_reported_not_lost() {
    // Call 2 seizes 20 ms before the run ends: less than the 50 ms seizure time, so the tandem
    // has no seizure (and nothing in setup) to show for it; the log says so.
    let sc = Scenario::parse("late.toml", &two_calls(6020, 200, 6000), &read).unwrap();
    let run = run_inline(&sc, &mut |_, _, _, _| {}).unwrap();
    assert_eq!(run.calls.len(), 1);
    assert_eq!(run.others.len(), 1, "{:#?}", run.others);
    let lost = &run.others[0];
    assert_eq!(
        (lost.kind, lost.call, lost.scenario_call),
        ("unrouted", 2, Some(2))
    );
    assert!(
        lost.text.contains(
            "PLACED ON CARYEO1/1 BUT THE RUN ENDED AT 6.02 s BEFORE THE TANDEM SAW THE SEIZURE (the scenario's duration_ms)"
        ),
        "{lost:#?}"
    );
    // The routed call is not reported as lost, and the JSONL holds both.
    assert_eq!(run.calls[0].record.call, 1);
    assert_eq!(run.json_lines().len(), 2);
}
