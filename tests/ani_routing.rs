//! ANI spill forms, selective routing and the regenerated ANI, against the examples of
//! `docs/call-processing.md`, on the bundled Cary office (NPD 0 = 919).

use std::path::PathBuf;

use e911_tandem::register::mf::MfSignal;
use e911_tandem::tandem::ani::{parse_spill, regenerate, route, spill_string, AniStatus};
use e911_tandem::tandem::tables::Office;

fn office() -> Office {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat");
    let l = e911_tandem::files::datafill(&p).unwrap();
    assert!(l.is_valid());
    l.office
}

fn sigs(s: &str) -> Vec<MfSignal> {
    MfSignal::parse_sequence(s).unwrap()
}

#[test]
fn spill_forms_of_section_1() {
    let o = office();
    let tg = &o.trunk_groups["CARYEO1"];
    let a = parse_spill(&sigs("KP 0 5551234 ST"), true, tg);
    assert_eq!((a.status, a.tn), (AniStatus::Ok, Some(9_195_551_234)));
    assert_eq!(a.spill, "KP 0 5551234 ST");
    for term in ["STP", "ST2P", "ST3P"] {
        assert_eq!(
            parse_spill(&sigs(&format!("KP 0 5551234 {term}")), true, tg).status,
            AniStatus::Ok
        );
    }
    let a = parse_spill(&sigs("KP 00 9845557000 ST"), true, tg);
    assert_eq!(
        (a.status, a.tn, a.info.clone()),
        (AniStatus::Ok, Some(9_845_557_000), vec![0, 0])
    );
    assert_eq!(
        parse_spill(&sigs("KP 1 ST"), true, tg).status,
        AniStatus::Failure
    );
    assert_eq!(
        parse_spill(&sigs("KP 2 ST"), true, tg).status,
        AniStatus::Failure
    );
    assert_eq!(
        parse_spill(&sigs("KP 0 555123 ST"), true, tg).status,
        AniStatus::Failure
    );
    assert_eq!(
        parse_spill(&sigs("0 5551234 ST"), true, tg).status,
        AniStatus::Failure
    );
    assert_eq!(
        parse_spill(&sigs("KP 0"), false, tg).status,
        AniStatus::Timeout
    );
    let pbx = &o.trunk_groups["WAKEPBX"];
    assert_eq!(parse_spill(&[], false, pbx).status, AniStatus::None);
}

#[test]
fn routing_by_srdb_then_default_esn_with_logs() {
    let o = office();
    let tg = &o.trunk_groups["CARYEO1"];
    let r = route(&o, tg, &parse_spill(&sigs("KP 0 5550100 ST"), true, tg));
    assert_eq!(
        (r.esn, r.esn_source, r.psap.as_str()),
        (124, "srdb", "CARYPOLICE")
    );
    assert!(r.logs.is_empty());
    let r = route(&o, tg, &parse_spill(&sigs("KP 0 5559999 ST"), true, tg));
    assert_eq!((r.esn, r.esn_source), (123, "default"));
    assert!(r.logs[0].starts_with("E911203"), "{:?}", r.logs);
    let r = route(&o, tg, &parse_spill(&sigs("KP 2 ST"), true, tg));
    assert_eq!((r.esn, r.esn_source), (123, "default"));
    assert!(
        r.logs[0].starts_with("E911202") && r.logs[0].contains("KP 2 ST"),
        "{:?}",
        r.logs
    );
    let apex = &o.trunk_groups["APEXEO1"];
    let r = route(&o, apex, &parse_spill(&sigs("KP 0 5557000 ST"), true, apex));
    // 919-555-7000 has no SRDB row (984-555-7000 does): APEXEO1's DEFESN 200 → APEXPOLICE.
    assert_eq!((r.esn, r.psap.as_str()), (200, "APEXPOLICE"));
}

#[test]
fn regenerated_ani_examples_of_section_4() {
    let o = office();
    let tg = &o.trunk_groups["CARYEO1"]; // NPA 919, ESCO 11
    let ani = parse_spill(&sigs("KP 3 5551234 ST"), true, tg); // incoming info digit discarded
    let police = &o.psaps["CARYPOLICE"]; // 1DIGIT
    let apexfire = &o.psaps["APEXFIRE"]; // 3DIGIT
    let esn_n = &o.esns[&123]; // FLASH N
    let esn_y = &o.esns[&124]; // FLASH Y
    assert_eq!(
        spill_string(&regenerate(&o, police, esn_n, tg, &ani, false)),
        "KP 0 5551234 ST"
    );
    assert_eq!(
        spill_string(&regenerate(&o, police, esn_y, tg, &ani, false)),
        "KP 4 5551234 ST"
    );
    assert_eq!(
        spill_string(&regenerate(&o, apexfire, esn_n, tg, &ani, false)),
        "KP 919 5551234 ST"
    );
    assert_eq!(
        spill_string(&regenerate(&o, police, esn_n, tg, &ani, true)),
        "KP 8 5551234 ST"
    );
    let failed = parse_spill(&sigs("KP 2 ST"), true, tg);
    assert_eq!(
        spill_string(&regenerate(&o, police, esn_n, tg, &failed, false)),
        "KP 0 9110011 ST"
    );
    // A caller from 984 (NPD 1) with flash: 1 + 4 = 5.
    let a984 = parse_spill(&sigs("KP 00 9845557000 ST"), true, tg);
    assert_eq!(
        spill_string(&regenerate(&o, police, esn_y, tg, &a984, false)),
        "KP 5 5557000 ST"
    );
}

#[test]
fn the_regenerated_spill_decodes_through_our_mf_receiver() {
    use e911_tandem::generate::synth::{ChannelSynth, Impairments, MfParams};
    let o = office();
    let tg = &o.trunk_groups["CARYEO1"];
    let ani = parse_spill(&sigs("KP 0 5551234 ST"), true, tg);
    let out = regenerate(&o, &o.psaps["APEXFIRE"], &o.esns[&123], tg, &ani, false);
    let mut ch = ChannelSynth::new(4);
    ch.silence(50.0);
    ch.mf(&out, &MfParams::default());
    ch.silence(50.0);
    let (x, _) = ch.finish(&Impairments {
        g711: Some(e911_tandem::dsp::g711::Law::Ulaw),
        ..Default::default()
    });
    let mut rx = e911_tandem::register::mf::MfReceiver::new();
    let mut got = Vec::new();
    rx.process(&x, &mut |e| {
        if e.on {
            got.push(e.signal)
        }
    });
    assert_eq!(spill_string(&got), "KP 919 5551234 ST");
}
