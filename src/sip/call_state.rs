//! One SIP call's life as an explicit state machine, above the stack's transactions: no I/O, no
//! clock (time is `now`, milliseconds since the INVITE), one [`Machine::on_event`] that maps
//! `(state, event)` to `(state, actions)`. The async task ([`super::call`]) feeds it the caller's
//! dialog, the switch's events, timers and media, and performs what it says.
//!
//! The phases are PJSIP's invite session's (`CALLING`, `INCOMING`, `EARLY`, `CONNECTING`,
//! `CONFIRMED`, `DISCONNECTED`) plus one of ours, `Releasing`: the SIP side is over but the trunk
//! the call rode has not yet given its record. The provider is the UAS of every call it takes
//! today; the NG9-1-1 gateway's leg toward an ESRP is the same machine started as a UAC.
//!
//! What the transaction layer does on its own is not repeated here: `100 Trying` (RFC 3261
//! §17.2.1), retransmitting the 2xx until the ACK (§13.3.1.4), `487` to the INVITE a CANCEL ends
//! (§9.2), `200` to a BYE (§15.1.2).

/// Where the provider sends a call it takes, decided from the INVITE before the machine starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A 911 call with a valid location: placed on a trunk to the tandem, which rings a PSAP.
    Psap,
    /// A 911 call the provider cannot route: its own ECRC answers after a set time.
    Ecrc,
    /// A 933 test call: answered at once, told its result by MESSAGE, released after a hold.
    Test,
    /// Our own INVITE toward another server (the NG9-1-1 gateway's leg to an ESRP).
    Outgoing,
}

/// How a call is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// UAC: our INVITE sent, nothing heard yet.
    Calling,
    /// UAS: the INVITE taken; a PSAP call waits for the switch to deliver or queue it.
    Incoming,
    /// An early dialog: `180` sent (UAS) or a provisional received (UAC).
    Early,
    /// UAS: `200` sent, waiting for its ACK (RFC 3261 §13.3.1.4).
    Connecting,
    /// The dialog confirmed: an ACK received (UAS) or sent (UAC).
    Confirmed,
    /// The SIP side is over (the record says why); the switch's record is still to come.
    Releasing(String),
    /// Over: the record can be written.
    Disconnected,
}

/// A call's state: what it is and how it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub kind: Kind,
    pub phase: Phase,
}

/// How the other side left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gone {
    /// A CANCEL before the answer (RFC 3261 §9.2).
    Cancel,
    /// A BYE (§15.1.2).
    Bye,
    /// The stack confirmed a BYE of ours.
    OurBye,
    /// No ACK for our 2xx within 64 × T1 (§13.3.1.4).
    NoAck,
    /// The dialog ended for another reason the stack gives.
    Other,
}

impl Gone {
    /// The record's words.
    pub fn why(self) -> &'static str {
        match self {
            Gone::Cancel => "CANCEL",
            Gone::Bye => "caller BYE",
            Gone::OurBye => "provider BYE",
            Gone::NoAck => "SIP timeout (no ACK)",
            Gone::Other => "dialog ended",
        }
    }
}

/// The call's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The ECRC answers a call it rang.
    AnswerSelf,
    /// A 933 test call has been held long enough after its result.
    TestDone,
}

/// What happens to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The switch: every position busy, the call waits (hearing ringback).
    Queued,
    /// The switch: delivered to a PSAP position, which rings.
    Delivered,
    /// The switch: the PSAP answered.
    PsapAnswered,
    /// The switch: the PSAP hung up.
    PsapReleased,
    /// The switch: the trunk is idle again, its record given.
    SwitchDone,
    /// The ACK for our 2xx.
    Acked,
    /// The other side left, or the dialog ended under us.
    PeerGone(Gone),
    /// A timer of ours fired.
    Timer(Timer),
    /// No session refresh within the session interval (RFC 4028 §10).
    SessionExpired,
    /// No RTP for the configured time.
    RtpTimeout,
    /// The provider is stopping: release the call.
    Shutdown,
    /// The provider's drain was cut short: write the record now.
    Forced,
    /// UAC: a provisional response (RFC 3261 §13.2.2.1).
    Provisional,
    /// UAC: a 2xx (§13.2.2.4).
    Success,
    /// UAC: a final 3xx–6xx (§13.2.2.3), or Timer B (§17.1.1.2: a 408 of the stack's own).
    Failure(u16),
}

/// What the task does for the machine, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Put the call on a trunk to the tandem.
    Place,
    /// `180 Ringing`, reliably when the INVITE asked (RFC 3262 §3).
    Ring,
    /// `200 OK` with our SDP answer and session interval (RFC 3261 §13.3.1.4, RFC 4028 §9).
    Accept,
    /// Start the RTP leg and the session timer.
    StartMedia,
    /// The provider's own voice into the call (the ECRC, the 933 line).
    Speak,
    /// The 933 result to the caller, as a MESSAGE in the dialog.
    SendResult,
    /// Fire `Timer` at this `now`.
    Arm(Timer, u64),
    /// A BYE (RFC 3261 §15.1.1), its answer waited for a bounded time.
    Bye,
    /// `480 Temporarily Unavailable` to an INVITE not yet answered (§13.3.1.3).
    Reject,
    /// UAC: the ACK for a 2xx (§13.2.2.4).
    Ack,
    /// UAC: CANCEL our INVITE (§9.1).
    Cancel,
    /// Hang the call's trunk up at the switch.
    ReleaseTrunk,
    /// The caller left before an answer: abandoned, now.
    Abandoned,
    /// The record's `ended_by`.
    End(String),
    /// A note for the record, stamped with `now`.
    Note(&'static str),
}

/// What a call's record says when its caller stopped refreshing the session (RFC 4028 §10).
pub const SESSION_EXPIRED: &str = "session expired (no refresh, RFC 4028)";
/// What a call's record says when the provider's drain was cut short while it was up.
pub const FORCED: &str = "shutdown (forced)";
/// The record's words for a call the provider released because it was stopping.
pub const SHUTDOWN: &str = "shutdown";
/// The note for a call queued at the switch.
pub const QUEUED: &str = "every position busy: queued";

/// The machine: the provider's fixed times (ms).
#[derive(Clone, Copy, Debug)]
pub struct Machine {
    /// How long the ECRC rings before it answers.
    pub ecrc_answer: u64,
    /// How long a 933 call is held after its result.
    pub test_hold: u64,
}

type Step = (State, Vec<Action>);

fn end(why: &str) -> Action {
    Action::End(why.into())
}

impl Machine {
    /// A call's first state and actions.
    pub fn start(&self, kind: Kind, now: u64) -> Step {
        use Action::*;
        let st = |phase| State { kind, phase };
        match kind {
            // RFC 3261 §13.3.1: the INVITE processed; the PSAP's ringing is the switch's to say.
            Kind::Psap => (st(Phase::Incoming), vec![Place]),
            // §13.3.1.1: ringing at once; answered by our own timer.
            Kind::Ecrc => (
                st(Phase::Early),
                vec![Ring, Arm(Timer::AnswerSelf, now + self.ecrc_answer)],
            ),
            // §13.3.1.4: answered at once.
            Kind::Test => (st(Phase::Connecting), vec![Ring, Accept, StartMedia, Speak]),
            // §13.2.1: the INVITE is the task's to send before the first event.
            Kind::Outgoing => (st(Phase::Calling), vec![]),
        }
    }

    /// The one transition function.
    pub fn on_event(&self, s: State, now: u64, e: Event) -> Step {
        use Action::*;
        use Event as E;
        use Phase as P;
        let kind = s.kind;
        let to = |phase| State { kind, phase };
        let same = |s: State| (s, vec![]);
        // A PSAP call's SIP side ends in `Releasing` (the switch's record to come); the others
        // are over at once.
        let over = |why: &str, mut acts: Vec<Action>| {
            acts.push(end(why));
            if kind == Kind::Psap {
                acts.push(ReleaseTrunk);
                (to(P::Releasing(why.into())), acts)
            } else {
                (to(P::Disconnected), acts)
            }
        };
        match (s.phase.clone(), e) {
            (P::Disconnected, _) => same(s),

            // The drain cut short (ours): whatever the call is doing, the record now.
            (P::Releasing(why), E::Forced) if why == SHUTDOWN => {
                (to(P::Disconnected), vec![end(FORCED)])
            }
            (P::Releasing(_), E::Forced) => (to(P::Disconnected), vec![]),
            (_, E::Forced) => {
                let mut acts = vec![end(FORCED)];
                if kind == Kind::Psap {
                    acts.push(ReleaseTrunk);
                }
                (to(P::Disconnected), acts)
            }

            // Waiting for the switch's record: nothing else matters.
            (P::Releasing(_), E::SwitchDone) => (to(P::Disconnected), vec![]),
            (P::Releasing(_), _) => same(s),

            // UAS, a PSAP call before the answer: the switch rings it (RFC 3261 §13.3.1.1).
            (P::Incoming, E::Queued) => (to(P::Early), vec![Note(QUEUED), Ring]),
            (P::Incoming, E::Delivered) => (to(P::Early), vec![Ring]),
            (P::Early, E::Queued) if kind == Kind::Psap => (s, vec![Note(QUEUED)]),
            (P::Early, E::Delivered) => same(s),
            // §13.3.1.4: the PSAP's answer is ours.
            (P::Incoming | P::Early, E::PsapAnswered) if kind == Kind::Psap => {
                (to(P::Connecting), vec![Accept, StartMedia])
            }
            // The ECRC answers itself.
            (P::Early, E::Timer(Timer::AnswerSelf)) if kind == Kind::Ecrc => {
                (to(P::Connecting), vec![Accept, StartMedia, Speak])
            }
            // §9.2 (CANCEL; the stack answers 487) or a BYE on an early dialog: abandoned.
            (P::Incoming | P::Early, E::PeerGone(g)) if kind != Kind::Outgoing => {
                over(g.why(), vec![Abandoned])
            }
            // §13.3.1.3: the provider stopping refuses what it has not answered.
            (P::Incoming | P::Early, E::Shutdown) if kind != Kind::Outgoing => {
                over(SHUTDOWN, vec![Reject])
            }
            (P::Incoming | P::Early, E::PsapReleased) if kind == Kind::Psap => {
                over("PSAP BYE", vec![Reject])
            }

            // §13.3.1.4: the ACK confirms the dialog; the 933 result goes once it is.
            (P::Connecting, E::Acked) if kind == Kind::Test => (
                to(P::Confirmed),
                vec![SendResult, Arm(Timer::TestDone, now + self.test_hold)],
            ),
            (P::Connecting, E::Acked) => (to(P::Confirmed), vec![]),
            // §13.3.1.4: no ACK within 64 × T1; the stack has ended the dialog.
            (P::Connecting, E::PeerGone(Gone::NoAck)) => over(Gone::NoAck.why(), vec![]),
            (P::Confirmed, E::Timer(Timer::TestDone)) if kind == Kind::Test => {
                over("provider BYE (test call done)", vec![Bye])
            }

            // UAC (§13.2.2).
            (P::Calling | P::Early, E::Provisional) if kind == Kind::Outgoing => {
                (to(P::Early), vec![])
            }
            (P::Calling | P::Early, E::Success) if kind == Kind::Outgoing => {
                (to(P::Confirmed), vec![Ack, StartMedia])
            }
            (P::Calling | P::Early, E::Failure(code)) if kind == Kind::Outgoing => {
                over(&format!("refused ({code})"), vec![])
            }
            // §9.1: CANCEL what is not answered (§9.1: not before a provisional, the stack
            // holds it until one comes).
            (P::Calling | P::Early, E::Shutdown) if kind == Kind::Outgoing => {
                over(SHUTDOWN, vec![Cancel])
            }
            (P::Calling | P::Early, E::PeerGone(g)) if kind == Kind::Outgoing => {
                over(g.why(), vec![])
            }
            // A 2xx retransmitted after our ACK is the stack's (§13.2.2.4).
            (P::Confirmed, E::Success | E::Provisional) => same(s),

            // An answered call (UAS Connecting or Confirmed, UAC Confirmed).
            // §9.2: a CANCEL that ends the dialog while our 200 is on its way crossed it: the
            // caller had left before the answer reached it.
            (P::Connecting, E::PeerGone(Gone::Cancel)) => over(Gone::Cancel.why(), vec![Abandoned]),
            // §15.1.2: the caller's BYE (answered 200 by the stack).
            (P::Connecting | P::Confirmed, E::PeerGone(g)) => over(g.why(), vec![]),
            // §15.1.1: we end it with a BYE.
            (P::Connecting | P::Confirmed, E::PsapReleased) if kind == Kind::Psap => {
                over("PSAP BYE", vec![Bye])
            }
            // RFC 4028 §10: no refresh in the interval: a BYE.
            (P::Connecting | P::Confirmed, E::SessionExpired) => over(SESSION_EXPIRED, vec![Bye]),
            (P::Connecting | P::Confirmed, E::RtpTimeout) => over("RTP timeout", vec![Bye]),
            (P::Connecting | P::Confirmed, E::Shutdown) => over(SHUTDOWN, vec![Bye]),

            // The trunk went idle under a call still up on the SIP side (the switch stopped):
            // release the caller too.
            (P::Incoming | P::Early, E::SwitchDone) if kind == Kind::Psap => {
                (to(P::Disconnected), vec![Reject, end(SHUTDOWN)])
            }
            (P::Connecting | P::Confirmed, E::SwitchDone) if kind == Kind::Psap => {
                (to(P::Disconnected), vec![Bye, end(SHUTDOWN)])
            }

            // Anything else changes nothing: a repeated switch event, an ACK retransmitted,
            // a timer of another kind, media or session events before the answer.
            _ => same(s),
        }
    }
}

#[cfg(test)]
#[path = "call_state_tests.rs"]
mod tests;
