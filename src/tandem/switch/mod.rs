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
//! Positions whose audio is not heard (`route` without `--psap-in`, `SUPV NONE` PSAPs) are
//! signalled out of band: the switch reports its seizures, spill lengths and releases
//! ([`Tandem::notices`]) and takes their wink, answer and hang-up as line events; their
//! attendants are modelled by whoever feeds the switch (`sim::attendant`).
//!
//! No I/O, no clock: time is the sample count of the blocks stepped.

use std::collections::{BTreeMap, BTreeSet};

use super::ani::{regenerate, route, spill_string, substitute_tn};
mod id_log;
mod psap_side;
mod receivers;
mod trunk_side;
pub use receivers::{PoolStats, MF_GUARD_MS, MF_WAIT_MS};

use super::bridge::{Bridge, PortLine};
use super::call::{Call, CallAction, CallEvent, CallState};
pub use super::delivery::RELEASE_GUARD;
use super::delivery::{Delivery, Placed};
pub use super::event::SwitchEvent;
use super::incoming::{Action, Event, IncomingTrunk};
use super::psap_trunk::{PsapAction, PsapEvent, PsapTrunk};
pub use super::record::{CallRecord, TransferOutcome, TransferRecord};
use super::tables::{Office, Supv, TrunkGroup};
use super::transfer::{resolve, CodeCollector, CollectAction, Target};
use crate::generate::sender::{MfTiming, ToneKind};
use crate::line::lead::{Lead, LineSignal};
use crate::line::port::{Heard, PortEvent, PortReceivers, RxSet};
use crate::line::sf::IDLE_DBM0;
use crate::line::supervision::SupervisionEvent;
use crate::units::{ms_to_samples, samples_to_ms};
use id_log::IdLog;

/// Audible ringback per tone (dBm0); the spec gives none, this is the usual North American −19.
pub const RINGBACK_DBM0: f64 = -19.0;
/// Recall dial tone per tone (signalling.md §4).
pub const RECALL_DBM0: f64 = -13.0;
/// Reorder per tone (signalling.md §4).
pub const REORDER_DBM0: f64 = -24.0;

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
    /// Holds an MF receiver from the pool (from its seizure until its digits are in).
    held: bool,
    /// Seized at this time and still waiting for a receiver (or given one after waiting).
    waited_from: Option<u64>,
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
    oob: Vec<(u64, PsapEvent)>,
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
    calls: IdLog<Call>,
    records: IdLog<CallRecord>,
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
    /// Out-of-band signals sent this block (to positions not heard in their audio).
    notices: Vec<LineSignal>,
    /// What each port's receivers are (as last decided), and the changes not yet taken.
    rx_now: Vec<RxSet>,
    rx_changes: Vec<(usize, RxSet)>,
    /// A trunk keeps its MF receiver until then (the guard after its last spill).
    mf_until: Vec<u64>,
    /// The MF receiver pool: its size (`None`: one per trunk), and the trunks waiting for one.
    pool: receivers::Pool,
    /// [`Tandem::step`]'s detached receivers, and its kernels.
    spare: crate::line::port::Spare,
    planner: crate::dsp::correlator::KernelPlanner,
    /// Trunk ports whose line state is unknown until the far end's idle tone is heard (a live
    /// line: silence before the far end is connected is not a seizure).
    unknown_at_start: Vec<bool>,
    /// What happened to calls since [`Tandem::take_events`] (kept only once asked for, by
    /// [`Tandem::tell_events`]: `route` and `simulate` read the records at the end).
    events: Option<Vec<SwitchEvent>>,
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
                    held: false,
                    waited_from: None,
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
                    oob: Vec::new(),
                });
                info.push(PortInfo {
                    leg: p.name.clone(),
                    channel: k as usize,
                    psap: true,
                });
            }
        }
        let n = info.len();
        let rx_now = Self::initial_receivers(&tgs, &trunks, &psaps);
        let nt = trunks.len();
        Ok(Tandem {
            rx_now,
            rx_changes: Vec::new(),
            mf_until: vec![0; nt],
            pool: receivers::Pool::new(office.mf_receivers.map(|n| n as usize)),
            spare: Default::default(),
            planner: Default::default(),
            office: office.clone(),
            groups: tgs,
            trunks,
            psaps,
            psap_base,
            info,
            delivery: Delivery::new(office),
            calls: IdLog::default(),
            records: IdLog::default(),
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
            notices: Vec::new(),
            unknown_at_start: vec![false; n],
            events: None,
        })
    }

    /// Keep [`SwitchEvent`]s from now on for [`Tandem::take_events`] (whoever asks must take
    /// them, every block or so: they are kept until taken).
    pub fn tell_events(&mut self) {
        self.events.get_or_insert_with(|| Vec::with_capacity(64));
    }

    /// The events since the last call, oldest first (empty unless [`Tandem::tell_events`]).
    pub fn take_events(&mut self, into: &mut Vec<SwitchEvent>) {
        if let Some(e) = &mut self.events {
            into.append(e);
        }
    }

    pub(super) fn tell(&mut self, e: SwitchEvent) {
        if let Some(v) = &mut self.events {
            v.push(e);
        }
    }

    /// Take `ports`' lines as unknown until their far end's SF idle tone is heard, instead of
    /// idle from the first sample (before the first [`Tandem::step`]). For live lines: a sound
    /// card's silence before the equipment is connected must not seize the trunk.
    pub fn lines_unknown_at_start(&mut self, ports: &[usize]) {
        for &p in ports {
            if let Some(u) = self.unknown_at_start.get_mut(p) {
                *u = true;
            }
        }
    }

    /// Does port `p`'s SF receiver take the line as idle from the first sample? An incoming
    /// trunk's does, unless [`Tandem::lines_unknown_at_start`] said otherwise; a position's never.
    pub fn idle_at_start(&self, p: usize) -> bool {
        !self.info[p].psap && !self.unknown_at_start[p]
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

    /// The call records kept (every one, unless [`Tandem::forget_finished`] was called), in
    /// seizure order; `call` is their id + 1.
    pub fn records(&self) -> &[CallRecord] {
        self.records.kept()
    }

    /// The record of call id `id` (its `call` − 1), if still kept.
    pub fn record(&self, id: usize) -> Option<&CallRecord> {
        self.records.get(id)
    }

    /// The id the next call will get.
    pub fn next_call_id(&self) -> usize {
        self.records.next_id()
    }

    pub fn into_records(self) -> Vec<CallRecord> {
        self.records.into_vec()
    }

    /// Forget the oldest calls that are over — caller gone, no position on them, nothing queued
    /// or pending, no port naming them — but none from `keep_from` on. A server running for days
    /// calls this so its memory stays flat; their records are no longer in [`Tandem::records`].
    /// Returns how many were forgotten.
    pub fn forget_finished(&mut self, keep_from: usize) -> usize {
        let mut n = 0;
        let first = self.calls.first_id();
        while first + n < keep_from.min(self.calls.next_id()) {
            let id = first + n;
            let c = &self.calls[id];
            let over = !c.caller_on_line()
                && c.legs.is_empty()
                && !c.transfer_pending()
                && matches!(c.state(), CallState::Ringing { .. } | CallState::Answered)
                && !self.trunks.iter().any(|t| t.call == Some(id))
                && !self.psaps.iter().any(|p| p.call == Some(id));
            if !over {
                break;
            }
            n += 1;
        }
        self.calls.forget(n);
        self.records.forget(n);
        n
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
    /// Is trunk port `port` seized and still in setup (no call routed from it yet)?
    pub fn trunk_in_setup(&self, port: usize) -> bool {
        self.trunks
            .get(port)
            .is_some_and(|t| !t.machine.is_idle() && t.call.is_none())
    }

    pub fn in_setup(&self) -> Vec<(String, usize)> {
        self.trunks
            .iter()
            .filter(|t| !t.machine.is_idle() && t.call.is_none())
            .map(|t| (self.groups[t.group].key.clone(), t.channel))
            .collect()
    }

    /// Out-of-band supervision from a port's far end (the E&M leads of a `SUPV NONE` trunk, or
    /// of a position not heard in its audio), applied in the block that contains `at`: on a
    /// trunk off-hook seizes and on-hook disconnects; at a position a wink is a wink, off-hook
    /// answers and on-hook hangs up.
    pub fn line_event(&mut self, port: usize, at: u64, lead: Lead) {
        let nt = self.trunks.len();
        if let Some(tr) = self.trunks.get_mut(port) {
            match lead {
                Lead::OffHook => tr.oob.push((at, Event::Seize)),
                Lead::OnHook => tr.oob.push((at, Event::Disconnect)),
                Lead::Wink { .. } | Lead::Spill { .. } => {}
            }
        } else if let Some(leg) = self.psaps.get_mut(port - nt) {
            let ev = match lead {
                Lead::Wink { len } => PsapEvent::Wink { len },
                Lead::OffHook => PsapEvent::Answer,
                Lead::OnHook => PsapEvent::Disconnect,
                Lead::Spill { .. } => return,
            };
            leg.oob.push((at, ev));
        }
    }

    /// The earliest time a timer or a pending out-of-band event needs the switch, whatever its
    /// ports hear: the trunks' (wink, digits, ANI), the positions' (wink wait, code collection,
    /// reorder), release guards, and out-of-band events still to apply. `None`: nothing is
    /// pending — a driver with no audio to deliver may skip ahead to the next thing it hears.
    pub fn next_deadline(&self) -> Option<u64> {
        let trunks = self.trunks.iter().flat_map(|t| {
            t.machine
                .next_deadline()
                .into_iter()
                .chain(t.oob.iter().map(|e| e.0))
        });
        let psaps = self.psaps.iter().flat_map(|p| {
            p.trunk
                .next_deadline()
                .into_iter()
                .chain(p.collector.next_deadline())
                .chain(p.oob.iter().map(|e| e.0))
        });
        trunks
            .chain(psaps)
            .chain(self.delivery.next_deadline())
            .chain(self.pool.next_deadline())
            .min()
    }

    /// Nothing going on: every trunk idle, every position free with no timer, nothing queued or
    /// pending, and 2 s since anything happened (what a recorded leg keeps after its last
    /// activity). A file run ends here once its recordings have ended; no later block could
    /// change a record.
    pub fn quiet(&self) -> bool {
        self.now >= self.last_activity + ms_to_samples(2000.0) as u64
            && self.delivery.queued() == 0
            && self.pool.waiting() == 0
            && self
                .trunks
                .iter()
                .all(|t| t.call.is_none() && t.machine.is_idle() && t.oob.is_empty())
            && self
                .psaps
                .iter()
                .all(|p| p.call.is_none() && p.trunk.is_idle() && p.oob.is_empty())
            && self.next_deadline().is_none()
    }

    /// The out-of-band signals sent since the last call (seizures, spill lengths and releases
    /// towards positions not heard in their audio), drained into `out`.
    pub fn notices(&mut self, out: &mut Vec<LineSignal>) {
        out.append(&mut self.notices);
    }

    /// One block, with the tandem's own receivers: `input[p]` is what port `p` heard during
    /// `[now, now + n)`, `output[p]` receives what the tandem sends on it. A shorter slice is a
    /// recording that has ended: its receivers hear nothing more (silence would read as an
    /// off-hook line, and seize it).
    pub fn step(&mut self, input: &[&[i16]], output: &mut [&mut [i16]]) {
        if self.rx.is_empty() {
            // A line unknown at start is received like a position's: nothing until a tone.
            let psap = (0..self.info.len())
                .map(|p| !self.idle_at_start(p))
                .collect::<Vec<_>>();
            let planner = &mut self.planner;
            self.rx = self
                .rx_now
                .iter()
                .zip(psap)
                .map(|(&set, psap)| PortReceivers::for_port(set, psap, planner))
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
        // Its own receivers change from the next block, as the engine's would.
        let nt = self.trunks.len();
        for (p, set) in self.rx_changes.drain(..) {
            self.rx[p].attach(set, p < nt, self.now, &mut self.planner, &mut self.spare);
        }
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
        self.receiver_waits(next);
        for i in 0..nt {
            self.trunk_in(i, heard.get(i).map_or(&[][..], |v| v), now, next);
        }
        for i in 0..self.psaps.len() {
            self.psap_in(i, heard.get(nt + i).map_or(&[][..], |v| v), now, next);
        }
        self.render(input, output, n);
        self.update_receivers();
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

    /// Senders and the conference bridge: every call whose positions talk is a conference of
    /// those positions and its caller (if still there).
    fn render(&mut self, input: &[&[i16]], output: &mut [&mut [i16]], n: usize) {
        let nt = self.trunks.len();
        for c in self.calls.kept() {
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
