//! The end-office model: one E911 trunk as the end office drives it (`docs/call-processing.md`,
//! the end-office column). It hears the tandem through its own receivers and answers in signals:
//!
//! ```text
//!  Idle ──call──▶ seize ──tandem winks──▶ called digits (MF KP 911 ST, or DP 911)
//!        ──tandem off-hook ("send ANI")──▶ ANI spill ──▶ talk (voice) ──hold──▶ hang up
//! ```
//!
//! On `SUPV NONE` groups there is nothing to hear: seizure and hang-up are out-of-band (E&M
//! leads, reported to the caller of [`EoLine::step`]), digits go 300 ms after seizure and the
//! spill ANIDELAY + 300 ms after the digits. If the tandem never winks (5 s) or never asks for
//! ANI (10 s), the end office goes on regardless and logs it. Time in samples; no I/O.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use super::scenario::{CallSpec, Voice};
use crate::generate::sender::{quantise, LineSender, ToneKind};
use crate::line::port::{Heard, PortEvent, PortReceivers, RxSet};
use crate::line::sf::{BURST_DBM0, IDLE_DBM0};
use crate::line::supervision::SupervisionEvent;
use crate::register::mf::MfSignal;
use crate::tandem::tables::{Sig, Supv, TrunkGroup};
use crate::units::{dbm0_to_power, ms_to_samples};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    AwaitWink { deadline: u64 },
    AwaitOffHook { deadline: u64 },
    Talking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Do {
    Called,
    Ani,
    Hangup,
}

/// Something the end office did, for the simulation log.
#[derive(Debug, Clone, PartialEq)]
pub struct EoNote {
    pub at: u64,
    pub call: usize,
    pub text: String,
}

/// One trunk of an end office.
pub struct EoLine {
    tg: TrunkGroup,
    /// Listening only while a call is up: `(receivers, stream time of their first sample)`. An
    /// idle end-office line has nothing to hear from the tandem.
    rx: Option<(PortReceivers, u64)>,
    tx: LineSender,
    state: State,
    /// The call in progress (index into the scenario's calls).
    call: Option<usize>,
    todo: Vec<(u64, Do)>,
    /// Noise sigma and G.711 law for the call in progress, until `impair_until`.
    noise: Option<Normal<f64>>,
    g711: Option<crate::dsp::g711::Law>,
    rng: StdRng,
    heard: Vec<PortEvent>,
    buf: Vec<f32>,
    pub notes: Vec<EoNote>,
    /// Free for a new call from here: the hang-up's tone must stand 1300 ms for the tandem to
    /// take it as a disconnect (shorter is a hook flash), so a trunk rests 2 s after a call.
    free_at: u64,
    /// When the call's voice starts (after the spill), for a voice carried from elsewhere.
    talk_from: Option<u64>,
    /// Every step of every call, as it happens (kept only when asked: a live end office logs it).
    pub trace: Option<Vec<EoNote>>,
}

impl EoLine {
    pub fn new(tg: &TrunkGroup, seed: u64) -> Self {
        let mut tx = LineSender::new();
        if tg.supv == Supv::Sf {
            tx.sf(0, Some(IDLE_DBM0));
        }
        EoLine {
            tg: tg.clone(),
            rx: None,
            tx,
            state: State::Idle,
            call: None,
            todo: Vec::new(),
            noise: None,
            g711: None,
            rng: StdRng::seed_from_u64(seed),
            heard: Vec::new(),
            buf: Vec::new(),
            notes: Vec::new(),
            talk_from: None,
            free_at: 0,
            trace: None,
        }
    }

    fn trace(&mut self, at: u64, text: impl FnOnce() -> String) {
        if let (Some(v), Some(call)) = (&mut self.trace, self.call) {
            v.push(EoNote {
                at,
                call,
                text: text(),
            });
        }
    }

    pub fn is_idle(&self) -> bool {
        self.call.is_none()
    }

    /// Can a new call seize this trunk at `now`?
    pub fn available(&self, now: u64) -> bool {
        self.call.is_none() && now >= self.free_at
    }

    /// The call on this trunk (index into the scenario's calls).
    pub fn current(&self) -> Option<usize> {
        self.call
    }

    /// The call on this trunk and, once the spill is out, when its voice starts.
    pub fn voice_from(&self) -> Option<(usize, u64)> {
        Some((self.call?, self.talk_from?))
    }

    /// Hang up the call in progress at `t` (the caller went away), instead of at its hold time.
    pub fn hang_up_at(&mut self, t: u64) {
        if self.call.is_some() {
            self.todo.retain(|d| d.1 != Do::Hangup);
            self.todo.push((t, Do::Hangup));
        }
    }

    fn note(&mut self, at: u64, text: String) {
        if let Some(call) = self.call {
            self.notes.push(EoNote { at, call, text });
        }
    }

    /// Start call `idx` at `t`. Returns `true` when the seizure is out-of-band (`SUPV NONE`).
    pub fn start(&mut self, t: u64, idx: usize, c: &CallSpec) -> bool {
        self.call = Some(idx);
        if self.tg.supv == Supv::Sf {
            // Starts hearing with the next block.
            self.rx = Some((
                PortReceivers::new(RxSet {
                    sf: true,
                    mf: false,
                    dtmf: false,
                }),
                u64::MAX,
            ));
        }
        self.noise = c
            .noise_dbm0
            .and_then(|n| Normal::new(0.0, dbm0_to_power(n).sqrt()).ok());
        self.g711 = c.g711;
        self.todo.clear();
        self.talk_from = None;
        self.todo.push((t.saturating_add(c.hold), Do::Hangup));
        let s = |ms: f64| ms_to_samples(ms) as u64;
        let call_no = c.n;
        self.trace(t, || format!("call {call_no}: seize"));
        match self.tg.supv {
            Supv::Sf => {
                self.tx.sf(t, None);
                self.state = State::AwaitWink {
                    deadline: t + s(5000.0),
                };
            }
            Supv::None => {
                self.todo.push((t + s(300.0), Do::Called));
                self.state = State::Talking;
            }
        }
        self.tg.supv == Supv::None
    }

    /// One block: `from_tandem` is what the tandem sent on this trunk; `out` gets what the end
    /// office sends. Returns an out-of-band disconnect time on `SUPV NONE` groups.
    pub fn step(
        &mut self,
        now: u64,
        from_tandem: &[i16],
        out: &mut [i16],
        calls: &[CallSpec],
    ) -> Option<u64> {
        let n = out.len();
        let next = now + n as u64;
        let mut heard = std::mem::take(&mut self.heard);
        heard.clear();
        if let Some((rx, t0)) = &mut self.rx {
            if *t0 == u64::MAX {
                *t0 = now;
            }
            rx.process(from_tandem, n, &mut heard);
            for e in heard.iter_mut() {
                e.at += *t0;
            }
        }
        let s = |ms: f64| ms_to_samples(ms) as u64;
        let mut oob = None;
        for e in &heard {
            match (self.state, e.heard) {
                (State::AwaitWink { .. }, Heard::Sf(SupervisionEvent::Wink { start, end, .. })) => {
                    let ms = crate::units::samples_to_ms(end - start);
                    self.trace(e.at, || format!("wink heard ({ms:.0} ms)"));
                    self.todo.push((e.at + s(70.0), Do::Called));
                    self.state = State::Talking; // until the digits say otherwise
                }
                (State::AwaitOffHook { .. }, Heard::Sf(SupervisionEvent::Seize { .. })) => {
                    self.trace(e.at, || "off-hook heard: send ANI".into());
                    self.todo.push((e.at + s(100.0), Do::Ani));
                    self.state = State::Talking;
                }
                _ => {}
            }
        }
        self.heard = heard;
        // Timers.
        match self.state {
            State::AwaitWink { deadline } if deadline <= next => {
                self.note(
                    deadline,
                    "NO WINK FROM THE TANDEM IN 5 S: DIALLING ANYWAY".into(),
                );
                self.todo.push((deadline, Do::Called));
                self.state = State::Talking;
            }
            State::AwaitOffHook { deadline } if deadline <= next => {
                self.note(deadline, "THE TANDEM DID NOT ASK FOR ANI IN 10 S".into());
                self.state = State::Talking;
            }
            _ => {}
        }
        self.todo.sort_by_key(|d| d.0);
        while let Some(&(t, what)) = self.todo.first() {
            if t >= next {
                break;
            }
            self.todo.remove(0);
            let Some(idx) = self.call else { break };
            let c = &calls[idx];
            match what {
                Do::Called => {
                    let mut end = t;
                    if !c.called.is_empty() {
                        end = match self.tg.sig {
                            Sig::Mf => {
                                let mut sigs = vec![MfSignal::KP];
                                sigs.extend(c.called.bytes().map(|b| MfSignal::Digit(b - b'0')));
                                sigs.push(MfSignal::ST);
                                self.tx.mf(t, &sigs, &c.mf)
                            }
                            Sig::Dp => self
                                .tx
                                .dial_pulses(t, &c.called, 10.0, 60.0, 700.0, BURST_DBM0)
                                .unwrap_or(t),
                        };
                    }
                    let called = c.called.clone();
                    self.trace(t, || format!("called digits `{called}` sent"));
                    let spill = c.spill(&self.tg);
                    if spill.is_empty() {
                        self.voice(end, c);
                    } else if self.tg.supv == Supv::None {
                        let at = end + s(300.0 + self.tg.ani_delay_ms as f64);
                        self.todo.push((at, Do::Ani));
                    } else {
                        self.state = State::AwaitOffHook {
                            deadline: end + s(10_000.0),
                        };
                    }
                }
                Do::Ani => {
                    let spill = c.spill(&self.tg);
                    let text = crate::tandem::ani::spill_string(&spill);
                    self.trace(t, || format!("ANI spill `{text}` sent"));
                    let end = self.tx.mf(t, &spill, &c.mf);
                    self.voice(end, c);
                }
                Do::Hangup => {
                    self.tx.stop_progress(t);
                    self.tx.stop_signals(t);
                    match self.tg.supv {
                        Supv::Sf => self.tx.sf(t, Some(IDLE_DBM0)),
                        Supv::None => oob = Some(t),
                    }
                    self.trace(t, || "hang up".into());
                    self.note(t, "CALLER HANGS UP".into());
                    self.call = None;
                    self.talk_from = None;
                    self.free_at = t + s(2000.0);
                    self.rx = None;
                    self.state = State::Idle;
                    self.todo.clear();
                }
            }
        }
        // An idle line sends its tone alone (no impairments without a call).
        if self.call.is_none() && self.tx.render_steady(now, out) {
            return oob;
        }
        // Render, with the call's impairments.
        self.buf.clear();
        self.buf.resize(n, 0.0);
        self.tx.render(now, &mut self.buf);
        if self.call.is_some() {
            if let Some(noise) = self.noise {
                for v in self.buf.iter_mut() {
                    *v += noise.sample(&mut self.rng) as f32;
                }
            }
        }
        quantise(&self.buf, out);
        if let (Some(law), Some(_)) = (self.g711, self.call) {
            for v in out.iter_mut() {
                *v = law.round_trip(*v);
            }
        }
        oob
    }

    fn voice(&mut self, from: u64, c: &CallSpec) {
        self.talk_from = Some(from);
        if let Some(Voice::Tone { hz, dbm0 }) = c.voice {
            let end = c.at + c.hold;
            if end > from {
                self.tx
                    .tones(from, end - from, &[(hz, dbm0)], None, ToneKind::Progress);
            }
        }
    }
}
