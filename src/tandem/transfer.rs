//! PSAP hook flash and selective transfer (`docs/call-processing.md`): collecting the code after a
//! flash, and what a code means for a call of a given ESN. Injected time, no I/O.
//!
//! ```text
//!  Talk ──flash──▶ Collecting (recall dial tone until the first key; 5 s for it, 3 s between keys)
//!   ▲                 │ `*1X` complete, or a key no code can start with ──▶ Dialled(code)
//!   │                 │ timeout, or a flash with no digits ─────────────▶ TimedOut(keys so far)
//!   │                 ▼
//!   └──── 2 s ──── Reorder (NONE, an invalid code, or a transfer already pending)
//! ```
//!
//! The switch decides what a dialled code does ([`resolve`]) and tells the collector to play
//! reorder when the call stays as it is.

use super::tables::{Esn, Office};
use crate::units::ms_to_samples;

/// Timers (tandem.md §5), in samples.
#[derive(Debug, Clone)]
pub struct Timers {
    pub first_key: u64,
    pub inter_key: u64,
    pub reorder: u64,
}

impl Default for Timers {
    fn default() -> Self {
        let s = |ms: f64| ms_to_samples(ms) as u64;
        Timers {
            first_key: s(5000.0),
            inter_key: s(3000.0),
            reorder: s(2000.0),
        }
    }
}

/// What the collector asks of the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectAction {
    /// Attach a DTMF receiver and play recall dial tone to the attendant.
    RecallDialTone,
    /// The first key arrived: stop the dial tone.
    DialToneOff,
    /// A complete code (or a key sequence no valid code starts with).
    Dialled(String),
    /// Nothing more came in time: back to talk, the call untouched.
    TimedOut(String),
    /// Reorder is over: back to talk.
    BackToTalk,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Talk,
    Collecting { keys: String, deadline: u64 },
    Reorder { until: u64 },
}

/// One PSAP position's transfer-code collector.
#[derive(Debug, Clone)]
pub struct CodeCollector {
    t: Timers,
    state: State,
}

impl Default for CodeCollector {
    fn default() -> Self {
        CodeCollector {
            t: Timers::default(),
            state: State::Talk,
        }
    }
}

/// Can `keys` still become `*10`…`*16`?
fn viable(keys: &str) -> bool {
    let b = keys.as_bytes();
    match b.len() {
        0 => true,
        1 => b[0] == b'*',
        2 => b == b"*1",
        3 => b[..2] == *b"*1" && (b'0'..=b'6').contains(&b[2]),
        _ => false,
    }
}

impl CodeCollector {
    pub fn with_timers(t: Timers) -> Self {
        CodeCollector {
            t,
            state: State::Talk,
        }
    }

    /// Is a DTMF receiver wanted (after a flash, until the code is complete)?
    pub fn is_collecting(&self) -> bool {
        matches!(self.state, State::Collecting { .. })
    }

    pub fn is_reorder(&self) -> bool {
        matches!(self.state, State::Reorder { .. })
    }

    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Collecting { deadline, .. } => Some(deadline),
            State::Reorder { until } => Some(until),
            State::Talk => None,
        }
    }

    /// The attendant flashed. A flash while collecting starts over (the keys so far are dropped).
    pub fn on_flash(&mut self, now: u64, out: &mut Vec<CollectAction>) {
        self.poll(now, out);
        if self.is_reorder() {
            return;
        }
        out.push(CollectAction::RecallDialTone);
        self.state = State::Collecting {
            keys: String::new(),
            deadline: now + self.t.first_key,
        };
    }

    /// A DTMF key began.
    pub fn on_key(&mut self, now: u64, key: char, out: &mut Vec<CollectAction>) {
        self.poll(now, out);
        let State::Collecting { keys, deadline } = &mut self.state else {
            return;
        };
        if keys.is_empty() {
            out.push(CollectAction::DialToneOff);
        }
        keys.push(key);
        if keys.len() == 3 || !viable(keys) {
            out.push(CollectAction::Dialled(std::mem::take(keys)));
            self.state = State::Talk;
        } else {
            *deadline = now + self.t.inter_key;
        }
    }

    /// The switch refused the code (or found the call busy with another transfer): reorder.
    pub fn reorder(&mut self, now: u64) {
        self.state = State::Reorder {
            until: now + self.t.reorder,
        };
    }

    pub fn poll(&mut self, now: u64, out: &mut Vec<CollectAction>) {
        match &mut self.state {
            State::Collecting { keys, deadline } if *deadline <= now => {
                if keys.is_empty() {
                    out.push(CollectAction::DialToneOff);
                }
                out.push(CollectAction::TimedOut(std::mem::take(keys)));
                self.state = State::Talk;
            }
            State::Reorder { until } if *until <= now => {
                out.push(CollectAction::BackToTalk);
                self.state = State::Talk;
            }
            _ => {}
        }
    }
}

/// Where a dialled code sends the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Seize a position of this PSAP (`*11`–`*16`, or `*10` from a secondary back to the primary).
    Psap(String),
    /// `*10` from the primary: another idle position of the primary, else its overflow PSAP.
    PrimaryElsewhere {
        primary: String,
        overflow: Option<String>,
    },
    /// Reorder, and why (the column is NONE, the code is invalid).
    Reorder(String),
}

/// What `code`, dialled by an attendant of `requester`, means for a call of `esn`.
pub fn resolve(office: &Office, esn: &Esn, requester: &str, code: &str) -> Target {
    let b = code.as_bytes();
    if b.len() != 3 || !viable(code) {
        return Target::Reorder(format!("INVALID TRANSFER CODE {code}"));
    }
    match b[2] - b'0' {
        0 if requester != esn.primary => Target::Psap(esn.primary.clone()),
        0 => Target::PrimaryElsewhere {
            primary: esn.primary.clone(),
            overflow: office
                .psaps
                .get(&esn.primary)
                .and_then(|p| p.overflow.clone()),
        },
        k => match &esn.secondary[(k - 1) as usize] {
            Some(p) => Target::Psap(p.clone()),
            None => Target::Reorder(format!("{code}: PSAP{k} OF ESN {} IS NONE", esn.esn)),
        },
    }
}
