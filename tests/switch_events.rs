//! The switch at the level of events, without audio: what each port's receivers heard is given
//! to `Tandem::step_heard` at a time, in a small timestamped DSL (`at(ms, port, heard)`, then
//! `run_to(ms)`), in the manner of `tests/incoming_trunk.rs`. The office is written out here so
//! each test controls positions and overflow: POLICE (2 positions, OVFL FIRE), FIRE (1, OVFL EMS),
//! EMS (1). Expectations come from docs/call-processing.md: queue with ringback when every
//! position of the chain is busy, a 1.5 s release guard, a second code while a transfer is
//! pending gets reorder, the PSAP holds the call after the caller hangs up, a position that does
//! not wink in 4 s is skipped.

use std::path::PathBuf;

use e911_tandem::line::port::{Heard, PortEvent};
use e911_tandem::line::supervision::SupervisionEvent as Sv;
use e911_tandem::register::mf::MfSignal;
use e911_tandem::tandem::datafill::load;
use e911_tandem::tandem::switch::{CallRecord, Tandem};

const OFFICE: &str = "\
TABLE E911PSAP
PSAPNAME  ANIFMT  SUPV  POSITIONS  OVFL  AGENCY
POLICE    1DIGIT  SF    2          FIRE  POLICE
FIRE      1DIGIT  SF    1          EMS   FIRE
EMS       1DIGIT  SF    1          NONE  EMS
TABLE E911NPD
NPD  SNPA
0    919
TABLE E911ESN
ESN  FLASH  PRIMPSAP  PSAP1  PSAP2  PSAP3  PSAP4  PSAP5  PSAP6
123  N      POLICE    FIRE   EMS    NONE   NONE   NONE   NONE
TABLE TRKGRP
GRPKEY  GRPTYP  SIG  SUPV  CALLED  ANI  NPA  DEFESN  ESCO  ANIDELAY
EO      E911    MF   SF    911     Y    919  123     11    0
";

const BLOCK: u64 = 80;

fn t(ms: u64) -> u64 {
    ms * 8
}

/// A tandem with `trunks` trunks on EO, every PSAP heard, and the events still to come.
struct Office {
    sw: Tandem,
    now: u64,
    events: Vec<(u64, usize, Heard)>,
    /// What each port sent in the last block.
    out: Vec<Vec<i16>>,
}

impl Office {
    fn new(trunks: usize) -> Office {
        let l = load(&[(PathBuf::from("office.dat"), OFFICE.into())]);
        assert!(l.is_valid(), "{:?}", l.problems);
        let heard = ["POLICE", "FIRE", "EMS"].map(String::from).into();
        let sw = Tandem::new(&l.office, &[("EO".into(), trunks)], &heard).unwrap();
        let n = sw.ports().len();
        Office {
            sw,
            now: 0,
            events: Vec::new(),
            out: vec![vec![0; BLOCK as usize]; n],
        }
    }

    fn port(&self, leg: &str, ch: usize) -> usize {
        self.sw.port(leg, ch).unwrap()
    }

    fn at(&mut self, ms: u64, port: usize, heard: Heard) {
        self.events.push((t(ms), port, heard));
    }

    /// A whole end-office call on `trunk` from `ms`: seizure, `KP 911 ST`, the ANI spill.
    fn call(&mut self, ms: u64, trunk: usize, ani: &str) {
        let p = self.port("EO", trunk);
        self.at(ms, p, seize(ms));
        self.mf(ms + 500, p, "KP 911 ST");
        self.mf(ms + 1100, p, &format!("KP 0 {ani} ST"));
    }

    fn mf(&mut self, ms: u64, port: usize, spill: &str) {
        for (i, s) in MfSignal::parse_sequence(spill)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            self.at(ms + 136 * i as u64, port, Heard::Mf(s));
        }
    }

    /// The attendant at `port` flashes at `ms` and dials `code` 300 ms later (keys 140 ms apart).
    fn transfer(&mut self, ms: u64, port: usize, code: &str) {
        self.at(ms, port, flash(ms));
        for (i, k) in code.chars().enumerate() {
            self.at(ms + 300 + 140 * i as u64, port, Heard::Dtmf(k));
        }
    }

    /// A PSAP position that winks `wink_ms` after `ms` (for 200 ms) and answers 2 s later.
    fn psap_takes(&mut self, ms: u64, port: usize) {
        self.at(ms + 350, port, wink(ms + 350));
        self.at(ms + 2500, port, seize(ms + 2500));
    }

    /// Step blocks until `ms`, each block given the events that fall in it.
    fn run_to(&mut self, ms: u64) {
        let n = self.sw.ports().len();
        let silence = vec![0i16; BLOCK as usize];
        while self.now < t(ms) {
            let end = self.now + BLOCK;
            let mut heard: Vec<Vec<PortEvent>> = vec![Vec::new(); n];
            self.events.sort_by_key(|e| e.0);
            let now = self.now;
            self.events.retain(|&(at, p, h)| {
                if at < end {
                    heard[p].push(PortEvent {
                        at: at.max(now),
                        heard: h,
                    });
                    false
                } else {
                    true
                }
            });
            let ins: Vec<&[i16]> = (0..n).map(|_| silence.as_slice()).collect();
            let mut outs: Vec<&mut [i16]> = self.out.iter_mut().map(|o| o.as_mut_slice()).collect();
            self.sw.step_heard(&heard, &ins, &mut outs);
            self.now = end;
        }
    }

    /// Level (dBm0) of what `port` sent in the last block.
    fn sent_dbm0(&self, port: usize) -> f64 {
        let x = &self.out[port];
        let p = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
        e911_tandem::units::power_to_dbm0(p)
    }

    fn records(&self) -> &[CallRecord] {
        self.sw.records()
    }

    fn record_of(&self, ani: &str) -> &CallRecord {
        self.records()
            .iter()
            .find(|r| r.ani.as_deref() == Some(ani))
            .unwrap_or_else(|| panic!("no record for {ani}: {:#?}", self.records()))
    }
}

fn seize(ms: u64) -> Heard {
    Heard::Sf(Sv::Seize {
        start: t(ms) - t(50),
        at: t(ms),
    })
}

fn wink(ms: u64) -> Heard {
    Heard::Sf(Sv::Wink {
        start: t(ms) - t(200),
        end: t(ms),
        at: t(ms),
    })
}

fn flash(ms: u64) -> Heard {
    Heard::Sf(Sv::Flash {
        start: t(ms) - t(500),
        end: t(ms),
        at: t(ms),
    })
}

fn disconnect(ms: u64) -> Heard {
    Heard::Sf(Sv::Disconnect {
        start: t(ms) - t(1300),
        at: t(ms),
    })
}

/// When the tandem routes a call placed at `ms` (ST of the ANI spill: `KP 0 NXXXXXX ST` is 10
/// signals 136 ms apart from `ms + 1100`).
fn routed(ms: u64) -> u64 {
    ms + 1100 + 9 * 136
}

#[test]
fn every_position_of_the_overflow_chain_busy_queues_with_ringback_then_delivers() {
    let mut o = Office::new(5);
    // Four calls fill POLICE/0, POLICE/1, then overflow to FIRE/0 and EMS/0; the fifth queues.
    let tns = ["5550001", "5550002", "5550003", "5550004", "5550005"];
    for (k, tn) in tns.iter().enumerate() {
        o.call(1000 * k as u64, k, tn);
    }
    // The four positions wink and answer as their calls arrive.
    for (k, (leg, ch)) in [("POLICE", 0), ("POLICE", 1), ("FIRE", 0), ("EMS", 0)]
        .into_iter()
        .enumerate()
    {
        let p = o.port(leg, ch);
        o.psap_takes(routed(1000 * k as u64), p);
    }
    // The fifth caller hears ringback (440 + 480 Hz at −19 dBm0 each: −16 dBm0) 2 s on, 4 off.
    let queued_at = routed(4000);
    o.run_to(queued_at + 1000);
    let fifth = o.port("EO", 4);
    let on = o.sent_dbm0(fifth);
    // One 10 ms block of two tones 40 Hz apart: their beat moves its power within ±3 dB.
    assert!((on + 16.0).abs() <= 3.1, "ringback on: {on:.1} dBm0");
    o.run_to(queued_at + 3000);
    assert!(o.sent_dbm0(fifth) < -60.0, "ringback off");
    o.run_to(10_000);
    let placed: Vec<(Option<&str>, Option<u32>)> = tns
        .iter()
        .map(|tn| {
            let r = o.record_of(&format!("919{tn}"));
            (r.psap.as_deref(), r.position)
        })
        .collect();
    assert_eq!(
        placed,
        [
            (Some("POLICE"), Some(0)),
            (Some("POLICE"), Some(1)),
            (Some("FIRE"), Some(0)),
            (Some("EMS"), Some(0)),
            (Some("POLICE"), None),
        ]
    );
    let fifth = o.record_of("9195550005");
    assert!(fifth
        .logs
        .iter()
        .any(|l| l == "QUEUED WITH RINGBACK: ALL POSITIONS BUSY"));
    assert!(o
        .record_of("9195550003")
        .logs
        .iter()
        .any(|l| l == "OVERFLOW: ALL POSITIONS BUSY AT POLICE: TO FIRE/0"));
    // POLICE/0 hangs up at 12 s: after the 1.5 s release guard the queued call takes it.
    let p0 = o.port("POLICE", 0);
    o.at(12_000, p0, disconnect(12_000));
    o.run_to(13_400);
    assert_eq!(o.record_of("9195550005").position, None, "inside the guard");
    o.run_to(13_600);
    let r = o.record_of("9195550005");
    assert_eq!((r.psap.as_deref(), r.position), (Some("POLICE"), Some(0)));
    assert_eq!(
        o.record_of("9195550001").position_released_ms,
        Some(12_000.0)
    );
}

#[test]
fn a_position_that_never_winks_is_skipped_for_the_next() {
    let mut o = Office::new(1);
    o.call(0, 0, "5551234");
    // POLICE/0 never winks; 4 s after its seizure the tandem tries POLICE/1.
    o.run_to(routed(0) + 3900);
    assert_eq!(o.record_of("9195551234").position, Some(0));
    o.run_to(routed(0) + 4200);
    let r = o.record_of("9195551234");
    assert_eq!((r.psap.as_deref(), r.position), (Some("POLICE"), Some(1)));
    assert!(r
        .logs
        .iter()
        .any(|l| l == "NO WINK FROM POLICE POSITION 0: TRYING ANOTHER"));
}

#[test]
fn the_psap_holds_the_call_after_the_caller_hangs_up() {
    let mut o = Office::new(1);
    o.call(0, 0, "5551234");
    let p0 = o.port("POLICE", 0);
    o.psap_takes(routed(0), p0);
    let trunk = o.port("EO", 0);
    o.at(10_000, trunk, disconnect(10_000));
    o.run_to(20_000);
    let r = o.record_of("9195551234");
    assert!(r.answered_ms.is_some() && !r.abandoned);
    assert_eq!(r.released_ms, Some(10_000.0));
    assert_eq!(r.position_released_ms, None, "called-party hold");
    o.at(21_000, p0, disconnect(21_000));
    o.run_to(22_000);
    assert_eq!(
        o.record_of("9195551234").position_released_ms,
        Some(21_000.0)
    );
}

#[test]
fn a_second_code_while_a_transfer_is_pending_gets_reorder_and_the_first_goes_on() {
    let mut o = Office::new(1);
    o.call(0, 0, "5551234");
    let p0 = o.port("POLICE", 0);
    o.psap_takes(routed(0), p0);
    // Flash and *11 (FIRE) at 6 s: FIRE is seized and winks but does not answer yet.
    o.transfer(6000, p0, "*11");
    o.run_to(7000);
    let x = &o.record_of("9195551234").transfers[0];
    assert_eq!(
        (x.target.as_deref(), x.outcome.as_str()),
        (Some("FIRE"), "pending")
    );
    // A second flash and *12 while *11 is pending: reorder, logged.
    o.transfer(8000, p0, "*12");
    o.run_to(9500);
    let r = o.record_of("9195551234");
    assert_eq!(r.transfers.len(), 2);
    assert_eq!(
        (
            r.transfers[1].code.as_str(),
            r.transfers[1].outcome.as_str()
        ),
        ("*12", "reorder")
    );
    assert!(r
        .logs
        .iter()
        .any(|l| l == "*12: A TRANSFER IS ALREADY PENDING"));
    // FIRE answers: the first transfer is conferenced.
    let f0 = o.port("FIRE", 0);
    o.at(10_000, f0, wink(10_000));
    o.at(12_000, f0, seize(12_000));
    o.run_to(13_000);
    assert_eq!(
        o.record_of("9195551234").transfers[0].outcome.as_str(),
        "conferenced"
    );
}

#[test]
fn a_caller_hanging_up_during_a_transfer_still_gets_the_target_its_spill() {
    let mut o = Office::new(1);
    o.call(0, 0, "5551234");
    let p0 = o.port("POLICE", 0);
    o.psap_takes(routed(0), p0);
    o.transfer(6000, p0, "*11");
    let trunk = o.port("EO", 0);
    o.at(7000, trunk, disconnect(7000));
    let f0 = o.port("FIRE", 0);
    o.at(7300, f0, wink(7300));
    o.at(9000, f0, seize(9000));
    o.run_to(10_000);
    let r = o.record_of("9195551234");
    assert_eq!(r.released_ms, Some(7000.0));
    assert!(!r.abandoned, "answered before the caller left");
    let x = &r.transfers[0];
    assert_eq!(
        (
            x.target.as_deref(),
            x.outcome.as_str(),
            x.outpulsed.as_deref()
        ),
        (Some("FIRE"), "conferenced", Some("KP 0 5551234 ST"))
    );
}

#[test]
fn a_caller_gone_before_any_answer_is_abandoned_where_it_was() {
    let mut o = Office::new(3);
    // POLICE's two positions and FIRE and EMS are all taken by the first four… here: two calls
    // answer, the third rings at FIRE/0 and its caller hangs up before FIRE answers.
    o.call(0, 0, "5550001");
    o.call(100, 1, "5550002");
    o.call(200, 2, "5550003");
    let (p0, p1) = (o.port("POLICE", 0), o.port("POLICE", 1));
    o.psap_takes(routed(0), p0);
    o.psap_takes(routed(100), p1);
    let trunk = o.port("EO", 2);
    o.at(4000, trunk, disconnect(4000));
    o.run_to(5000);
    let r = o.record_of("9195550003");
    assert!(r.abandoned);
    assert_eq!(r.abandoned_while.as_deref(), Some("ringing at FIRE/0"));
    assert_eq!(r.abandoned_ms, Some(4000.0));
}

#[test]
fn next_deadline_names_the_earliest_timer_of_the_switch() {
    let mut o = Office::new(1);
    assert_eq!(o.sw.next_deadline(), None, "an idle office has no timer");
    let trunk = o.port("EO", 0);
    o.at(0, trunk, seize(0));
    o.run_to(10);
    // Seized at 0: the tandem winks 150 ms later (docs/call-processing.md).
    assert_eq!(o.sw.next_deadline(), Some(t(150)));
    o.call(1000, 0, "5551234");
    o.run_to(routed(1000) + 10);
    // POLICE/0 seized at the route: it must wink within 4 s.
    let d = o.sw.next_deadline().unwrap();
    assert!(d > t(routed(1000)) && d <= t(routed(1000) + 4000), "{d}");
}
