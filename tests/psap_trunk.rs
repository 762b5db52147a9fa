//! The tandem → PSAP trunk state machine, per state and event, in the timestamped style of
//! `incoming_trunk.rs` (tandem.md §3 step 4).

use e911_tandem::register::mf::MfSignal;
use e911_tandem::tandem::psap_trunk::{spill_duration, PsapAction, PsapEvent, PsapTrunk};
use e911_tandem::tandem::tables::Supv;

fn t(ms: u64) -> u64 {
    ms * 8
}

fn spill() -> Vec<MfSignal> {
    MfSignal::parse_sequence("KP 0 5551234 ST").unwrap()
}

#[test]
fn a_spill_lasts_kp_100_ms_plus_68_per_signal_and_gap() {
    // KP + 8 digits + ST: 100 + 9·68 on, 9·68 gaps = 1324 ms.
    assert_eq!(spill_duration(&spill()), t(1324));
}

#[test]
fn sf_seize_wink_outpulse_answer_talk_release() {
    let mut p = PsapTrunk::new(Supv::Sf);
    let mut a = Vec::new();
    p.seize(t(0), spill(), &mut a);
    assert_eq!(a, vec![PsapAction::Seize]);
    a.clear();
    p.on_event(t(400), PsapEvent::Wink { len: t(200) }, &mut a);
    assert_eq!(
        a,
        vec![PsapAction::Outpulse {
            spill: spill(),
            duration: t(1324)
        }]
    );
    a.clear();
    p.poll(t(400 + 1324), &mut a);
    p.on_event(t(3000), PsapEvent::Answer, &mut a);
    assert_eq!(a, vec![PsapAction::CutThrough]);
    assert!(p.is_talking());
    a.clear();
    p.on_event(t(60_000), PsapEvent::Disconnect, &mut a);
    assert_eq!(a, vec![PsapAction::Release]);
    assert!(p.is_idle());
}

#[test]
fn no_wink_within_4_s_gives_up_so_the_next_position_is_tried() {
    let mut p = PsapTrunk::new(Supv::Sf);
    let mut a = Vec::new();
    p.seize(t(0), spill(), &mut a);
    a.clear();
    p.poll(t(3999), &mut a);
    assert!(a.is_empty());
    p.poll(t(4000), &mut a);
    assert_eq!(a, vec![PsapAction::WinkTimeout]);
    assert!(p.is_idle());
}

#[test]
fn a_wink_outside_100_to_350_ms_is_not_a_wink() {
    for len in [50, 400] {
        let mut p = PsapTrunk::new(Supv::Sf);
        let mut a = Vec::new();
        p.seize(t(0), spill(), &mut a);
        a.clear();
        p.on_event(t(300), PsapEvent::Wink { len: t(len) }, &mut a);
        assert!(a.is_empty(), "{len} ms");
    }
}

#[test]
fn an_unsupervised_psap_trunk_outpulses_without_a_wink() {
    let mut p = PsapTrunk::new(Supv::None);
    let mut a = Vec::new();
    p.seize(t(0), spill(), &mut a);
    p.poll(t(100), &mut a);
    assert_eq!(
        a[1],
        PsapAction::Outpulse {
            spill: spill(),
            duration: t(1324)
        }
    );
}

#[test]
fn an_answer_during_outpulsing_cuts_through_and_a_busy_trunk_ignores_a_second_seize() {
    let mut p = PsapTrunk::new(Supv::Sf);
    let mut a = Vec::new();
    p.seize(t(0), spill(), &mut a);
    p.on_event(t(300), PsapEvent::Wink { len: t(150) }, &mut a);
    a.clear();
    p.seize(t(310), spill(), &mut a);
    assert!(a.is_empty());
    p.on_event(t(500), PsapEvent::Answer, &mut a);
    assert_eq!(a, vec![PsapAction::CutThrough]);
}
