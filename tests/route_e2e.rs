//! `e911 route` end to end: end-office audio made by our senders goes through the tandem, and the
//! PSAP leg it writes is decoded by our own MF receiver (tandem.md §3–§4 examples).

use std::path::PathBuf;

use e911_tandem::generate::script::render;

const EO: &str = "channels 2
channel 0
sf on
silence 1500
sf seize
silence 600
mf KP 911 ST
silence 300
mf KP 0 5551234 ST
silence 3000
sf disconnect
silence 1500
channel 1
sf on
silence 2000
sf seize
silence 600
mf KP 911 ST
silence 300
mf KP 2 ST
silence 3000
sf disconnect
silence 1500
";

use crate::support::{cary as office, decode_spill as decode};

#[test]
fn two_calls_route_and_their_regenerated_ani_is_heard_on_the_psap_leg() {
    let eo = render("eo", EO).unwrap();
    let run = e911_tandem::route::run(&office(), "CARYEO1", &eo.channels).unwrap();
    assert_eq!(run.records.len(), 2, "{:#?}", run.records);
    let ok = run.records.iter().find(|r| r.channel == 0).unwrap();
    assert_eq!(
        (ok.ani_status, ok.ani.as_deref()),
        ("ok", Some("9195551234"))
    );
    assert_eq!((ok.esn, ok.esn_source), (Some(123), Some("srdb")));
    assert_eq!(ok.psap.as_deref(), Some("CARYPOLICE"));
    assert_eq!(ok.outpulsed.as_deref(), Some("KP 0 5551234 ST"));
    assert!(ok.answered_ms.is_some() && ok.released_ms.is_some() && !ok.abandoned);
    // Seizure recognised 50 ms after the tone stopped at 1500 ms (signalling.md §3).
    assert!((ok.seized_ms - 1550.0).abs() < 3.0, "{}", ok.seized_ms);
    let failed = run.records.iter().find(|r| r.channel == 1).unwrap();
    assert_eq!(failed.ani_status, "failure");
    assert_eq!(failed.ani.as_deref(), Some("9199110011")); // the substitute, never null when done
    assert_eq!(
        (failed.esn, failed.esn_source),
        (Some(123), Some("default"))
    );
    assert!(failed.logs.iter().any(|l| l.starts_with("E911202")));
    assert_eq!(failed.outpulsed.as_deref(), Some("KP 0 9110011 ST"));
    // What the tandem sent to the PSAP, decoded by our receiver, position by position.
    let leg = &run.legs["CARYPOLICE"];
    for r in &run.records {
        let got = decode(&leg[r.position.unwrap() as usize]);
        assert_eq!(Some(got.as_str()), r.outpulsed.as_deref());
    }
    // The tandem winked to the end office 150 ms after each seizure.
    assert_eq!(run.legs["CARYEO1"].len(), 2);
}

#[test]
fn a_caller_who_hangs_up_mid_spill_is_still_delivered_abandoned() {
    let script = "sf on\nsilence 1500\nsf seize\nsilence 600\nmf KP 911 ST\nsilence 300\nmf KP 0 555\nsf disconnect\nsilence 3000\n";
    let eo = render("eo", script).unwrap();
    let run = e911_tandem::route::run(&office(), "CARYEO1", &eo.channels).unwrap();
    assert_eq!(run.records.len(), 1);
    let r = &run.records[0];
    assert!(r.abandoned);
    assert_eq!(r.psap.as_deref(), Some("CARYPOLICE"));
    assert_eq!(r.outpulsed.as_deref(), Some("KP 0 9110011 ST"));
}

#[test]
fn an_unknown_trunk_group_is_named() {
    let e = e911_tandem::route::run(&office(), "NOSUCH", &[vec![0; 8000]]).unwrap_err();
    assert_eq!(
        e,
        e911_tandem::route::RouteError::Tandem(
            e911_tandem::tandem::switch::TandemError::UnknownTrunkGroup("NOSUCH".into())
        )
    );
    assert!(e.to_string().contains("NOSUCH"), "{e}");
}

#[test]
fn psap_audio_drives_wink_answer_and_outpulsing_waits_for_the_wink() {
    use std::collections::BTreeMap;
    let eo = render("eo", EO).unwrap();
    // CARYPOLICE has 4 positions: the first two wink and answer; the others stay idle.
    let psap = "channels 4
channel 0
sf on
silence 4500
sf wink ms=200
silence 2300
sf seize
silence 2000
channel 1
sf on
silence 5000
sf wink ms=200
silence 2300
sf seize
silence 1500
channel 2
sf on
silence 9000
channel 3
sf on
silence 9000
";
    let pa = render("psap", psap).unwrap();
    let mut psap_in = BTreeMap::new();
    psap_in.insert("CARYPOLICE".to_string(), pa.channels);
    let run =
        e911_tandem::route::run_with_psaps(&office(), "CARYEO1", &eo.channels, &psap_in).unwrap();
    assert_eq!(run.records.len(), 2);
    let leg = &run.legs["CARYPOLICE"];
    for r in &run.records {
        let p = r.position.unwrap() as usize;
        let wink_end = [4700.0, 5200.0][p];
        let answer = [7000.0, 7500.0][p] + 50.0; // off-hook recognised after 50 ms
        let got = r.answered_ms.expect("answered");
        assert!(
            (got - answer).abs() < 5.0,
            "position {p}: answered at {got} ms"
        );
        // Nothing of the spill before the wink ended.
        let first_loud = leg[p].iter().position(|&v| v.abs() > 4000).unwrap() as f64 / 8.0;
        assert!(
            first_loud >= wink_end,
            "position {p}: spill at {first_loud} ms, wink ended {wink_end}"
        );
        assert_eq!(Some(decode(&leg[p]).as_str()), r.outpulsed.as_deref());
    }
    // Wrong channel count is named.
    let mut bad = BTreeMap::new();
    bad.insert("CARYPOLICE".to_string(), vec![vec![0i16; 100]]);
    let e = e911_tandem::route::run_with_psaps(&office(), "CARYEO1", &eo.channels, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("CARYPOLICE") && e.contains("4 position"), "{e}");
}

#[test]
fn flash_y_and_the_non_ani_unsupervised_office_end_to_end() {
    // 919-555-0100 is in E911SRDB at ESN 124 (FLASH Y): 1DIGIT = NPD 0 + 4.
    let eo = render("eo", "sf on\nsilence 1500\nsf seize\nsilence 600\nmf KP 911 ST\nsilence 300\nmf KP 0 5550100 ST\nsilence 3000\n")
    .unwrap();
    let run = e911_tandem::route::run(&office(), "CARYEO1", &eo.channels).unwrap();
    let r = &run.records[0];
    assert_eq!((r.esn, r.esn_source), (Some(124), Some("srdb")));
    assert_eq!(r.outpulsed.as_deref(), Some("KP 4 5550100 ST"));
    assert_eq!(decode(&run.legs["CARYPOLICE"][0]), "KP 4 5550100 ST");
    // WAKEPBX: SUPV NONE (seized when its stream starts), CALLED NONE, ANI N; DEFESN 124 (FLASH Y),
    // NPA 984 = NPD 1, ESCO 13: substitute ANI `KP 5 9110013 ST`.
    let pbx = render("pbx", "silence 4000\n").unwrap();
    let run = e911_tandem::route::run(&office(), "WAKEPBX", &pbx.channels).unwrap();
    assert_eq!(run.records.len(), 1);
    let r = &run.records[0];
    assert_eq!((r.ani_status, r.esn_source), ("none", Some("default")));
    assert_eq!(r.outpulsed.as_deref(), Some("KP 5 9110013 ST"));
    assert_eq!(decode(&run.legs["CARYPOLICE"][0]), "KP 5 9110013 ST");
}

#[test]
fn dial_pulsed_called_digits_then_ani_after_anidelay_end_to_end() {
    // APEXEO1: SIG DP, SUPV SF, CALLED 11, ANIDELAY 1000 ms, DEFESN 200 (APEXPOLICE).
    let eo = render("eo", "sf on\nsilence 1500\nsf seize\nsilence 600\ndp 11\nsilence 1600\nmf KP 0 5557000 ST\nsilence 2000\n")
    .unwrap();
    let run = e911_tandem::route::run(&office(), "APEXEO1", &eo.channels).unwrap();
    assert_eq!(run.records.len(), 1, "{:#?}", run.records);
    let r = &run.records[0];
    assert_eq!(r.called, "11");
    assert_eq!((r.ani_status, r.ani.as_deref()), ("ok", Some("9195557000")));
    // 919-555-7000 has no E911SRDB row (984-555-7000 has): DEFESN with E911203.
    assert_eq!(
        (r.esn, r.esn_source, r.psap.as_deref()),
        (Some(200), Some("default"), Some("APEXPOLICE"))
    );
    assert!(
        r.logs.iter().any(|l| l.starts_with("E911203")),
        "{:?}",
        r.logs
    );
    assert_eq!(decode(&run.legs["APEXPOLICE"][0]), "KP 0 5557000 ST");
}

mod faults {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Every seizure yields exactly one call record, and every record names a PSAP, whatever
        /// goes wrong on the line: garbled or unterminated spills, no called digits, an early
        /// hang-up anywhere after the seizure, noise, dropouts.
        #[test]
        fn every_seizure_yields_exactly_one_record_naming_a_psap(
            called in prop_oneof![Just("mf KP 911 ST"), Just("mf KP 912 ST"), Just("")],
            spill in prop_oneof![Just("mf KP 0 5551234 ST"), Just("mf KP 0 55512 ST"), Just("mf KP 0 5551234"), Just("mf KP 2 ST"), Just("")],
            hang_ms in prop_oneof![Just(None), (60u64..6000).prop_map(Some)],
            noise in -60.0f64..-30.0,
            drop_at in 1000u64..5000,
            drop_ms in 0u64..15,
            seed in 0u64..1000,
        ) {
            let mut s = format!(
                "seed {seed}\nsf on\nsilence 1500\nsf seize\nsilence 600\n{called}\nsilence 300\n{spill}\nsilence 2500\n"
            );
            // The caller hangs up `h` ms after seizing — possibly in the middle of the signalling,
            // which then carries on under the returning idle tone — or after the call.
            match hang_ms {
                Some(h) => s.push_str(&format!("at {}\nsf disconnect\nsilence 2000\n", 1500 + h)),
                None => s.push_str("sf disconnect\nsilence 2000\n"),
            }
            s.push_str(&format!("noise {noise}\ndropout {drop_at} {drop_ms}\ng711 ulaw\n"));
            let eo = render("eo", &s).unwrap();
            let run = e911_tandem::route::run(&office(), "CARYEO1", &eo.channels).unwrap();
            prop_assert_eq!(run.records.len(), 1, "{}\n{:#?}", s, run.records);
            prop_assert!(run.records[0].psap.is_some());
            prop_assert!(run.records[0].outpulsed.is_some());
        }
    }
}

#[test]
fn after_answer_the_callers_voice_reaches_the_psap_within_1_db() {
    // The caller talks (a 1 kHz tone at −15 dBm0) from 7.0 to 8.5 s; the modelled PSAP answers
    // about 6.5 s in.
    let eo = render("eo", "sf on\nsilence 1500\nsf seize\nsilence 600\nmf KP 911 ST\nsilence 300\nmf KP 0 5551234 ST\nat 7000\ntone 1000 -15 1500\nsilence 500\nsf disconnect\nsilence 2000\n")
    .unwrap();
    let run = e911_tandem::route::run(&office(), "CARYEO1", &eo.channels).unwrap();
    let r = &run.records[0];
    assert!(r.answered_ms.unwrap() < 7000.0, "{r:?}");
    let leg = &run.legs["CARYPOLICE"][r.position.unwrap() as usize];
    let p = |x: &[i16]| x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
    let sent = p(&eo.channels[0][8 * 7200..8 * 8300]);
    let heard = p(&leg[8 * 7200..8 * 8300]);
    let db = 10.0 * (heard / sent).log10();
    assert!(db.abs() <= 1.0, "voice path {db:.2} dB");
    // Before the answer nothing of the caller's line reaches the PSAP but the tandem's own
    // signalling (silence after the spill).
    assert!(p(&leg[8 * 6100..8 * 6400]) < 100.0);
}

#[test]
fn a_call_queued_behind_a_busy_psap_hears_ringback_and_is_delivered_when_the_position_frees() {
    use std::collections::BTreeMap;
    let dat = "TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\nONEPSAP 1DIGIT SF 1 NONE POLICE\n\
TABLE E911NPD\nNPD SNPA\n0 919\n\
TABLE E911ESN\nESN FLASH PRIMPSAP PSAP1 PSAP2 PSAP3 PSAP4 PSAP5 PSAP6\n1 N ONEPSAP NONE NONE NONE NONE NONE NONE\n\
TABLE TRKGRP\nGRPKEY GRPTYP SIG SUPV CALLED ANI NPA DEFESN ESCO ANIDELAY\nEO E911 MF SF 911 Y 919 1 11 0\n";
    let l = e911_tandem::tandem::datafill::load(&[(PathBuf::from("one.dat"), dat.to_string())]);
    assert!(l.is_valid(), "{:?}", l.problems);
    let call = |at: u64, tn: &str| {
        format!("sf on\nsilence {at}\nsf seize\nsilence 600\nmf KP 911 ST\nsilence 300\nmf KP 0 {tn} ST\nsilence 20000\n")
    };
    let eo = render(
        "eo",
        &format!(
            "channels 2\nchannel 0\n{}channel 1\n{}",
            call(1500, "5551234"),
            call(2500, "5550100")
        ),
    )
    .unwrap();
    // The PSAP's one position: wink for the first call, answer, hang up at 12 s (a disconnect at
    // 13.3 s; the position is free after the 1.5 s release guard, 14.8 s); then wink for
    // the queued call and answer it.
    let psap = "sf on\nsilence 4600\nsf wink ms=200\nsilence 2000\nsf seize\nat 12000\nsf disconnect\nat 15200\nsf wink ms=200\nsilence 2000\nsf seize\nsilence 5000\n";
    let pa = render("psap", psap).unwrap();
    let mut psap_in = BTreeMap::new();
    psap_in.insert("ONEPSAP".to_string(), pa.channels);
    let run = e911_tandem::route::run_with_psaps(&l.office, "EO", &eo.channels, &psap_in).unwrap();
    assert_eq!(run.records.len(), 2, "{:#?}", run.records);
    let second = run.records.iter().find(|r| r.channel == 1).unwrap();
    assert!(second.logs.iter().any(|l| l.contains("QUEUED")));
    assert_eq!(second.outpulsed.as_deref(), Some("KP 0 5550100 ST"));
    let answered = second
        .answered_ms
        .expect("answered after the position freed");
    assert!(answered > 14_800.0, "{answered}");
    // Ringback (440 + 480 Hz) on the queued caller's line while waiting, not after delivery.
    let x = &run.legs["EO"][1];
    let tone = |from_ms: usize, to_ms: usize, hz: f64| {
        let seg = &x[from_ms * 8..to_ms * 8];
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &v) in seg.iter().enumerate() {
            let a = std::f64::consts::TAU * hz * i as f64 / 8000.0;
            re += v as f64 * a.cos();
            im += v as f64 * a.sin();
        }
        2.0 * (re * re + im * im).sqrt() / seg.len() as f64
    };
    // The second spill ends about 5.3 s in (seized 2.5 s + 50 ms + 600 + 576 + 300 + 1324 ms):
    // ringback 2 s on / 4 s off from then — on at 5.3–7.3 s, 11.3–13.3 s, and it would be on
    // again at 17.3–19.3 s had the call not been delivered at 14.8 s.
    assert!(
        tone(5_500, 7_100, 440.0) > 1000.0,
        "no ringback while queued"
    );
    assert!(tone(5_500, 7_100, 480.0) > 1000.0);
    assert!(
        tone(8_000, 11_000, 440.0) < 50.0,
        "ringback is 2 s on, 4 s off"
    );
    assert!(
        tone(17_500, 19_100, 440.0) < 50.0,
        "ringback after delivery"
    );
}

#[test]
fn a_3digit_psap_hears_the_npa_in_place_of_the_information_digit() {
    let dat = "TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\nNPAPSAP 3DIGIT SF 1 NONE POLICE\n\
TABLE E911ESN\nESN FLASH PRIMPSAP PSAP1 PSAP2 PSAP3 PSAP4 PSAP5 PSAP6\n7 Y NPAPSAP NONE NONE NONE NONE NONE NONE\n\
TABLE TRKGRP\nGRPKEY GRPTYP SIG SUPV CALLED ANI NPA DEFESN ESCO ANIDELAY\nEO E911 MF SF 911 Y 919 7 11 0\n";
    let l = e911_tandem::tandem::datafill::load(&[(PathBuf::from("npa.dat"), dat.to_string())]);
    assert!(l.is_valid(), "{:?}", l.problems);
    let eo = render("eo", "sf on\nsilence 1500\nsf seize\nsilence 600\nmf KP 911 ST\nsilence 300\nmf KP 0 5551234 ST\nsilence 4000\n")
    .unwrap();
    let run = e911_tandem::route::run(&l.office, "EO", &eo.channels).unwrap();
    // 3DIGIT: the caller's NPA, and no flash digit even though the ESN says FLASH Y.
    assert_eq!(
        run.records[0].outpulsed.as_deref(),
        Some("KP 919 5551234 ST")
    );
    assert_eq!(decode(&run.legs["NPAPSAP"][0]), "KP 919 5551234 ST");
}

#[test]
fn one_trunk_carries_several_calls_in_turn() {
    let one = "sf seize\nsilence 600\nmf KP 911 ST\nsilence 300\nmf KP 0 5551234 ST\nsilence 2000\nsf disconnect\nsilence 2000\n";
    let eo = render("eo", &format!("sf on\nsilence 1000\n{one}{one}{one}")).unwrap();
    let run = e911_tandem::route::run(&office(), "CARYEO1", &eo.channels).unwrap();
    assert_eq!(run.records.len(), 3, "{:#?}", run.records);
    assert!(run
        .records
        .iter()
        .all(|r| r.released_ms.is_some() && r.outpulsed.as_deref() == Some("KP 0 5551234 ST")));
    assert!(run
        .records
        .windows(2)
        .all(|w| w[1].seized_ms > w[0].released_ms.unwrap()));
}

#[test]
fn route_without_legs_keeps_no_audio_and_decides_the_same_calls() {
    let eo = e911_tandem::audio::wav::read_wav(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/spills/cary-eo.wav"),
    )
    .unwrap();
    let long: Vec<Vec<i16>> = eo.channels.iter().map(|c| c.repeat(4)).collect();
    let run = |keep_legs| {
        e911_tandem::route::run_on(
            &office(),
            "CARYEO1",
            &long,
            &Default::default(),
            None,
            160_000,
            keep_legs,
        )
        .unwrap()
    };
    let (with, without) = (run(true), run(false));
    assert_eq!(with.records, without.records);
    assert!(!with.legs.is_empty());
    assert!(without.legs.is_empty());
}
