//! PSAP hook flash and selective transfer (tandem.md §5, seed 003 `*10`): the code collector and
//! target resolution as pure machines, then end to end through `route` with PSAP audio made by our
//! senders — flash as a 2600 Hz burst, codes as DTMF — and the target legs decoded by our MF
//! receiver.

use std::collections::BTreeMap;

use e911_tandem::generate::script::render;
use e911_tandem::route::{run_with_psaps, RouteRun};
use e911_tandem::tandem::transfer::{resolve, CodeCollector, CollectAction, Target, Timers};

use crate::support::{cary as office, decode_spill as decode};

#[test]
fn every_code_against_the_seed_row() {
    // ESN 123: CARYPOLICE primary; PSAP1 CARYFIRE, PSAP2 CARYAMBULANCE, PSAP3–6 NONE (seed 003).
    let o = office();
    let esn = &o.esns[&123];
    let r = |from: &str, code: &str| resolve(&o, esn, from, code);
    assert_eq!(r("CARYPOLICE", "*11"), Target::Psap("CARYFIRE".into()));
    assert_eq!(r("CARYPOLICE", "*12"), Target::Psap("CARYAMBULANCE".into()));
    for code in ["*13", "*14", "*15", "*16"] {
        assert!(
            matches!(r("CARYPOLICE", code), Target::Reorder(ref w) if w.contains("NONE")),
            "{code}"
        );
    }
    // *10 from a secondary: back to the primary; from the primary: elsewhere at the primary.
    assert_eq!(r("CARYFIRE", "*10"), Target::Psap("CARYPOLICE".into()));
    assert_eq!(
        r("CARYPOLICE", "*10"),
        Target::PrimaryElsewhere {
            primary: "CARYPOLICE".into(),
            overflow: Some("APEXPOLICE".into())
        }
    );
    for bad in ["*17", "*19", "*2", "#", "11", "*1#", ""] {
        assert!(matches!(r("CARYPOLICE", bad), Target::Reorder(_)), "{bad}");
    }
}

#[test]
fn the_collector_times_out_reorders_and_starts_over() {
    let t = Timers::default();
    let mut c = CodeCollector::default();
    let mut out = Vec::new();
    // Flash with no digits: dial tone, then after 5 s back to talk.
    c.on_flash(1000, &mut out);
    assert_eq!(out, vec![CollectAction::RecallDialTone]);
    out.clear();
    c.poll(1000 + t.first_key - 1, &mut out);
    assert!(out.is_empty() && c.is_collecting());
    c.poll(1000 + t.first_key, &mut out);
    assert_eq!(
        out,
        vec![
            CollectAction::DialToneOff,
            CollectAction::TimedOut(String::new())
        ]
    );
    assert!(!c.is_collecting());
    // `*1` then nothing for 3 s.
    out.clear();
    c.on_flash(100_000, &mut out);
    c.on_key(100_100, '*', &mut out);
    c.on_key(100_200, '1', &mut out);
    c.poll(100_200 + t.inter_key, &mut out);
    assert_eq!(out.last(), Some(&CollectAction::TimedOut("*1".into())));
    // A key no code starts with ends collection at once; reorder lasts 2 s.
    out.clear();
    c.on_flash(200_000, &mut out);
    c.on_key(200_100, '#', &mut out);
    assert_eq!(out.last(), Some(&CollectAction::Dialled("#".into())));
    c.reorder(200_100);
    out.clear();
    c.on_flash(200_200, &mut out); // a flash during reorder is ignored
    assert!(out.is_empty());
    c.poll(200_100 + t.reorder, &mut out);
    assert_eq!(out, vec![CollectAction::BackToTalk]);
    // Keys outside collection are ignored.
    out.clear();
    c.on_key(300_000, '*', &mut out);
    assert!(out.is_empty());
}

/// The caller (919-555-1234, ESN 123) seizes at 1.5 s; the tandem delivers to CARYPOLICE about
/// 4.1 s in. The end office talks `voice` (a script fragment from 12 s) and hangs up at `hangup_ms`.
fn eo(voice: &str, hangup_ms: u64) -> Vec<Vec<i16>> {
    eo_tn("5551234", voice, hangup_ms)
}

fn eo_tn(tn: &str, voice: &str, hangup_ms: u64) -> Vec<Vec<i16>> {
    let s = format!(
        "sf on\nsilence 1500\nsf seize\nsilence 600\nmf KP 911 ST\nsilence 300\nmf KP 0 {tn} ST\nat 12000\n{voice}\nat {hangup_ms}\nsf disconnect\nsilence 3000\n"
    );
    render("eo", &s).unwrap().channels
}

/// CARYPOLICE's four positions: position 0 winks at 4.5 s and answers at 7 s, then `actions`
/// (a script fragment from 9 s); position 1 winks at 10.6 s and answers at 12.5 s (it serves
/// `*10`); the others stay idle.
fn police(actions: &str) -> Vec<Vec<i16>> {
    let s = format!(
        "channels 4\nchannel 0\nsf on\nsilence 4500\nsf wink ms=200\nat 7000\nsf off\nat 9000\n{actions}\nat 29900\nsilence 100\n\
         channel 1\nsf on\nsilence 10600\nsf wink ms=200\nat 12500\nsf off\nsilence 100\n\
         channel 2\nsf on\nsilence 100\nchannel 3\nsf on\nsilence 100\n"
    );
    render("police", &s).unwrap().channels
}

fn run(eo: &[Vec<i16>], psaps: &[(&str, Vec<Vec<i16>>)]) -> RouteRun {
    let mut psap_in = BTreeMap::new();
    for (name, a) in psaps {
        psap_in.insert(name.to_string(), a.clone());
    }
    run_with_psaps(&office(), "CARYEO1", eo, &psap_in).unwrap()
}

/// Amplitude of `hz` in `x[from_ms..to_ms]`.
fn tone(x: &[i16], from_ms: usize, to_ms: usize, hz: f64) -> f64 {
    let seg = &x[from_ms * 8..(to_ms * 8).min(x.len())];
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &v) in seg.iter().enumerate() {
        let a = std::f64::consts::TAU * hz * i as f64 / 8000.0;
        re += v as f64 * a.cos();
        im += v as f64 * a.sin();
    }
    2.0 * (re * re + im * im).sqrt() / seg.len() as f64
}

fn power(x: &[i16], from_ms: usize, to_ms: usize) -> f64 {
    let s = &x[from_ms * 8..to_ms * 8];
    s.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / s.len() as f64
}

#[test]
fn star_11_conferences_the_fire_psap_with_the_callers_ani_and_voice() {
    // Voice: 1 kHz at −15 dBm0 from 13 to 17 s. The police attendant flashes at 9 s, dials *11,
    // and hangs up at 15.5 s; the caller stays with fire.
    let eo = eo("at 13000\ntone 1000 -15 5500", 19_000);
    let police = police("sf flash ms=500\nsilence 300\ndtmf *11\nat 15500\nsf disconnect");
    let run = run(&eo, &[("CARYPOLICE", police)]);
    assert_eq!(run.records.len(), 1, "{:#?}", run.records);
    let r = &run.records[0];
    assert_eq!(r.transfers.len(), 1, "{r:#?}");
    let x = &r.transfers[0];
    assert_eq!(
        (
            x.code.as_str(),
            x.target.as_deref(),
            x.outcome.as_str(),
            x.from.as_str()
        ),
        ("*11", Some("CARYFIRE"), "conferenced", "CARYPOLICE")
    );
    assert_eq!(x.outpulsed.as_deref(), Some("KP 0 5551234 ST"));
    assert!((9_500.0..9_600.0).contains(&x.flashed_ms), "{x:?}");
    // The target leg carries the regenerated ANI, decoded by our receiver.
    let fire = &run.legs["CARYFIRE"][x.position.unwrap() as usize];
    assert_eq!(decode(fire), "KP 0 5551234 ST");
    // Recall dial tone (350 + 440 Hz) to the attendant between the flash and the first key.
    let pol = &run.legs["CARYPOLICE"][0];
    assert!(tone(pol, 9_760, 9_800, 350.0) > 1000.0 && tone(pol, 9_760, 9_800, 440.0) > 1000.0);
    assert!(tone(pol, 8_000, 8_900, 350.0) < 50.0);
    // Three-way: the caller's voice reaches both PSAPs within 1 dB of the two-party level.
    let sent = power(&eo[0], 13_100, 15_000);
    for (name, leg) in [("police", pol), ("fire", fire)] {
        let db = 10.0 * (power(leg, 13_100, 15_000) / sent).log10();
        assert!(db.abs() <= 1.0, "{name}: {db:.2} dB");
    }
    // After the police attendant hangs up the caller stays with fire.
    // (Police's disconnect is recognised 1.3 s after its tone returns, at 16.8 s.)
    let db = 10.0 * (power(fire, 17_000, 18_400) / power(&eo[0], 17_000, 18_400)).log10();
    assert!(db.abs() <= 1.0, "fire after police left: {db:.2} dB");
    assert!(tone(pol, 17_000, 18_400, 1000.0) < 50.0);
}

#[test]
fn star_10_from_the_primary_takes_another_police_position_and_star_12_the_ambulance() {
    for (code, leg, pos, spill) in [
        ("*10", "CARYPOLICE", 1usize, "KP 0 5551234 ST"),
        ("*12", "CARYAMBULANCE", 0, "KP 0 5551234 ST"),
    ] {
        let eo = eo("", 20_000);
        let police = police(&format!("sf flash ms=500\nsilence 300\ndtmf {code}"));
        let run = run(&eo, &[("CARYPOLICE", police)]);
        let x = &run.records[0].transfers[0];
        assert_eq!(
            (x.target.as_deref(), x.position, x.outcome.as_str()),
            (Some(leg), Some(pos as u32), "conferenced"),
            "{code}: {x:?}"
        );
        assert_eq!(decode(&run.legs[leg][pos]), spill, "{code}");
    }
}

#[test]
fn none_columns_and_invalid_codes_get_reorder_for_2_s_and_the_call_is_untouched() {
    for code in ["*13", "*14", "*15", "*16", "*17", "#"] {
        let eo = eo("at 13000\ntone 1000 -15 3000", 20_000);
        let police = police(&format!("sf flash ms=500\nsilence 300\ndtmf {code}"));
        let run = run(&eo, &[("CARYPOLICE", police)]);
        let r = &run.records[0];
        assert_eq!(r.transfers.len(), 1, "{code}: {r:#?}");
        assert_eq!(r.transfers[0].outcome, "reorder", "{code}");
        assert_eq!(r.transfers[0].target, None);
        assert!(!run.legs.contains_key("CARYFIRE"), "{code}: nothing seized");
        // Reorder: 480 + 620 Hz, 250 ms on / 250 ms off, for 2 s after the code (~10.0 s).
        let pol = &run.legs["CARYPOLICE"][0];
        // Reorder starts when the last key is recognised, about 27 ms after it starts.
        let last = 9_800 + 140 * (code.len() - 1);
        let on = tone(pol, last + 60, last + 245, 480.0);
        assert!(on > 300.0, "{code}: reorder {on} {r:#?}");
        assert!(tone(pol, last + 60, last + 245, 620.0) > 300.0);
        assert!(
            tone(pol, last + 310, last + 495, 480.0) < 50.0,
            "{code}: cadence"
        );
        assert!(
            tone(pol, last + 1_560, last + 1_745, 620.0) > 300.0,
            "{code}: 4th burst"
        );
        assert!(
            tone(pol, last + 2_100, last + 2_700, 480.0) < 50.0,
            "{code}: 2 s"
        );
        // Back to talk: the caller's voice reaches police again.
        let db = 10.0 * (power(pol, 13_100, 15_900) / power(&eo[0], 13_100, 15_900)).log10();
        assert!(db.abs() <= 1.0, "{code}: {db:.2} dB");
    }
}

#[test]
fn a_flash_with_no_digits_or_an_unfinished_code_times_out_back_to_talk() {
    for (actions, keys, back_ms) in [
        ("sf flash ms=500", "", 9_500.0 + 5_000.0),
        (
            "sf flash ms=500\nsilence 300\ndtmf *1",
            "*1",
            9_800.0 + 140.0 + 3_000.0,
        ),
    ] {
        let eo = eo("", 22_000);
        let run = run(&eo, &[("CARYPOLICE", police(actions))]);
        let r = &run.records[0];
        assert_eq!(r.transfers.len(), 1, "{r:#?}");
        let x = &r.transfers[0];
        assert_eq!((x.code.as_str(), x.outcome.as_str()), (keys, "timeout"));
        // Recall dial tone lasts until the timeout when no key comes.
        let pol = &run.legs["CARYPOLICE"][0];
        if keys.is_empty() {
            let end = back_ms as usize;
            assert!(tone(pol, end - 500, end - 100, 440.0) > 1000.0);
            assert!(tone(pol, end + 100, end + 500, 440.0) < 50.0);
        }
    }
}

#[test]
fn a_second_code_while_a_transfer_is_pending_gets_reorder() {
    // *11 at 9.8 s; fire (modelled) answers about 2 s after its seizure; a second flash and *12
    // come before that.
    let eo = eo("", 20_000);
    let police = police(
        "sf flash ms=500\nsilence 300\ndtmf *11\nsilence 100\nsf flash ms=400\nsilence 200\ndtmf *12",
    );
    let run = run(&eo, &[("CARYPOLICE", police)]);
    let t = &run.records[0].transfers;
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(
        (t[0].code.as_str(), t[0].outcome.as_str()),
        ("*11", "conferenced")
    );
    assert_eq!(
        (t[1].code.as_str(), t[1].outcome.as_str()),
        ("*12", "reorder")
    );
    assert!(t[1].flashed_ms < t[0].answered_ms.unwrap());
    assert!(run.records[0].logs.iter().any(|l| l.contains("PENDING")));
    assert!(!run.legs.contains_key("CARYAMBULANCE"));
}

#[test]
fn a_caller_who_hangs_up_during_a_transfer_still_reaches_the_target_with_ani() {
    let eo = eo("", 10_300);
    let police = police("sf flash ms=500\nsilence 300\ndtmf *11");
    let run = run(&eo, &[("CARYPOLICE", police)]);
    let r = &run.records[0];
    let x = &r.transfers[0];
    assert_eq!(x.outcome.as_str(), "conferenced", "{r:#?}");
    assert!(r.released_ms.unwrap() < x.answered_ms.unwrap());
    assert_eq!(
        decode(&run.legs["CARYFIRE"][x.position.unwrap() as usize]),
        "KP 0 5551234 ST"
    );
}

#[test]
fn star_10_from_the_secondary_goes_back_to_the_primary_in_its_format() {
    // Police transfers to fire (*11) and drops; fire's attendant (heard) flashes and dials *10:
    // back to CARYPOLICE, on its lowest idle position (position 0, released at 15.3 s), which
    // winks for the new seizure at 17.5 s.
    let eo = eo("", 30_000);
    let police = police(
        "sf flash ms=500\nsilence 300\ndtmf *11\nat 14000\nsf disconnect\nat 17500\nsf wink ms=200\nat 19500\nsf off",
    );
    // CARYFIRE position 0: wink 0.5 s after the seizure (~10.1 s), answer, flash at 16 s, *10.
    let fire = render("fire", "channels 2\nchannel 0\nsf on\nsilence 10600\nsf wink ms=200\nat 12500\nsf off\nat 16000\nsf flash ms=500\nsilence 300\ndtmf *10\nsilence 8000\nchannel 1\nsf on\nsilence 100")
    .unwrap()
    .channels;
    let run = run(&eo, &[("CARYPOLICE", police), ("CARYFIRE", fire)]);
    let t = &run.records[0].transfers;
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(
        (t[1].from.as_str(), t[1].code.as_str()),
        ("CARYFIRE", "*10")
    );
    assert_eq!(t[1].target.as_deref(), Some("CARYPOLICE"));
    assert_eq!(
        (t[1].position, t[1].outcome.as_str()),
        (Some(0), "conferenced")
    );
    let p = 0;
    // The re-delivery on the police leg: the second spill on that position.
    let leg = &run.legs["CARYPOLICE"][p];
    let from = (t[1].flashed_ms as usize) * 8;
    assert_eq!(decode(&leg[from..]), "KP 0 5551234 ST");
}

#[test]
fn the_target_hears_the_ani_in_its_own_format() {
    // 919-555-0100 is ESN 124 (FLASH Y): CARYPOLICE (1DIGIT) hears `KP 4 …`; *12 is WAKEEMS,
    // 3DIGIT on an unsupervised trunk: the NPA in place of the information digit, no flash.
    let eo = eo_tn("5550100", "", 20_000);
    let run = run(
        &eo,
        &[(
            "CARYPOLICE",
            police("sf flash ms=500\nsilence 300\ndtmf *12"),
        )],
    );
    let r = &run.records[0];
    assert_eq!(r.outpulsed.as_deref(), Some("KP 4 5550100 ST"));
    assert_eq!(decode(&run.legs["CARYPOLICE"][0]), "KP 4 5550100 ST");
    let x = &r.transfers[0];
    assert_eq!(
        (
            x.target.as_deref(),
            x.outcome.as_str(),
            x.outpulsed.as_deref()
        ),
        (Some("WAKEEMS"), "conferenced", Some("KP 919 5550100 ST"))
    );
    assert_eq!(decode(&run.legs["WAKEEMS"][0]), "KP 919 5550100 ST");
}

#[test]
fn route_on_the_engine_gives_the_same_records_and_legs() {
    let eo = eo("at 13000\ntone 1000 -15 3000", 19_000);
    let police = police("sf flash ms=500\nsilence 300\ndtmf *11\nat 15500\nsf disconnect");
    let mut psap_in = BTreeMap::new();
    psap_in.insert("CARYPOLICE".to_string(), police);
    let a = run_with_psaps(&office(), "CARYEO1", &eo, &psap_in).unwrap();
    let opts = e911_tandem::engine::Opts {
        workers: 2,
        ..Default::default()
    };
    let b = e911_tandem::route::run_on(
        &office(),
        "CARYEO1",
        &eo,
        &psap_in,
        Some(&opts),
        160_000,
        true,
    )
    .unwrap();
    assert_eq!(a.records, b.records);
    assert_eq!(a.legs, b.legs);
    assert_eq!(a.records[0].transfers[0].outcome, "conferenced");
}
