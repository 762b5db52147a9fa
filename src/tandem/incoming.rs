//! The incoming E911 trunk (end office → tandem) as an explicit state machine
//! (`docs/call-processing.md`), in the manner of smoltcp: time is injected (`on_event(now, …)`,
//! `poll(now)`), `next_deadline()` says when a timer needs a `poll`, and the machine does no I/O —
//! it returns [`Action`]s for the caller (the switch, [`super::switch::Tandem`]) to carry out.
//!
//! ```text
//!  Idle ──seize──▶ Seized ──150 ms──▶ Winking ──200 ms──▶ Called ──digits done──▶ AniDelay
//!                                                          │ (CALLED NONE: skip)   │ ANIDELAY
//!                                                          ▼                       ▼
//!                            Talking ◀──route── Ani (KP … ST; ≤ 10 s per signal) ◀─ off-hook
//!                               │ disconnect                          (ANI N: skip)
//!                               ▼
//!                             Idle (the EO side is released; the PSAP holds its side)
//! ```
//!
//! Every seizure ends in exactly one [`Action::Route`]: on a timeout, on ANI failure, and when the
//! caller hangs up before the ANI is complete (then `abandoned`). No 911 call is dropped.

use super::ani::{parse_spill, Ani};
use super::tables::{Called, TrunkGroup};
use crate::register::mf::MfSignal;
use crate::units::ms_to_samples;

/// What the trunk hears, as events from the receivers (times in samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Seizure (SF supervision), or the start of the stream on a `SUPV NONE` group.
    Seize,
    /// An MF signal began.
    Mf(MfSignal),
    /// A dial-pulse digit (1–10 pulses).
    Dp(u32),
    /// The end office hung up (SF disconnect, or the end of the stream on `SUPV NONE`).
    Disconnect,
    /// The switch gave up waiting for an MF receiver for this seizure: route on what is known
    /// (the default ESN, log E911200).
    NoReceiver,
}

/// What the tandem must do on this trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a wink to the end office (off-hook for `len` samples).
    Wink { len: u64 },
    /// Go off-hook: "send ANI".
    OffHook,
    /// Route the call (exactly once per seizure).
    Route(CallSetup),
    /// The end office side is released.
    Release,
}

/// A call ready for selective routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSetup {
    pub seized: u64,
    pub called: String,
    pub ani: Ani,
    pub abandoned: bool,
    pub logs: Vec<String>,
}

/// Timers (tandem.md §1 defaults), in samples.
#[derive(Debug, Clone)]
pub struct Timers {
    pub wink_delay: u64,
    pub wink_len: u64,
    pub first_digit: u64,
    pub inter_digit: u64,
    pub ani_signal: u64,
}

impl Default for Timers {
    fn default() -> Self {
        let s = |ms: f64| ms_to_samples(ms) as u64;
        Timers {
            wink_delay: s(150.0),
            wink_len: s(200.0),
            first_digit: s(5000.0),
            inter_digit: s(3000.0),
            ani_signal: s(10_000.0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    /// Seized at `at`; the wink starts at `at + wink_delay`.
    Seized,
    /// Winking until `until`.
    Winking {
        until: u64,
    },
    /// Collecting called digits; `deadline` for the next one.
    Called {
        deadline: u64,
    },
    /// Waiting ANIDELAY before going off-hook.
    AniDelay {
        until: u64,
    },
    /// Collecting the ANI spill; `deadline` for the next signal.
    Ani {
        deadline: u64,
    },
    /// Routed; voice cut through until the end office hangs up.
    Talking,
}

#[derive(Debug, Clone)]
pub struct IncomingTrunk {
    tg: TrunkGroup,
    t: Timers,
    state: State,
    seized: u64,
    called: Vec<MfSignal>,
    called_done: bool,
    spill: Vec<MfSignal>,
}

impl IncomingTrunk {
    pub fn new(tg: TrunkGroup) -> Self {
        Self::with_timers(tg, Timers::default())
    }

    pub fn with_timers(tg: TrunkGroup, t: Timers) -> Self {
        IncomingTrunk {
            tg,
            t,
            state: State::Idle,
            seized: 0,
            called: Vec::new(),
            called_done: false,
            spill: Vec::new(),
        }
    }

    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Seized and not yet routed on a trunk whose digits or ANI come in MF: an MF receiver is
    /// needed (a DMS attaches one from its pool at the seizure).
    pub fn wants_mf(&self) -> bool {
        !matches!(self.state, State::Idle | State::Talking)
            && (self.tg.sig == super::tables::Sig::Mf || self.tg.ani)
    }

    /// When `poll` next has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Seized => Some(self.seized + self.t.wink_delay),
            State::Winking { until } | State::AniDelay { until } => Some(until),
            State::Called { deadline } | State::Ani { deadline } => Some(deadline),
            State::Idle | State::Talking => None,
        }
    }

    /// Run the timers up to `now`.
    pub fn poll(&mut self, now: u64, out: &mut Vec<Action>) {
        let mut timed = Vec::new();
        self.poll_timed(now, &mut timed);
        out.extend(timed.into_iter().map(|(_, a)| a));
    }

    /// Run the timers up to `now`; each action with the deadline that caused it (so a wink
    /// starts on its sample, not at the end of the block that contains it).
    pub fn poll_timed(&mut self, now: u64, out: &mut Vec<(u64, Action)>) {
        let mut acts = Vec::new();
        while let Some(d) = self.next_deadline() {
            if d > now {
                break;
            }
            self.expire(d, &mut acts);
            out.extend(acts.drain(..).map(|a| (d, a)));
        }
    }

    fn expire(&mut self, at: u64, out: &mut Vec<Action>) {
        match self.state {
            State::Seized => {
                out.push(Action::Wink {
                    len: self.t.wink_len,
                });
                self.state = State::Winking {
                    until: at + self.t.wink_len,
                };
            }
            State::Winking { .. } => {
                self.state = State::Called {
                    deadline: at + self.t.first_digit,
                };
                if self.tg.called == Called::None {
                    self.called_done = true;
                    self.after_called(at, out);
                }
            }
            // No (more) called digits in time: go on with what came (E911201 if abnormal).
            State::Called { .. } => {
                self.called_done = true;
                self.after_called(at, out);
            }
            State::AniDelay { .. } => {
                out.push(Action::OffHook);
                self.state = State::Ani {
                    deadline: at + self.t.ani_signal,
                };
            }
            // No ST in time: the spill so far, as a timeout.
            State::Ani { .. } => self.route(false, false, out),
            State::Idle | State::Talking => {}
        }
    }

    /// An event at `now` (timers up to `now` run first).
    pub fn on_event(&mut self, now: u64, ev: Event, out: &mut Vec<Action>) {
        self.poll(now, out);
        match (&self.state, ev) {
            (State::Idle, Event::Seize) => {
                self.seized = now;
                self.called.clear();
                self.called_done = false;
                self.spill.clear();
                self.state = State::Seized;
            }
            (State::Idle, _) => {}
            // The caller hung up before the call was routed: route it anyway, abandoned.
            (
                State::Seized
                | State::Winking { .. }
                | State::Called { .. }
                | State::AniDelay { .. }
                | State::Ani { .. },
                Event::Disconnect,
            ) => {
                self.route(false, true, out);
                out.push(Action::Release);
                self.state = State::Idle;
            }
            (State::Seized, Event::NoReceiver) => {
                self.route(false, false, out);
                if let Some(Action::Route(setup)) = out.last_mut() {
                    setup
                        .logs
                        .push(format!("E911200 NO MF RECEIVER FREE ON {}", self.tg.key));
                }
                out.push(Action::OffHook);
            }
            (State::Talking, Event::Disconnect) => {
                out.push(Action::Release);
                self.state = State::Idle;
            }
            (State::Called { .. }, Event::Mf(s)) => {
                self.called.push(s);
                let st = matches!(
                    s,
                    MfSignal::ST | MfSignal::STP | MfSignal::ST2P | MfSignal::ST3P
                );
                if st {
                    self.called_done = true;
                    self.after_called(now, out);
                } else {
                    self.state = State::Called {
                        deadline: now + self.t.inter_digit,
                    };
                }
            }
            (State::Called { .. }, Event::Dp(n)) => {
                self.called.push(MfSignal::Digit((n % 10) as u8));
                if self.called_digits() == self.expected_called() {
                    self.called_done = true;
                    self.after_called(now, out);
                } else {
                    self.state = State::Called {
                        deadline: now + self.t.inter_digit,
                    };
                }
            }
            (State::Ani { .. }, Event::Mf(s)) => {
                // A spill starts at KP: anything before it is noise on the line.
                if self.spill.is_empty() && s != MfSignal::KP {
                    return;
                }
                self.spill.push(s);
                if matches!(
                    s,
                    MfSignal::ST | MfSignal::STP | MfSignal::ST2P | MfSignal::ST3P
                ) {
                    self.route(true, false, out);
                } else {
                    self.state = State::Ani {
                        deadline: now + self.t.ani_signal,
                    };
                }
            }
            _ => {}
        }
    }

    fn expected_called(&self) -> &'static str {
        match self.tg.called {
            Called::D911 => "911",
            Called::D11 => "11",
            Called::D1 => "1",
            Called::None => "",
        }
    }

    fn called_digits(&self) -> String {
        self.called
            .iter()
            .filter_map(|s| match s {
                MfSignal::Digit(d) => Some((b'0' + d) as char),
                _ => None,
            })
            .collect()
    }

    fn after_called(&mut self, now: u64, out: &mut Vec<Action>) {
        if !self.tg.ani {
            // A non-ANI office: nothing to collect; substitute ANI.
            self.route(false, false, out);
            return;
        }
        let until = now + ms_to_samples(self.tg.ani_delay_ms as f64) as u64;
        self.state = State::AniDelay { until };
        if until <= now {
            self.poll(now, out);
        }
    }

    fn route(&mut self, terminated: bool, abandoned: bool, out: &mut Vec<Action>) {
        let ani = parse_spill(&self.spill, terminated, &self.tg);
        let mut logs = Vec::new();
        let called = self.called_digits();
        if self.tg.called != Called::None && called != self.expected_called() {
            logs.push(format!(
                "E911201 CALLED DIGITS `{called}` ON {} (CALLED {} EXPECTS `{}`)",
                self.tg.key,
                self.tg.key,
                self.expected_called()
            ));
        }
        out.push(Action::Route(CallSetup {
            seized: self.seized,
            called,
            ani,
            abandoned,
            logs,
        }));
        self.state = State::Talking;
    }
}
