//! The tandem switch as a streaming component: audio in on every port, audio out on every port,
//! one block at a time on one sample clock. It owns the receivers of every port (SF supervision
//! and dial pulses, MF on end-office trunks; SF and — after a flash — DTMF on PSAP trunks), the
//! call-processing machines ([`IncomingTrunk`], [`PsapTrunk`], [`CodeCollector`]), routing,
//! positions and queues, the senders of every port and the conference bridge.
//!
//! Ports: every channel of every incoming trunk group, then every position of every PSAP (name
//! order). [`Tandem::step`] takes one input block per port and writes one output block per port,
//! all of the same length; what is heard in a block can change what is sent in that same block
//! (the tandem adds no delay of its own). `e911 route` drives it from files, `simulate` and the
//! engine from the models and the sound card.
//!
//! PSAPs whose audio is not heard (`route` without `--psap-in`) are modelled by events: wink
//! 150 ms after seizure for 200 ms, answer 500 ms after the spill, and hold the call.
//!
//! No I/O, no clock: time is the sample count of the blocks stepped.

use std::collections::{BTreeMap, BTreeSet};

use super::ani::{regenerate, route, spill_string, substitute_tn};
use super::bridge::{Bridge, PortLine};
use super::call::{Call, CallAction, CallEvent};
pub use super::delivery::RELEASE_GUARD;
use super::delivery::{Delivery, Placed};
use super::incoming::{Action, Event, IncomingTrunk};
use super::psap_trunk::{PsapAction, PsapEvent, PsapTrunk};
pub use super::record::{CallRecord, TransferOutcome, TransferRecord};
use super::tables::{Office, Supv, TrunkGroup};
use super::transfer::{resolve, CodeCollector, CollectAction, Target};
use crate::generate::sender::{MfTiming, ToneKind};
use crate::line::port::{Heard, PortEvent, PortReceivers, RxSet};
use crate::line::sf::IDLE_DBM0;
use crate::line::supervision::SupervisionEvent;
use crate::units::{ms_to_samples, samples_to_ms};

/// Audible ringback per tone (dBm0); the spec gives none, this is the usual North American −19.
pub const RINGBACK_DBM0: f64 = -19.0;
/// Recall dial tone per tone (signalling.md §4).
pub const RECALL_DBM0: f64 = -13.0;
/// Reorder per tone (signalling.md §4).
pub const REORDER_DBM0: f64 = -24.0;
/// A modelled attendant (a PSAP whose audio is not heard) hangs up this long after answering
/// (ms), as `simulate`'s attendant does by default.
pub const MODEL_HOLD_MS: f64 = 20_000.0;

/// Why a tandem cannot be built for these ports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TandemError {
    #[error("trunk group {0} is not in TRKGRP")]
    UnknownTrunkGroup(String),
    #[error("{0} is not in E911PSAP")]
    UnknownPsap(String),
    #[error("{0}: SUPV NONE carries no supervision in its audio")]
    NotSupervised(String),
}

/// What a port is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Trunk group key or PSAP name.
    pub leg: String,
    /// Trunk number in the group, or position (0-based).
    pub channel: usize,
    pub psap: bool,
}

struct TrunkPort {
    group: usize,
    channel: usize,
    machine: IncomingTrunk,
    /// Out-of-band supervision (E&M leads on `SUPV NONE` groups).
    oob: Vec<(u64, Event)>,
    call: Option<usize>,
}

struct PsapPort {
    psap: String,
    position: u32,
    heard: bool,
    trunk: PsapTrunk,
    collector: CodeCollector,
    call: Option<usize>,
    /// `Some(i)`: this leg serves transfer `i` of the call; `None`: the call's own delivery.
    transfer: Option<usize>,
    flashed_at: u64,
    /// Modelled attendant: pending (time, event).
    script: Vec<(u64, PsapEvent)>,
}

/// A delivery waiting for a position.
#[derive(Debug, Clone, Copy)]
struct Request {
    call: usize,
    transfer: Option<usize>,
}

/// The switch.
pub struct Tandem {
    office: Office,
    groups: Vec<TrunkGroup>,
    trunks: Vec<TrunkPort>,
    psaps: Vec<PsapPort>,
    /// PSAP name → index of its first position in `psaps`.
    psap_base: BTreeMap<String, usize>,
    info: Vec<PortInfo>,
    delivery: Delivery<Request>,
    calls: Vec<Call>,
    records: Vec<CallRecord>,
    used: BTreeSet<String>,
    now: u64,
    /// End of the block being stepped.
    next: u64,
    /// Latest time anything happened (for trimming recorded legs).
    last_activity: u64,
    /// Every port's sending side (trunks, then positions: the port order).
    lines: Vec<PortLine>,
    bridge: Bridge,
    /// Scratch for the parties of one conference.
    parties: Vec<usize>,
    /// The tandem's own receivers (empty until the first [`Tandem::step`]).
    rx: Vec<PortReceivers>,
    heard: Vec<Vec<PortEvent>>,
    mf_timing: MfTiming,
    /// How long a modelled attendant holds a call before hanging up (samples).
    model_hold: u64,
}

impl Tandem {
    /// A tandem for `office` with these incoming trunk groups `(GRPKEY, trunks)`; PSAPs in
    /// `heard` are listened to on their ports, the others are modelled.
    pub fn new(
        office: &Office,
        groups: &[(String, usize)],
        heard: &BTreeSet<String>,
    ) -> Result<Self, TandemError> {
        let mut tgs = Vec::new();
        let mut trunks = Vec::new();
        let mut lines = Vec::new();
        let mut info = Vec::new();
        for (gi, (key, n)) in groups.iter().enumerate() {
            let tg = office
                .trunk_groups
                .get(key)
                .ok_or_else(|| TandemError::UnknownTrunkGroup(key.clone()))?
                .clone();
            for c in 0..*n {
                let sf = tg.supv == Supv::Sf;
                lines.push(PortLine::new(sf.then_some(IDLE_DBM0), sf));
                trunks.push(TrunkPort {
                    group: gi,
                    channel: c,
                    machine: IncomingTrunk::new(tg.clone()),
                    oob: Vec::new(),
                    call: None,
                });
                info.push(PortInfo {
                    leg: key.clone(),
                    channel: c,
                    psap: false,
                });
            }
            tgs.push(tg);
        }
        for name in heard {
            let p = office
                .psaps
                .get(name)
                .ok_or_else(|| TandemError::UnknownPsap(name.clone()))?;
            if p.supv != Supv::Sf {
                return Err(TandemError::NotSupervised(name.clone()));
            }
        }
        let mut psaps = Vec::new();
        let mut psap_base = BTreeMap::new();
        for p in office.psaps.values() {
            psap_base.insert(p.name.clone(), psaps.len());
            for k in 0..p.positions {
                // A position's voice always goes through the notch (SF or not: the bridge
                // treats every PSAP leg alike).
                lines.push(PortLine::new(
                    (p.supv == Supv::Sf).then_some(IDLE_DBM0),
                    true,
                ));
                let heard = heard.contains(&p.name);
                psaps.push(PsapPort {
                    psap: p.name.clone(),
                    position: k,
                    heard,
                    trunk: PsapTrunk::new(p.supv),
                    collector: CodeCollector::default(),
                    call: None,
                    transfer: None,
                    flashed_at: 0,
                    script: Vec::new(),
                });
                info.push(PortInfo {
                    leg: p.name.clone(),
                    channel: k as usize,
                    psap: true,
                });
            }
        }
        let n = info.len();
        Ok(Tandem {
            office: office.clone(),
            groups: tgs,
            trunks,
            psaps,
            psap_base,
            info,
            delivery: Delivery::new(office),
            calls: Vec::new(),
            records: Vec::new(),
            used: BTreeSet::new(),
            now: 0,
            next: 0,
            last_activity: 0,
            lines,
            bridge: Bridge::new(n),
            parties: Vec::with_capacity(8),
            rx: Vec::new(),
            heard: Vec::new(),
            mf_timing: MfTiming::default(),
            model_hold: ms_to_samples(MODEL_HOLD_MS) as u64,
        })
    }

    /// How long modelled attendants (PSAPs not heard) hold each call after answering before they
    /// hang up (default [`MODEL_HOLD_MS`]).
    pub fn set_model_hold(&mut self, samples: u64) {
        self.model_hold = samples;
    }

    /// Every port, in the order `step` takes and gives blocks.
    pub fn ports(&self) -> &[PortInfo] {
        &self.info
    }

    /// Index of the port of `leg` (group key or PSAP name), channel/position `channel`.
    pub fn port(&self, leg: &str, channel: usize) -> Option<usize> {
        self.info
            .iter()
            .position(|p| p.leg == leg && p.channel == channel)
    }

    pub fn records(&self) -> &[CallRecord] {
        &self.records
    }

    pub fn into_records(self) -> Vec<CallRecord> {
        self.records
    }

    /// Stream time (samples stepped so far).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// PSAPs that have had a seizure.
    pub fn used_psaps(&self) -> &BTreeSet<String> {
        &self.used
    }

    pub fn last_activity(&self) -> u64 {
        self.last_activity
    }

    /// Trunks seized but not yet routed (still in wink, digits or ANI): `(GRPKEY, trunk)`. A run
    /// that stops here has calls no record shows yet; the drivers report them.
    pub fn in_setup(&self) -> Vec<(String, usize)> {
        self.trunks
            .iter()
            .filter(|t| !t.machine.is_idle() && t.call.is_none())
            .map(|t| (self.groups[t.group].key.clone(), t.channel))
            .collect()
    }

    /// Out-of-band supervision on a `SUPV NONE` trunk port (E&M leads): seize or disconnect at
    /// `at`; applied in the block that contains `at`.
    pub fn line_event(&mut self, port: usize, at: u64, seize: bool) {
        if let Some(tr) = self.trunks.get_mut(port) {
            tr.oob.push((
                at,
                if seize {
                    Event::Seize
                } else {
                    Event::Disconnect
                },
            ));
        }
    }

    /// The receivers each port needs (SF + MF on end-office trunks, SF + DTMF on PSAP positions
    /// that are heard), for whoever runs them: [`Tandem::step`] itself, or the engine's workers.
    pub fn receiver_sets(&self) -> Vec<RxSet> {
        let mut v: Vec<RxSet> = self
            .trunks
            .iter()
            .map(|t| RxSet {
                sf: self.groups[t.group].supv == Supv::Sf,
                mf: true,
                dtmf: false,
            })
            .collect();
        v.extend(self.psaps.iter().map(|p| RxSet {
            sf: p.heard,
            mf: false,
            dtmf: p.heard,
        }));
        v
    }

    /// One block, with the tandem's own receivers: `input[p]` is what port `p` heard during
    /// `[now, now + n)`, `output[p]` receives what the tandem sends on it. A shorter slice is a
    /// recording that has ended: its receivers hear nothing more (silence would read as an
    /// off-hook line, and seize it).
    pub fn step(&mut self, input: &[&[i16]], output: &mut [&mut [i16]]) {
        if self.rx.is_empty() {
            let psap = self.ports().iter().map(|p| p.psap).collect::<Vec<_>>();
            let mut planner = crate::dsp::correlator::KernelPlanner::new();
            self.rx = self
                .receiver_sets()
                .into_iter()
                .zip(psap)
                .map(|(set, psap)| PortReceivers::for_port(set, psap, &mut planner))
                .collect();
            self.heard = vec![Vec::new(); self.rx.len()];
        }
        let n = output.first().map_or(0, |o| o.len());
        for (p, rx) in self.rx.iter_mut().enumerate() {
            self.heard[p].clear();
            let x = input.get(p).copied().unwrap_or(&[]);
            rx.process(x, x.len().min(n), &mut self.heard[p]);
        }
        let heard = std::mem::take(&mut self.heard);
        self.step_heard(&heard, input, output);
        self.heard = heard;
    }

    /// One block with events from receivers run elsewhere (the engine's workers): `heard[p]` are
    /// port `p`'s events of this block in time order; `input` is still needed for the voice path.
    pub fn step_heard(
        &mut self,
        heard: &[Vec<PortEvent>],
        input: &[&[i16]],
        output: &mut [&mut [i16]],
    ) {
        let n = output.first().map_or(0, |o| o.len());
        let (now, next) = (self.now, self.now + n as u64);
        self.next = next;
        let nt = self.trunks.len();
        self.end_guards(next);
        for i in 0..nt {
            self.trunk_in(i, heard.get(i).map_or(&[][..], |v| v), now, next);
        }
        for i in 0..self.psaps.len() {
            self.psap_in(i, heard.get(nt + i).map_or(&[][..], |v| v), now, next);
        }
        self.render(input, output, n);
        self.now = next;
    }

    /// Positions whose release guard has run out go back to the pool (or to a queued call).
    fn end_guards(&mut self, next: u64) {
        let mut due = Vec::new();
        self.delivery.guards_ended(next, &mut due);
        for (req, psap, position, t) in due {
            self.deliver(req, &psap, position, t);
        }
    }

    fn trunk_in(&mut self, i: usize, heard: &[PortEvent], now: u64, next: u64) {
        let mut events: Vec<(u64, Event)> = heard
            .iter()
            .filter_map(|e| match e.heard {
                Heard::Mf(s) => Some((e.at, Event::Mf(s))),
                Heard::Sf(SupervisionEvent::Seize { .. }) => Some((e.at, Event::Seize)),
                Heard::Sf(SupervisionEvent::Disconnect { .. }) => Some((e.at, Event::Disconnect)),
                Heard::Sf(SupervisionEvent::Digit { pulses, .. }) => {
                    Some((e.at, Event::Dp(pulses)))
                }
                _ => None,
            })
            .collect();
        let tr = &mut self.trunks[i];
        tr.oob.retain(|&(t, e)| {
            if t < next {
                events.push((t.max(now), e));
                false
            } else {
                true
            }
        });
        events.sort_by_key(|(t, _)| *t);
        let mut actions: Vec<(u64, Action)> = Vec::new();
        for (t, ev) in events {
            let mut acts = Vec::new();
            tr.machine.on_event(t, ev, &mut acts);
            actions.extend(acts.into_iter().map(|a| (t, a)));
        }
        let mut acts = Vec::new();
        tr.machine.poll(next, &mut acts);
        actions.extend(acts.into_iter().map(|a| (next, a)));
        for (t, act) in actions {
            self.trunk_action(i, t, act);
        }
    }

    fn trunk_action(&mut self, i: usize, t: u64, act: Action) {
        self.last_activity = self.last_activity.max(t);
        let sf = self.groups[self.trunks[i].group].supv == Supv::Sf;
        let tx = &mut self.lines[i].tx;
        let tr = &mut self.trunks[i];
        match act {
            Action::Wink { len } => tx.wink(t, len, IDLE_DBM0),
            Action::OffHook => tx.sf(t, None),
            Action::Release => {
                tx.stop_progress(t);
                if sf {
                    tx.sf(t, Some(IDLE_DBM0));
                }
                if let Some(c) = tr.call.take() {
                    let rec = &mut self.records[c];
                    rec.released_ms.get_or_insert(samples_to_ms(t));
                    // Abandoned: still delivered (the PSAP sees the ANI/ALI to call back).
                    if let Some(CallAction::Abandoned { at, while_ }) =
                        self.calls[c].on_event(t, CallEvent::CallerReleased)
                    {
                        rec.abandoned = true;
                        rec.abandoned_ms = Some(samples_to_ms(at));
                        rec.logs.push(format!(
                            "ABANDONED: CALLER HUNG UP WHILE {}",
                            while_.to_uppercase()
                        ));
                        rec.abandoned_while = Some(while_);
                    }
                }
            }
            Action::Route(setup) => {
                let g = tr.group;
                let tg = &self.groups[g];
                let r = route(&self.office, tg, &setup.ani);
                let id = self.records.len();
                let mut logs = setup.logs.clone();
                logs.extend(r.logs.iter().cloned());
                self.records.push(CallRecord {
                    call: id as u64 + 1,
                    trunk: tg.key.clone(),
                    channel: tr.channel,
                    seized_ms: samples_to_ms(setup.seized),
                    called: setup.called.clone(),
                    ani_spill: setup.ani.spill.clone(),
                    // The caller's TN, or — after ANI trouble or from a non-ANI office — the
                    // substitute the PSAP is sent (NPA + 911-00EE).
                    ani: Some(format!(
                        "{:010}",
                        setup.ani.tn.unwrap_or_else(|| substitute_tn(tg))
                    )),
                    ani_status: setup.ani.status.as_str(),
                    esn: Some(r.esn),
                    esn_source: Some(r.esn_source),
                    psap: None,
                    position: None,
                    outpulsed: None,
                    answered_ms: None,
                    abandoned: setup.abandoned,
                    abandoned_ms: setup.abandoned.then(|| samples_to_ms(t)),
                    abandoned_while: setup.abandoned.then(|| "in setup".to_string()),
                    transfers: Vec::new(),
                    released_ms: None,
                    position_released_ms: None,
                    logs,
                });
                // An abandoned call is delivered all the same, with no caller on it.
                let caller = !setup.abandoned;
                if caller {
                    tr.call = Some(id);
                } else {
                    self.records[id].released_ms = Some(samples_to_ms(t));
                }
                self.calls
                    .push(Call::new(g, i, setup.ani, r.esn, (!caller).then_some(t)));
                self.place(
                    Request {
                        call: id,
                        transfer: None,
                    },
                    &r.psap,
                    t,
                );
            }
        }
    }

    /// Find a position for a delivery (overflow chain, else the queue) and seize it.
    fn place(&mut self, req: Request, psap: &str, t: u64) {
        match self.delivery.place(&self.office, psap, req) {
            Placed::Position {
                psap: to,
                position,
                overflowed,
            } => {
                if overflowed {
                    self.records[req.call].logs.push(format!(
                        "OVERFLOW: ALL POSITIONS BUSY AT {psap}: TO {to}/{position}"
                    ));
                }
                self.deliver(req, &to, position, t)
            }
            Placed::Queued { psap } => {
                match req.transfer {
                    None => {
                        self.calls[req.call].on_event(t, CallEvent::Queued { psap: psap.clone() })
                    }
                    Some(k) => self.calls[req.call].on_event(
                        t,
                        CallEvent::TransferPlaced {
                            k,
                            target: psap.clone(),
                        },
                    ),
                };
                let rec = &mut self.records[req.call];
                match req.transfer {
                    None => {
                        rec.psap = Some(psap);
                        rec.logs
                            .push("QUEUED WITH RINGBACK: ALL POSITIONS BUSY".into());
                        let call = &self.calls[req.call];
                        if call.caller_on_line() {
                            // Audible ringback (signalling.md §4): 440 + 480 Hz, 2 s on / 4 s off.
                            self.lines[call.trunk].tx.tones(
                                t,
                                u64::MAX,
                                &[(440, RINGBACK_DBM0), (480, RINGBACK_DBM0)],
                                Some((ms_to_samples(2000.0) as u64, ms_to_samples(6000.0) as u64)),
                                ToneKind::Progress,
                            );
                        }
                    }
                    Some(k) => {
                        rec.transfers[k].target = Some(psap.clone());
                        rec.logs
                            .push(format!("TRANSFER QUEUED AT {psap}: ALL POSITIONS BUSY"));
                    }
                }
            }
        }
    }

    /// Seize `position` of `psap` for `req`.
    fn deliver(&mut self, req: Request, psap: &str, position: u32, t: u64) {
        let call = &mut self.calls[req.call];
        let p = &self.office.psaps[psap];
        let spill = regenerate(
            &self.office,
            p,
            &self.office.esns[&call.esn],
            &self.groups[call.group],
            &call.ani,
            false,
        );
        let rec = &mut self.records[req.call];
        match req.transfer {
            None => {
                call.on_event(
                    t,
                    CallEvent::Seized {
                        psap: psap.to_string(),
                        position,
                    },
                );
                rec.psap = Some(psap.to_string());
                rec.position = Some(position);
                rec.outpulsed = Some(spill_string(&spill));
                if call.caller_on_line() {
                    self.lines[call.trunk].tx.stop_progress(t);
                }
            }
            Some(k) => {
                call.on_event(
                    t,
                    CallEvent::TransferPlaced {
                        k,
                        target: psap.to_string(),
                    },
                );
                let x = &mut rec.transfers[k];
                x.target = Some(psap.to_string());
                x.position = Some(position);
                x.outpulsed = Some(spill_string(&spill));
            }
        }
        self.used.insert(psap.to_string());
        let port = self.psap_base[psap] + position as usize;
        call.legs.push(port);
        let leg = &mut self.psaps[port];
        leg.call = Some(req.call);
        leg.transfer = req.transfer;
        leg.collector = CodeCollector::default();
        let mut pa = Vec::new();
        leg.trunk.seize(t, spill, &mut pa);
        self.lines[self.trunks.len() + port].tx.sf(t, None);
        if !leg.heard {
            // The modelled attendant winks 150 ms after the seizure, for 200 ms.
            let wink = PsapEvent::Wink {
                len: ms_to_samples(200.0) as u64,
            };
            leg.script.push((t + ms_to_samples(350.0) as u64, wink));
        }
        self.last_activity = self.last_activity.max(t);
    }

    fn psap_in(&mut self, i: usize, heard: &[PortEvent], now: u64, next: u64) {
        enum In {
            Psap(PsapEvent),
            Flash,
            Key(char),
        }
        let mut due: Vec<(u64, In)> = heard
            .iter()
            .filter_map(|e| {
                let x = match e.heard {
                    // Off-hook that stays (a "seizure" in the classifier's terms) answers; the
                    // trunk ignores it while it still waits for the wink.
                    Heard::Sf(SupervisionEvent::Wink { start, end, .. }) => {
                        In::Psap(PsapEvent::Wink { len: end - start })
                    }
                    Heard::Sf(SupervisionEvent::Seize { .. }) => In::Psap(PsapEvent::Answer),
                    Heard::Sf(SupervisionEvent::Disconnect { .. }) => {
                        In::Psap(PsapEvent::Disconnect)
                    }
                    Heard::Sf(SupervisionEvent::Flash { .. }) => In::Flash,
                    Heard::Dtmf(k) => In::Key(k),
                    _ => return None,
                };
                Some((e.at, x))
            })
            .collect();
        let leg = &mut self.psaps[i];
        leg.script.retain(|&(t, e)| {
            if t < next {
                due.push((t.max(now), In::Psap(e)));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(t, _)| *t);
        for (t, ev) in due {
            match ev {
                In::Psap(e) => {
                    let mut acts = Vec::new();
                    self.psaps[i].trunk.on_event(t, e, &mut acts);
                    for a in acts {
                        self.psap_action(i, t, a);
                    }
                }
                In::Flash => self.flash(i, t),
                In::Key(k) => {
                    let mut acts = Vec::new();
                    self.psaps[i].collector.on_key(t, k, &mut acts);
                    self.collect_actions(i, t, acts);
                }
            }
        }
        let mut acts = Vec::new();
        self.psaps[i].trunk.poll(next, &mut acts);
        for a in acts {
            self.psap_action(i, next, a);
        }
        let mut acts = Vec::new();
        self.psaps[i].collector.poll(next, &mut acts);
        self.collect_actions(i, next, acts);
    }

    fn flash(&mut self, i: usize, t: u64) {
        let leg = &mut self.psaps[i];
        if leg.call.is_none() || !leg.trunk.is_talking() {
            return;
        }
        leg.flashed_at = t;
        let mut acts = Vec::new();
        leg.collector.on_flash(t, &mut acts);
        self.collect_actions(i, t, acts);
    }

    fn collect_actions(&mut self, i: usize, t: u64, acts: Vec<CollectAction>) {
        for a in acts {
            self.last_activity = self.last_activity.max(t);
            let tx = &mut self.lines[self.trunks.len() + i].tx;
            match a {
                CollectAction::RecallDialTone => {
                    // 350 + 440 Hz, 100 ms on / 100 ms off for 300 ms, then steady
                    // (signalling.md §4): on 0–100, off 100–200, on from 200 ms.
                    let tones = [(350, RECALL_DBM0), (440, RECALL_DBM0)];
                    let ms = |m: f64| ms_to_samples(m) as u64;
                    tx.stop_progress(t);
                    tx.tones(t, ms(100.0), &tones, None, ToneKind::Progress);
                    tx.tones(t + ms(200.0), u64::MAX, &tones, None, ToneKind::Progress);
                }
                CollectAction::DialToneOff => tx.stop_progress(t),
                CollectAction::TimedOut(keys) => {
                    self.log_transfer(i, keys, None, TransferOutcome::Timeout);
                }
                CollectAction::Dialled(code) => {
                    self.transfer(i, t, code);
                }
                CollectAction::BackToTalk => tx.stop_progress(t),
            }
        }
    }

    /// Append a transfer record for port `i`'s call; returns its index.
    fn log_transfer(
        &mut self,
        i: usize,
        code: String,
        target: Option<String>,
        outcome: TransferOutcome,
    ) -> Option<usize> {
        let leg = &self.psaps[i];
        let c = leg.call?;
        let rec = &mut self.records[c];
        rec.transfers.push(TransferRecord {
            code,
            from: leg.psap.clone(),
            flashed_ms: samples_to_ms(leg.flashed_at),
            target,
            position: None,
            outcome,
            outpulsed: None,
            answered_ms: None,
            released_ms: None,
        });
        Some(rec.transfers.len() - 1)
    }

    fn reorder(&mut self, i: usize, t: u64, why: String) {
        let leg = &mut self.psaps[i];
        leg.collector.reorder(t);
        // Reorder (120 IPM): 480 + 620 Hz, 250 ms on / 250 ms off, for 2 s.
        let ms = |m: f64| ms_to_samples(m) as u64;
        self.lines[self.trunks.len() + i].tx.tones(
            t,
            ms(2000.0),
            &[(480, REORDER_DBM0), (620, REORDER_DBM0)],
            Some((ms(250.0), ms(500.0))),
            ToneKind::Progress,
        );
        if let Some(c) = leg.call {
            self.records[c].logs.push(why);
        }
    }

    /// The attendant on port `i` dialled `code`.
    fn transfer(&mut self, i: usize, t: u64, code: String) {
        let Some(c) = self.psaps[i].call else {
            return;
        };
        if self.calls[c].transfer_pending() {
            self.log_transfer(i, code.clone(), None, TransferOutcome::Reorder);
            self.reorder(i, t, format!("{code}: A TRANSFER IS ALREADY PENDING"));
            return;
        }
        let esn = &self.office.esns[&self.calls[c].esn];
        let target = resolve(&self.office, esn, &self.psaps[i].psap, &code);
        match target {
            Target::Reorder(why) => {
                self.log_transfer(i, code, None, TransferOutcome::Reorder);
                self.reorder(i, t, why);
            }
            Target::Psap(name) => {
                let k = self.log_transfer(i, code, Some(name.clone()), TransferOutcome::Pending);
                self.place(
                    Request {
                        call: c,
                        transfer: k,
                    },
                    &name,
                    t,
                );
            }
            Target::PrimaryElsewhere { primary, overflow } => {
                if let Some(pos) = self.delivery.take(&primary) {
                    let k =
                        self.log_transfer(i, code, Some(primary.clone()), TransferOutcome::Pending);
                    self.deliver(
                        Request {
                            call: c,
                            transfer: k,
                        },
                        &primary,
                        pos,
                        t,
                    );
                } else if let Some(ov) = overflow {
                    let k = self.log_transfer(i, code, Some(ov.clone()), TransferOutcome::Pending);
                    self.place(
                        Request {
                            call: c,
                            transfer: k,
                        },
                        &ov,
                        t,
                    );
                } else {
                    self.log_transfer(i, code.clone(), None, TransferOutcome::Reorder);
                    self.reorder(
                        i,
                        t,
                        format!("{code}: NO IDLE POSITION AT {primary} AND NO OVERFLOW"),
                    );
                }
            }
        }
    }

    fn psap_action(&mut self, i: usize, t: u64, act: PsapAction) {
        self.last_activity = self.last_activity.max(t);
        let tx = &mut self.lines[self.trunks.len() + i].tx;
        let leg = &mut self.psaps[i];
        match act {
            PsapAction::Seize => tx.sf(t, None),
            PsapAction::Outpulse { spill, duration } => {
                tx.mf(t, &spill, &self.mf_timing);
                if !leg.heard {
                    let at = t + duration + ms_to_samples(500.0) as u64;
                    leg.script.push((at, PsapEvent::Answer));
                    leg.script
                        .push((at + self.model_hold, PsapEvent::Disconnect));
                }
            }
            PsapAction::CutThrough => {
                let Some(c) = leg.call else { return };
                let rec = &mut self.records[c];
                match leg.transfer {
                    None => {
                        rec.answered_ms.get_or_insert(samples_to_ms(t));
                        self.calls[c].on_event(t, CallEvent::Answered);
                    }
                    Some(k) => {
                        let x = &mut rec.transfers[k];
                        x.outcome = TransferOutcome::Conferenced;
                        x.answered_ms = Some(samples_to_ms(t));
                        self.calls[c].on_event(t, CallEvent::TransferAnswered { k });
                    }
                }
            }
            PsapAction::Release | PsapAction::WinkTimeout => {
                let timeout = act == PsapAction::WinkTimeout;
                tx.stop_progress(t);
                tx.sf(t, Some(IDLE_DBM0));
                leg.collector = CodeCollector::default();
                let (psap, position) = (leg.psap.clone(), leg.position);
                let call = leg.call.take();
                let transfer = leg.transfer.take();
                if let Some(c) = call {
                    self.calls[c].legs.retain(|&p| p != i);
                    if timeout {
                        self.records[c].logs.push(format!(
                            "NO WINK FROM {psap} POSITION {position}: TRYING ANOTHER"
                        ));
                    }
                }
                if timeout {
                    // The position stays out of service; the delivery tries again.
                    if let Some(c) = call {
                        let ev = match transfer {
                            None => CallEvent::NoWink,
                            Some(k) => CallEvent::TransferNoWink { k },
                        };
                        match self.calls[c].on_event(t, ev) {
                            Some(CallAction::Redeliver { psap })
                            | Some(CallAction::RedeliverTransfer { psap, .. }) => {
                                self.place(Request { call: c, transfer }, &psap, t);
                            }
                            _ => {}
                        }
                    }
                    return;
                }
                if let Some(c) = call {
                    let rec = &mut self.records[c];
                    match transfer {
                        None => rec.position_released_ms = Some(samples_to_ms(t)),
                        Some(k) => {
                            rec.transfers[k].released_ms = Some(samples_to_ms(t));
                            self.calls[c].on_event(t, CallEvent::TransferEnded { k });
                        }
                    }
                }
                // The position is idle again once the PSAP has heard the idle tone long enough
                // to see a disconnect (release guard).
                self.delivery.release(t, psap, position);
            }
        }
    }

    /// Senders and the conference bridge: every call whose positions talk is a conference of
    /// those positions and its caller (if still there).
    fn render(&mut self, input: &[&[i16]], output: &mut [&mut [i16]], n: usize) {
        let nt = self.trunks.len();
        for c in &self.calls {
            self.parties.clear();
            self.parties.extend(c.legs.iter().copied().filter_map(|p| {
                let l = &self.psaps[p];
                (l.trunk.is_talking() && !l.collector.is_collecting() && !l.collector.is_reorder())
                    .then_some(nt + p)
            }));
            if self.parties.is_empty() {
                continue;
            }
            if c.caller_on_line() {
                self.parties.push(c.trunk);
            }
            if self.parties.len() < 2 {
                continue;
            }
            self.bridge
                .conference(self.now, &self.parties, &mut self.lines, input, output, n);
        }
        self.bridge.signals(self.now, &mut self.lines, output, n);
    }
}
