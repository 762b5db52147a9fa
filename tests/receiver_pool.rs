//! The MF receiver pool (OFCENG `MF_RECEIVERS`, docs/datafill.md): a seizure that finds every
//! receiver busy waits, its wink withheld, and still collects its whole spill from an end office
//! that waits for the wink; a wait longer than 3 s routes the call to the default ESN (E911200).
//! In closed loop (the end offices are the models, which spill only after a wink), on one thread
//! and on the engine's workers.

use e911_tandem::engine::Opts;
use e911_tandem::sim::scenario::Scenario;
use e911_tandem::sim::{run_inline, run_sim, SimRun};

const CARY: &str = include_str!("../docs/datafill/cary.dat");

fn scenario(pool: u32, calls: &str) -> Scenario {
    let dat = format!("{CARY}\nTABLE OFCENG\nPARMNAME      PARMVAL\nMF_RECEIVERS  {pool}\n");
    let toml = format!(
        "name = \"pool\"\ndatafill = \"cary.dat\"\nduration_ms = 40000\n[trunks]\nCARYEO1 = 4\n{calls}"
    );
    Scenario::parse("pool.toml", &toml, &|_| {
        Ok((std::path::PathBuf::from("cary.dat"), dat.clone()))
    })
    .unwrap()
}

fn call(at_ms: u32, channel: usize, ani: &str) -> String {
    format!(
        "[[call]]\nat_ms = {at_ms}\ntrunk = \"CARYEO1\"\nchannel = {channel}\nani = \"{ani}\"\nhold_ms = 15000\n"
    )
}

fn wait_ms(logs: &[String]) -> Option<f64> {
    logs.iter().find_map(|l| {
        l.strip_prefix("MF RECEIVER WAIT ")
            .and_then(|r| r.split(" ms").next())
            .and_then(|v| v.parse().ok())
    })
}

#[test]
fn seizures_that_wait_for_a_pooled_receiver_still_collect_their_whole_spill() {
    // Two receivers, four seizures within 150 ms: calls 3 and 4 wait for calls 1 and 2 to
    // finish their spills (about 2.4 s each, wink included).
    let sc = scenario(
        2,
        &[
            call(1000, 0, "9195551234"),
            call(1050, 1, "9195550100"),
            call(1100, 2, "9845557000"),
            call(1150, 3, "9195551234"),
        ]
        .concat(),
    );
    let run = run_inline(&sc, &mut |_, _, _, _| {}).unwrap();
    let recs: Vec<_> = run.calls.iter().map(|c| &c.record).collect();
    assert_eq!(recs.len(), 4, "{:?}", run.notes);
    // Every spill whole: the TN and its ESN from E911SRDB, each to its PSAP.
    let want = [
        ("9195551234", 123, "CARYPOLICE"),
        ("9195550100", 124, "CARYPOLICE"),
        ("9845557000", 200, "APEXPOLICE"),
        ("9195551234", 123, "CARYPOLICE"),
    ];
    for (r, (ani, esn, psap)) in recs.iter().zip(want) {
        assert_eq!(r.ani.as_deref(), Some(ani), "{r:?}");
        assert_eq!(r.ani_status, "ok", "{r:?}");
        assert_eq!((r.esn, r.esn_source), (Some(esn), Some("srdb")), "{r:?}");
        assert_eq!(r.psap.as_deref(), Some(psap), "{r:?}");
        assert!(!r.logs.iter().any(|l| l.starts_with("E911200")), "{r:?}");
    }
    // The first two took the receivers; the others waited (at least until a spill before them
    // was in) and date from their own seizures.
    assert_eq!(wait_ms(&recs[0].logs), None, "{:?}", recs[0].logs);
    assert_eq!(wait_ms(&recs[1].logs), None, "{:?}", recs[1].logs);
    for r in &recs[2..] {
        let w = wait_ms(&r.logs).expect("waited");
        assert!((1000.0..3000.0).contains(&w), "waited {w} ms: {:?}", r.logs);
    }
    for (r, at) in recs.iter().zip([1000.0, 1050.0, 1100.0, 1150.0]) {
        assert!(
            r.seized_ms >= at && r.seized_ms < at + 100.0,
            "seized {} ms for a call placed at {at} ms",
            r.seized_ms
        );
    }
    // The engine's workers attach and detach the same receivers at the same blocks.
    let (eng, _) = run_sim(&sc, &Opts::default(), None).unwrap();
    assert_eq!(records(&run), records(&eng));
}

#[test]
fn a_seizure_that_waits_more_than_3_s_goes_to_the_default_esn_with_e911200() {
    // Call 1's ANI never ends (KP 0 and no ST): it holds the only receiver for the 10 s ANI
    // timer. Call 2 waits 3 s, then is routed without digits.
    let sc = scenario(
        1,
        &[call(1000, 0, "timeout"), call(1500, 1, "9845557000")].concat(),
    );
    let run = run_inline(&sc, &mut |_, _, _, _| {}).unwrap();
    let r = &run
        .calls
        .iter()
        .find(|c| c.record.channel == 1)
        .expect("call 2 has its record")
        .record;
    assert!(r.logs.iter().any(|l| l.starts_with("E911200")), "{r:?}");
    assert_eq!(wait_ms(&r.logs), Some(3000.0), "{:?}", r.logs);
    assert_eq!((r.esn, r.esn_source), (Some(123), Some("default")), "{r:?}");
    assert_eq!(r.psap.as_deref(), Some("CARYPOLICE"));
    assert!(r.seized_ms >= 1500.0 && r.seized_ms < 1600.0, "{r:?}");
    // Every seizure has exactly one record.
    assert_eq!(run.calls.len(), 2);
}

#[test]
fn without_a_pool_nobody_waits() {
    let calls = [call(1000, 0, "9195551234"), call(1000, 1, "9195550100")].concat();
    let toml = format!(
        "name = \"nopool\"\ndatafill = \"cary.dat\"\nduration_ms = 30000\n[trunks]\nCARYEO1 = 4\n{calls}"
    );
    let sc = Scenario::parse("p.toml", &toml, &|_| {
        Ok((std::path::PathBuf::from("cary.dat"), CARY.to_string()))
    })
    .unwrap();
    let run = run_inline(&sc, &mut |_, _, _, _| {}).unwrap();
    assert_eq!(run.calls.len(), 2);
    for c in &run.calls {
        assert_eq!(wait_ms(&c.record.logs), None);
        assert_eq!(c.record.ani_status, "ok");
    }
}

fn records(r: &SimRun) -> Vec<String> {
    r.json_lines()
}
