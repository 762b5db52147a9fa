//! SF supervision: from the tone's comings and goings to seizure, wink, hook flash, disconnect
//! and dial-pulse digits (`docs/signalling.md`).
//!
//! Tone present = on-hook (idle), absent = off-hook. An explicit state machine in the manner of
//! smoltcp: time is injected (`on_change(now, on)`, `poll(now)`), and `next_deadline()` says when
//! a timer next needs a `poll`.
//!
//! ```text
//!            tone off                     50 ms off
//!   Idle ────────────────▶ PendingSeize ───────────▶ OffHook ──▶ (seize)
//!    ▲  ◀──── tone back < 50 ms (a hit, ignored)        │  ▲
//!    │                                                 tone on │  │ tone off after d:
//!    │  off 100–350 ms from Idle, tone back: wink      ▼  │   15–200 ms  → a dial pulse
//!    └──────────────────────────────────────────── Burst ┘   300–1100 ms → a hook flash
//!    ◀──────────────── tone on ≥ 1300 ms: disconnect ──┘    others       → ignored
//!   OffHook: 300 ms after the last pulse, the pulses counted so far are a digit (10 = 0).
//! ```
//!
//! A wink (far end off-hook 100–350 ms, then on-hook) is, for its first 50 ms, indistinguishable
//! from a seizure; `seize` is reported at 50 ms and `wink` when the tone returns in time. The
//! tandem's trunk state machines know which to expect on which leg; `e911 detect` reports both.

use crate::units::ms_to_samples;

/// What the classifier reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisionEvent {
    Seize {
        start: u64,
        at: u64,
    },
    Wink {
        start: u64,
        end: u64,
        at: u64,
    },
    Flash {
        start: u64,
        end: u64,
        at: u64,
    },
    Disconnect {
        start: u64,
        at: u64,
    },
    Digit {
        pulses: u32,
        start: u64,
        end: u64,
        at: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first tone: nothing known.
    Unknown,
    /// Tone on (on-hook).
    Idle,
    /// Tone off for less than the seizure time; `since` = when it went off.
    PendingSeize { since: u64 },
    /// Off-hook. `since` = when it went off; `from_idle` while this is the first off-hook period
    /// after idle (a wink candidate).
    OffHook { since: u64, from_idle: bool },
    /// Tone on during off-hook: a pulse, a flash or a disconnect, by how long it lasts.
    Burst { since: u64 },
}

/// Timer values in samples (signalling.md §3 defaults).
#[derive(Debug, Clone)]
pub struct Timers {
    pub seize: u64,
    pub wink_min: u64,
    pub wink_max: u64,
    pub pulse_min: u64,
    pub pulse_max: u64,
    pub interdigit: u64,
    pub flash_min: u64,
    pub flash_max: u64,
    pub disconnect: u64,
    /// How far a measured burst or wink length may stray outside its window and still count:
    /// the receiver knows each edge to ±1.5 ms (see `sf.rs`).
    pub tolerance: u64,
}

impl Default for Timers {
    fn default() -> Self {
        let s = |ms: f64| ms_to_samples(ms) as u64;
        Timers {
            seize: s(50.0),
            wink_min: s(100.0),
            wink_max: s(350.0),
            pulse_min: s(15.0),
            pulse_max: s(200.0),
            interdigit: s(300.0),
            flash_min: s(300.0),
            flash_max: s(1100.0),
            disconnect: s(1300.0),
            tolerance: s(2.0),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Supervision {
    t: Timers,
    state: State,
    pulses: u32,
    first_pulse: u64,
    last_pulse_end: u64,
}

impl Default for Supervision {
    fn default() -> Self {
        Self::new(Timers::default())
    }
}

impl Supervision {
    pub fn new(t: Timers) -> Self {
        Supervision {
            t,
            state: State::Unknown,
            pulses: 0,
            first_pulse: 0,
            last_pulse_end: 0,
        }
    }

    /// The next time `poll` has something to decide, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let digit = (self.pulses > 0).then(|| self.last_pulse_end + self.t.interdigit);
        let state = match self.state {
            State::PendingSeize { since } => Some(since + self.t.seize),
            State::Burst { since } => Some(since + self.t.disconnect),
            _ => None,
        };
        match (digit, state) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run the timers up to `now`.
    pub fn poll(&mut self, now: u64, sink: &mut impl FnMut(SupervisionEvent)) {
        while let Some(d) = self.next_deadline() {
            if d > now {
                break;
            }
            self.expire(d, sink);
        }
    }

    fn expire(&mut self, at: u64, sink: &mut impl FnMut(SupervisionEvent)) {
        if self.pulses > 0 && at >= self.last_pulse_end + self.t.interdigit {
            sink(SupervisionEvent::Digit {
                pulses: self.pulses,
                start: self.first_pulse,
                end: self.last_pulse_end,
                at,
            });
            self.pulses = 0;
            return;
        }
        match self.state {
            State::PendingSeize { since } => {
                sink(SupervisionEvent::Seize { start: since, at });
                self.state = State::OffHook {
                    since,
                    from_idle: true,
                };
            }
            State::Burst { since } => {
                self.pulses = 0;
                sink(SupervisionEvent::Disconnect { start: since, at });
                self.state = State::Idle;
            }
            _ => {}
        }
    }

    /// A measured length within `[lo, hi]`, allowing the receiver's edge tolerance.
    fn within(&self, d: u64, lo: u64, hi: u64) -> bool {
        d + self.t.tolerance >= lo && d <= hi + self.t.tolerance
    }

    /// End of stream at `now`: run the timers, and a digit still waiting for its inter-digit time
    /// is complete (no more pulses can come).
    pub fn finish(&mut self, now: u64, sink: &mut impl FnMut(SupervisionEvent)) {
        self.poll(now, sink);
        if self.pulses > 0 {
            sink(SupervisionEvent::Digit {
                pulses: self.pulses,
                start: self.first_pulse,
                end: self.last_pulse_end,
                at: now,
            });
            self.pulses = 0;
        }
    }

    /// The tone changed (`on` = tone present) at `time`; the receiver decided at `at`.
    pub fn on_change(
        &mut self,
        time: u64,
        on: bool,
        at: u64,
        sink: &mut impl FnMut(SupervisionEvent),
    ) {
        self.poll(at, sink);
        self.state = match (self.state, on) {
            (State::Unknown, true) => State::Idle,
            (State::Unknown, false) => State::OffHook {
                since: time,
                from_idle: false,
            },
            (State::Idle, false) => State::PendingSeize { since: time },
            // A hit shorter than the seizure time.
            (State::PendingSeize { .. }, true) => State::Idle,
            (State::OffHook { since, from_idle }, true) => {
                let d = time.saturating_sub(since);
                if from_idle && self.within(d, self.t.wink_min, self.t.wink_max) {
                    sink(SupervisionEvent::Wink {
                        start: since,
                        end: time,
                        at,
                    });
                    State::Idle
                } else {
                    State::Burst { since: time }
                }
            }
            (State::Burst { since }, false) => {
                let d = time.saturating_sub(since);
                if self.within(d, self.t.pulse_min, self.t.pulse_max) {
                    if self.pulses == 0 {
                        self.first_pulse = since;
                    }
                    self.pulses += 1;
                    self.last_pulse_end = time;
                } else if self.within(d, self.t.flash_min, self.t.flash_max) {
                    sink(SupervisionEvent::Flash {
                        start: since,
                        end: time,
                        at,
                    });
                }
                // A burst too short for a pulse is a hit: the off-hook period simply continues.
                State::OffHook {
                    since: time,
                    from_idle: false,
                }
            }
            (s, _) => s,
        };
    }
}

/// A 2600 Hz line as heard: the SF receiver feeding the supervision classifier, timers polled as
/// the audio advances. What `detect` puts on every SF channel; the engine's port receivers ([`crate::line::port`]) use it too.
#[derive(Debug, Clone, Default)]
pub struct SfLine {
    rx: crate::line::sf::SfReceiver,
    sup: Supervision,
    /// Tone changes of the current block (kept to avoid allocating per block).
    changes: Vec<crate::line::sf::SfEvent>,
}

impl SfLine {
    /// A line taken as idle when it starts, as a tandem takes its trunks when it comes into
    /// service: the far end's idle tone must show up within the seizure time, or the far end is
    /// off-hook — a seizure from sample 0 (a call placed the moment the trunk came up is not
    /// lost). [`SfLine::default`] knows nothing until it first hears the tone, which is what
    /// analysing a recording that may start anywhere needs.
    pub fn idle_at_start() -> Self {
        let mut line = SfLine::default();
        line.sup.state = State::PendingSeize { since: 0 };
        line
    }

    /// Feed audio; raw tone changes go to `raw`, classified events to `sink`, in time order.
    pub fn process(
        &mut self,
        samples: &[i16],
        raw: &mut impl FnMut(crate::line::sf::SfEvent),
        sink: &mut impl FnMut(SupervisionEvent),
    ) {
        let mut changes = std::mem::take(&mut self.changes);
        changes.clear();
        self.rx.process(samples, &mut |e| changes.push(e));
        for &e in &changes {
            raw(e);
            self.sup.on_change(e.time, e.on, e.at, sink);
        }
        self.changes = changes;
        self.sup.poll(self.rx.now(), sink);
    }

    /// End of stream.
    pub fn finish(&mut self, sink: &mut impl FnMut(SupervisionEvent)) {
        let now = self.rx.now();
        self.sup.finish(now, sink);
    }
}
