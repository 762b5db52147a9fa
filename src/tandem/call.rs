//! One call in the switch as an explicit state machine (docs/call-processing.md): where its own
//! delivery stands, whether the caller is still on the line, and the selective transfer in
//! progress. The switch reports what happened ([`CallEvent`]) and carries out what the call asks
//! ([`CallAction`]); the record is written from these and never read back to decide anything.
//!
//! ```text
//!  Setup ──queued──▶ Queued ──seized──▶ Ringing ──answered──▶ Answered
//!    │                  ▲                  │ no wink: deliver again
//!    └────seized────────┼──────────────────┘      (the position stays out of service)
//!                       └── no idle position on the retry
//!  caller released before Answered  →  Abandoned (still delivered: the PSAP calls back)
//!  transfer: Idle ──code──▶ Pending{k} ──target answered / released──▶ Idle
//! ```

use super::ani::Ani;

/// Where the call's own delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// Routed, not yet placed.
    Setup,
    /// Every position of the chain busy: waiting at `psap` (the caller hears ringback).
    Queued { psap: String },
    /// `position` of `psap` seized; it has not answered yet (wink, spill, alerting).
    Ringing { psap: String, position: u32 },
    /// A position answered.
    Answered,
}

/// The caller's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerState {
    OnLine,
    Released { at: u64 },
}

/// The selective transfer in progress (one at a time, docs/call-processing.md: a second code
/// while one is pending gets reorder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    Idle,
    /// Transfer `k` of the record is seized or queued at `target` and has not answered.
    Pending {
        k: usize,
        target: String,
    },
}

/// What happened to the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// Its delivery queued at `psap`.
    Queued { psap: String },
    /// Its delivery seized `position` of `psap`.
    Seized { psap: String, position: u32 },
    /// The delivery's position answered.
    Answered,
    /// The delivery's position never winked (and is out of service now).
    NoWink,
    /// The caller hung up (the tandem recognised the disconnect).
    CallerReleased,
    /// A transfer `k` was placed towards `target` (seized or queued).
    TransferPlaced { k: usize, target: String },
    /// Transfer `k`'s target position answered.
    TransferAnswered { k: usize },
    /// Transfer `k`'s target position released.
    TransferEnded { k: usize },
    /// Transfer `k`'s target position never winked (and is out of service now).
    TransferNoWink { k: usize },
}

/// What the call asks the switch to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAction {
    /// Write the call abandoned: the caller left while the call was `while_`.
    Abandoned { at: u64, while_: String },
    /// Deliver the call again at `psap` (its position never winked).
    Redeliver { psap: String },
    /// Deliver transfer `k` again at `psap` (its target position never winked).
    RedeliverTransfer { k: usize, psap: String },
}

/// A call in the switch.
#[derive(Debug, Clone)]
pub struct Call {
    pub group: usize,
    /// The caller's trunk port.
    pub trunk: usize,
    pub ani: Ani,
    pub esn: u16,
    /// PSAP ports on this call (the delivery and any transfer targets).
    pub legs: Vec<usize>,
    state: CallState,
    caller: CallerState,
    transfer: TransferState,
}

impl Call {
    /// A call routed at the tandem; `caller_gone_at` when the caller left during setup (an
    /// abandoned call is delivered all the same).
    pub fn new(
        group: usize,
        trunk: usize,
        ani: Ani,
        esn: u16,
        caller_gone_at: Option<u64>,
    ) -> Call {
        Call {
            group,
            trunk,
            ani,
            esn,
            legs: Vec::new(),
            state: CallState::Setup,
            caller: caller_gone_at.map_or(CallerState::OnLine, |at| CallerState::Released { at }),
            transfer: TransferState::Idle,
        }
    }

    pub fn state(&self) -> &CallState {
        &self.state
    }

    pub fn caller_on_line(&self) -> bool {
        self.caller == CallerState::OnLine
    }

    pub fn transfer_pending(&self) -> bool {
        matches!(self.transfer, TransferState::Pending { .. })
    }

    /// One event at `now`; at most one action.
    pub fn on_event(&mut self, now: u64, ev: CallEvent) -> Option<CallAction> {
        match (&self.state, ev) {
            (_, CallEvent::Queued { psap }) => {
                self.state = CallState::Queued { psap };
                None
            }
            (_, CallEvent::Seized { psap, position }) => {
                self.state = CallState::Ringing { psap, position };
                None
            }
            (_, CallEvent::Answered) => {
                self.state = CallState::Answered;
                None
            }
            // A position that does not wink in 4 s: the delivery tries the same PSAP again
            // (the next idle position, its overflow, or the queue).
            (CallState::Ringing { psap, .. }, CallEvent::NoWink) => {
                let psap = psap.clone();
                self.state = CallState::Setup;
                Some(CallAction::Redeliver { psap })
            }
            (_, CallEvent::NoWink) => None,
            // Called-party hold: the caller leaving ends nothing at the PSAP; before an answer
            // it makes the call abandoned, and where it was is what the PSAP needs to know.
            (state, CallEvent::CallerReleased) => {
                if self.caller != CallerState::OnLine {
                    return None;
                }
                self.caller = CallerState::Released { at: now };
                let while_ = match state {
                    CallState::Answered => return None,
                    CallState::Setup => "in setup".to_string(),
                    CallState::Queued { psap } => format!("queued at {psap}"),
                    CallState::Ringing { psap, position } => {
                        format!("ringing at {psap}/{position}")
                    }
                };
                Some(CallAction::Abandoned { at: now, while_ })
            }
            (_, CallEvent::TransferPlaced { k, target }) => {
                self.transfer = TransferState::Pending { k, target };
                None
            }
            // The transfer stays pending and tries the same PSAP again.
            (_, CallEvent::TransferNoWink { k }) => match &self.transfer {
                TransferState::Pending { k: p, target } if *p == k => {
                    Some(CallAction::RedeliverTransfer {
                        k,
                        psap: target.clone(),
                    })
                }
                _ => None,
            },
            (_, CallEvent::TransferAnswered { k } | CallEvent::TransferEnded { k }) => {
                if matches!(self.transfer, TransferState::Pending { k: p, .. } if p == k) {
                    self.transfer = TransferState::Idle;
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tandem::ani::AniStatus;

    fn call() -> Call {
        let ani = Ani {
            status: AniStatus::Ok,
            tn: Some(9_195_551_234),
            info: vec![0],
            spill: String::new(),
        };
        Call::new(0, 0, ani, 123, None)
    }

    fn seized(c: &mut Call) {
        c.on_event(
            0,
            CallEvent::Seized {
                psap: "POLICE".into(),
                position: 1,
            },
        );
    }

    #[test]
    fn caller_released_while_queued_is_abandoned_queued_at_the_psap() {
        let mut c = call();
        c.on_event(
            0,
            CallEvent::Queued {
                psap: "POLICE".into(),
            },
        );
        assert_eq!(
            c.on_event(800, CallEvent::CallerReleased),
            Some(CallAction::Abandoned {
                at: 800,
                while_: "queued at POLICE".into()
            })
        );
        assert!(!c.caller_on_line());
        // Only once.
        assert_eq!(c.on_event(900, CallEvent::CallerReleased), None);
    }

    #[test]
    fn caller_released_while_ringing_names_the_position_and_after_answer_is_not_abandoned() {
        let mut c = call();
        seized(&mut c);
        assert_eq!(
            c.on_event(5, CallEvent::CallerReleased),
            Some(CallAction::Abandoned {
                at: 5,
                while_: "ringing at POLICE/1".into()
            })
        );
        let mut c = call();
        seized(&mut c);
        c.on_event(1, CallEvent::Answered);
        assert_eq!(c.on_event(2, CallEvent::CallerReleased), None);
        assert_eq!(*c.state(), CallState::Answered);
    }

    #[test]
    fn no_wink_redelivers_at_the_same_psap() {
        let mut c = call();
        seized(&mut c);
        assert_eq!(
            c.on_event(1, CallEvent::NoWink),
            Some(CallAction::Redeliver {
                psap: "POLICE".into()
            })
        );
        assert_eq!(*c.state(), CallState::Setup);
        assert_eq!(c.on_event(2, CallEvent::NoWink), None);
    }

    #[test]
    fn a_transfer_is_pending_until_its_target_answers_or_ends() {
        let mut c = call();
        c.on_event(
            0,
            CallEvent::TransferPlaced {
                k: 0,
                target: "FIRE".into(),
            },
        );
        assert!(c.transfer_pending());
        c.on_event(1, CallEvent::TransferEnded { k: 1 });
        assert!(
            c.transfer_pending(),
            "another transfer's end changes nothing"
        );
        assert_eq!(
            c.on_event(2, CallEvent::TransferNoWink { k: 0 }),
            Some(CallAction::RedeliverTransfer {
                k: 0,
                psap: "FIRE".into()
            })
        );
        assert!(
            c.transfer_pending(),
            "still pending while it is tried again"
        );
        c.on_event(3, CallEvent::TransferAnswered { k: 0 });
        assert!(!c.transfer_pending());
    }

    #[test]
    fn a_caller_gone_in_setup_is_not_on_the_line() {
        let ani = Ani {
            status: AniStatus::Ok,
            tn: None,
            info: Vec::new(),
            spill: String::new(),
        };
        let c = Call::new(0, 0, ani, 123, Some(40));
        assert!(!c.caller_on_line());
    }
}
