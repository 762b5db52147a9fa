//! The incoming E911 trunk state machine, one test per state and event, in a small timestamped
//! DSL (`at(ms, event)` / `tick(ms)`) in the manner of smoltcp's TCP tests. Trunk groups from the
//! bundled Cary office: CARYEO1 (MF, SF, 911, ANI, no ANIDELAY), APEXEO1 (DP, 11, ANIDELAY
//! 1000 ms), WAKEPBX (no supervision, direct seizure, non-ANI).

use std::path::PathBuf;

use e911_tandem::register::mf::MfSignal;
use e911_tandem::tandem::ani::AniStatus;
use e911_tandem::tandem::incoming::{Action, CallSetup, Event, IncomingTrunk};
use e911_tandem::tandem::tables::TrunkGroup;

fn group(key: &str) -> TrunkGroup {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat");
    e911_tandem::files::datafill(&p)
        .unwrap()
        .office
        .trunk_groups[key]
        .clone()
}

fn t(ms: u64) -> u64 {
    ms * 8
}

/// A step: an event at a time, or just time passing.
enum Step {
    At(u64, Event),
    Tick(u64),
}
use Step::*;

fn mf(at_ms: u64, spill: &str) -> Vec<Step> {
    MfSignal::parse_sequence(spill)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, s)| At(at_ms + 136 * i as u64, Event::Mf(s)))
        .collect()
}

/// Run the steps; return every action with the time it came out.
fn run(key: &str, steps: Vec<Step>) -> Vec<(u64, Action)> {
    let mut trunk = IncomingTrunk::new(group(key));
    let mut out = Vec::new();
    for s in steps {
        let mut acts = Vec::new();
        let now = match s {
            At(ms, ev) => {
                trunk.on_event(t(ms), ev, &mut acts);
                t(ms)
            }
            Tick(ms) => {
                trunk.poll(t(ms), &mut acts);
                t(ms)
            }
        };
        out.extend(acts.into_iter().map(|a| (now, a)));
    }
    out
}

fn routes(a: &[(u64, Action)]) -> Vec<&CallSetup> {
    a.iter()
        .filter_map(|(_, a)| match a {
            Action::Route(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn normal_call() -> Vec<Step> {
    let mut s = vec![At(0, Event::Seize), Tick(400)];
    s.extend(mf(500, "KP 911 ST"));
    s.push(Tick(1000));
    s.extend(mf(1100, "KP 0 5551234 ST"));
    s.push(Tick(5000));
    s.push(At(20_000, Event::Disconnect));
    s
}

#[test]
fn seized_winks_150_ms_later_for_200_ms() {
    let a = run(
        "CARYEO1",
        vec![At(0, Event::Seize), Tick(149), Tick(150), Tick(349)],
    );
    assert_eq!(a, vec![(t(150), Action::Wink { len: t(200) })]);
}

#[test]
fn called_kp_911_st_then_off_hook_then_spill_routes_once() {
    let a = run("CARYEO1", normal_call());
    let r = routes(&a);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].called, "911");
    assert_eq!(
        (r[0].ani.status, r[0].ani.tn),
        (AniStatus::Ok, Some(9_195_551_234))
    );
    assert!(!r[0].abandoned && r[0].logs.is_empty());
    // Off-hook ("send ANI") right after ST of the called digits (ANIDELAY 0).
    let off = a.iter().find(|(_, x)| *x == Action::OffHook).unwrap().0;
    assert_eq!(off, t(500 + 4 * 136)); // KP 9 1 1 ST: the fifth signal
    assert_eq!(a.last(), Some(&(t(20_000), Action::Release)));
}

#[test]
fn ani_delay_holds_the_off_hook() {
    // APEXEO1: DP 11, ANIDELAY 1000 ms.
    let a = run(
        "APEXEO1",
        vec![
            At(0, Event::Seize),
            At(800, Event::Dp(1)),
            At(1500, Event::Dp(1)),
            Tick(2499),
            Tick(2500),
        ],
    );
    assert_eq!(a.iter().filter(|(_, x)| *x == Action::OffHook).count(), 1);
    assert_eq!(a.last(), Some(&(t(2500), Action::OffHook)));
}

#[test]
fn no_called_digits_within_5_s_routes_with_e911201_and_ani_timeout() {
    let a = run(
        "CARYEO1",
        vec![
            At(0, Event::Seize),
            Tick(350 + 4999),
            Tick(350 + 5000),
            Tick(350 + 5000 + 10_000),
        ],
    );
    let r = routes(&a);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].called, "");
    assert!(r[0].logs[0].starts_with("E911201"), "{:?}", r[0].logs);
    assert_eq!(r[0].ani.status, AniStatus::Timeout);
    assert_eq!(
        a.iter()
            .find(|(_, x)| matches!(x, Action::Route(_)))
            .unwrap()
            .0,
        t(350 + 5000 + 10_000)
    );
}

#[test]
fn more_than_3_s_between_called_digits_ends_the_collection() {
    let mut s = vec![At(0, Event::Seize)];
    s.push(At(500, Event::Mf(MfSignal::KP)));
    s.push(At(700, Event::Mf(MfSignal::Digit(9))));
    s.push(Tick(700 + 3000));
    let a = run("CARYEO1", s);
    assert_eq!(a.last(), Some(&(t(3700), Action::OffHook)));
}

#[test]
fn abnormal_called_digits_still_route_with_e911201() {
    let mut s = vec![At(0, Event::Seize)];
    s.extend(mf(500, "KP 912 ST"));
    s.extend(mf(1200, "KP 0 5551234 ST"));
    let a = run("CARYEO1", s);
    let r = routes(&a);
    assert_eq!(r[0].called, "912");
    assert!(r[0].logs[0].starts_with("E911201 CALLED DIGITS `912`"));
    // Finding 17 (issue 29): the log says what the group expects.
    assert!(r[0].logs[0].ends_with("EXPECTS `911`)"), "{}", r[0].logs[0]);
    assert_eq!(r[0].ani.status, AniStatus::Ok);
}

#[test]
fn a_spill_without_st_times_out_10_s_after_its_last_signal() {
    let mut s = vec![At(0, Event::Seize)];
    s.extend(mf(500, "KP 911 ST"));
    s.push(At(1000, Event::Mf(MfSignal::KP)));
    s.push(At(1200, Event::Mf(MfSignal::Digit(0))));
    s.push(Tick(11_199));
    s.push(Tick(11_200));
    let a = run("CARYEO1", s);
    let r = routes(&a);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].ani.status, AniStatus::Timeout);
    assert_eq!(a.last().unwrap().0, t(11_200));
}

#[test]
fn kp_2_st_is_an_ani_failure_and_still_routes() {
    let mut s = vec![At(0, Event::Seize)];
    s.extend(mf(500, "KP 911 ST"));
    s.extend(mf(1000, "KP 2 ST"));
    let r = run("CARYEO1", s);
    assert_eq!(routes(&r)[0].ani.status, AniStatus::Failure);
}

#[test]
fn noise_before_kp_is_ignored() {
    let mut s = vec![At(0, Event::Seize)];
    s.extend(mf(500, "KP 911 ST"));
    s.push(At(900, Event::Mf(MfSignal::Digit(5))));
    s.extend(mf(1000, "KP 0 5551234 ST"));
    let r = run("CARYEO1", s);
    assert_eq!(routes(&r)[0].ani.tn, Some(9_195_551_234));
}

#[test]
fn a_caller_who_hangs_up_before_the_ani_is_complete_is_still_routed_abandoned() {
    for hang_ms in [100, 300, 600, 1300] {
        let mut s = vec![At(0, Event::Seize)];
        s.extend(mf(500, "KP 911 ST"));
        s.extend(mf(1000, "KP 0 5551234 ST"));
        let s: Vec<Step> = s
            .into_iter()
            .filter(|st| {
                matches!(st, At(ms, _) if *ms < hang_ms) || matches!(st, Tick(ms) if *ms < hang_ms)
            })
            .chain([At(hang_ms, Event::Disconnect)])
            .collect();
        let a = run("CARYEO1", s);
        let r = routes(&a);
        assert_eq!(r.len(), 1, "hang-up at {hang_ms} ms: {a:?}");
        assert!(r[0].abandoned);
        assert_eq!(a.last(), Some(&(t(hang_ms), Action::Release)));
    }
}

#[test]
fn a_direct_seizure_on_a_non_ani_trunk_routes_right_after_the_wink() {
    // WAKEPBX: CALLED NONE, ANI N.
    let a = run("WAKEPBX", vec![At(0, Event::Seize), Tick(349), Tick(350)]);
    let r = routes(&a);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].ani.status, AniStatus::None);
    assert!(r[0].logs.is_empty());
    assert_eq!(a.last().unwrap().0, t(350));
}

#[test]
fn a_disconnect_in_talk_releases_and_the_trunk_can_be_seized_again() {
    let mut s = normal_call();
    s.extend(normal_call().into_iter().map(|st| match st {
        At(ms, e) => At(ms + 30_000, e),
        Tick(ms) => Tick(ms + 30_000),
    }));
    let a = run("CARYEO1", s);
    assert_eq!(routes(&a).len(), 2);
    assert_eq!(a.iter().filter(|(_, x)| *x == Action::Release).count(), 2);
}

#[test]
fn events_while_idle_do_nothing() {
    let a = run(
        "CARYEO1",
        vec![
            At(0, Event::Mf(MfSignal::KP)),
            At(10, Event::Dp(3)),
            At(20, Event::Disconnect),
            Tick(10_000),
        ],
    );
    assert!(a.is_empty());
}

mod property {
    use super::*;
    use proptest::prelude::*;

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            3 => (0u8..15).prop_map(|c| Event::Mf(MfSignal::from_code(c).unwrap())),
            1 => (1u32..=10).prop_map(Event::Dp),
            1 => Just(Event::Disconnect),
            1 => Just(Event::Seize),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Every seizure yields exactly one route, whatever the end office sends (garbled
        /// spills, hang-ups anywhere, missing ST, stray events) and whenever: no 911 call is
        /// dropped, none is routed twice.
        #[test]
        fn every_seizure_routes_exactly_once(
            key in prop_oneof![Just("CARYEO1"), Just("APEXEO1"), Just("WAKEPBX")],
            steps in proptest::collection::vec((0u64..4000, event()), 0..60),
        ) {
            let mut trunk = IncomingTrunk::new(group(key));
            let mut now = 0u64;
            let mut acts = Vec::new();
            let mut seizures = 0;
            for (gap, ev) in steps {
                now += t(gap);
                if ev == Event::Seize && trunk.is_idle() {
                    seizures += 1;
                }
                trunk.on_event(now, ev, &mut acts);
            }
            // Let every timer run out, then the caller hangs up.
            now += t(60_000);
            trunk.poll(now, &mut acts);
            trunk.on_event(now, Event::Disconnect, &mut acts);
            let routed = acts.iter().filter(|a| matches!(a, Action::Route(_))).count();
            prop_assert_eq!(routed, seizures);
            prop_assert!(trunk.is_idle());
        }
    }
}
