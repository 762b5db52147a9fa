//! The trunk from the tandem to a PSAP position (`docs/call-processing.md`): seize, wait
//! for the PSAP's wink (SF trunks: 100–350 ms, give up after 4 s → the caller tries the next
//! position), outpulse the regenerated ANI, wait for answer, talk; the PSAP controls release
//! (called-party hold). Same conventions as [`super::incoming`]: injected time, no I/O, actions
//! out.
//!
//! ```text
//!  Idle ──seize()──▶ AwaitWink ──wink──▶ Outpulsing ──spill sent──▶ Alerting ──answer──▶ Talking
//!                       │ 4 s (SF)           (SUPV NONE: no wink)                          │
//!                       ▼                                                    PSAP on-hook  ▼
//!                     Idle (Action::WinkTimeout: try the next position)                  Idle
//! ```

use super::tables::Supv;
use crate::register::mf::MfSignal;
use crate::units::ms_to_samples;

/// What the PSAP side does, from its supervision (SF receiver + classifier, or scenario events on
/// `SUPV NONE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsapEvent {
    /// A wink of `len` samples ended.
    Wink { len: u64 },
    /// Off-hook to stay: the attendant answered.
    Answer,
    /// On-hook (SF disconnect): the PSAP released.
    Disconnect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsapAction {
    /// Go off-hook towards the PSAP (seize its trunk).
    Seize,
    /// Send this spill with the MF sender; the machine assumes `duration` samples.
    Outpulse { spill: Vec<MfSignal>, duration: u64 },
    /// No wink in time: release this trunk, try the next position.
    WinkTimeout,
    /// The PSAP answered: cut the voice through.
    CutThrough,
    /// The PSAP hung up: release.
    Release,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    AwaitWink { deadline: u64 },
    Outpulsing { until: u64 },
    Alerting,
    Talking,
}

#[derive(Debug, Clone)]
pub struct PsapTrunk {
    supv: Supv,
    state: State,
    spill: Vec<MfSignal>,
    wink_min: u64,
    wink_max: u64,
    wink_timeout: u64,
    /// A PSAP on `SUPV NONE` gives no wink: outpulse this long after seizing.
    no_supv_delay: u64,
}

/// Duration of a spill with the sender's nominal timing (samples).
pub fn spill_duration(spill: &[MfSignal]) -> u64 {
    ms_to_samples(crate::register::mf::nominal_spill_ms(spill)) as u64
}

impl PsapTrunk {
    pub fn new(supv: Supv) -> Self {
        let s = |ms: f64| ms_to_samples(ms) as u64;
        PsapTrunk {
            supv,
            state: State::Idle,
            spill: Vec::new(),
            wink_min: s(100.0),
            wink_max: s(350.0),
            wink_timeout: s(4000.0),
            no_supv_delay: s(100.0),
        }
    }

    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    pub fn is_talking(&self) -> bool {
        self.state == State::Talking
    }

    /// Seize this trunk at `now` to deliver `spill`.
    pub fn seize(&mut self, now: u64, spill: Vec<MfSignal>, out: &mut Vec<PsapAction>) {
        if self.state != State::Idle {
            return;
        }
        out.push(PsapAction::Seize);
        self.spill = spill;
        let wait = match self.supv {
            Supv::Sf => self.wink_timeout,
            Supv::None => self.no_supv_delay,
        };
        self.state = State::AwaitWink {
            deadline: now + wait,
        };
    }

    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::AwaitWink { deadline } => Some(deadline),
            State::Outpulsing { until } => Some(until),
            _ => None,
        }
    }

    pub fn poll(&mut self, now: u64, out: &mut Vec<PsapAction>) {
        while let Some(d) = self.next_deadline() {
            if d > now {
                break;
            }
            match self.state {
                State::AwaitWink { .. } if self.supv == Supv::None => self.outpulse(d, out),
                State::AwaitWink { .. } => {
                    out.push(PsapAction::WinkTimeout);
                    self.state = State::Idle;
                }
                State::Outpulsing { .. } => self.state = State::Alerting,
                _ => break,
            }
        }
    }

    fn outpulse(&mut self, now: u64, out: &mut Vec<PsapAction>) {
        let duration = spill_duration(&self.spill);
        out.push(PsapAction::Outpulse {
            spill: self.spill.clone(),
            duration,
        });
        self.state = State::Outpulsing {
            until: now + duration,
        };
    }

    pub fn on_event(&mut self, now: u64, ev: PsapEvent, out: &mut Vec<PsapAction>) {
        self.poll(now, out);
        match (&self.state, ev) {
            (State::AwaitWink { .. }, PsapEvent::Wink { len })
                if self.supv == Supv::Sf && (self.wink_min..=self.wink_max).contains(&len) =>
            {
                self.outpulse(now, out);
            }
            // An answer before or during outpulsing is early: the spill goes out regardless,
            // then the call is cut through.
            (State::Alerting, PsapEvent::Answer)
            | (State::Outpulsing { .. }, PsapEvent::Answer) => {
                out.push(PsapAction::CutThrough);
                self.state = State::Talking;
            }
            (State::Idle, _) => {}
            (_, PsapEvent::Disconnect) => {
                out.push(PsapAction::Release);
                self.state = State::Idle;
            }
            _ => {}
        }
    }
}
