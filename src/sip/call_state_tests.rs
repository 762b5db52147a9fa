//! `state × event → outcome`, one row each (smoltcp's style): the provider's calls as the UAS
//! (PSAP, ECRC, 933) and the gateway's leg as the UAC. Each row names the clause it checks.

use super::Action::*;
use super::Event as E;
use super::Phase as P;
use super::*;

const M: Machine = Machine {
    ecrc_answer: 2000,
    test_hold: 5000,
};
const NOW: u64 = 1000;

/// One row: from `kind` in `phase`, `event` at `NOW` gives `phase` and `actions`.
fn row(kind: Kind, from: Phase, e: Event, want: Phase, acts: &[Action]) {
    let (s, a) = M.on_event(
        State {
            kind,
            phase: from.clone(),
        },
        NOW,
        e,
    );
    assert_eq!(
        (s.phase, a.as_slice()),
        (want, acts),
        "{kind:?} in {from:?} on {e:?}"
    );
}

fn rel(why: &str) -> Phase {
    P::Releasing(why.into())
}

fn end(why: &str) -> Action {
    End(why.into())
}

#[test]
fn calls_start_by_kind() {
    let first = |k| M.start(k, NOW);
    assert_eq!(
        first(Kind::Psap),
        (
            State {
                kind: Kind::Psap,
                phase: P::Incoming
            },
            vec![Place]
        )
    );
    assert_eq!(
        first(Kind::Ecrc),
        (
            State {
                kind: Kind::Ecrc,
                phase: P::Early
            },
            vec![Ring, Arm(Timer::AnswerSelf, NOW + 2000)]
        )
    );
    assert_eq!(
        first(Kind::Test).1,
        vec![Ring, Accept, StartMedia, Speak],
        "933: answered at once"
    );
    assert_eq!(
        first(Kind::Outgoing),
        (
            State {
                kind: Kind::Outgoing,
                phase: P::Calling
            },
            vec![]
        )
    );
}

#[test]
fn a_psap_call_rings_and_answers_as_the_switch_says() {
    use Kind::Psap as K;
    // RFC 3261 §13.3.1.1: a provisional when the PSAP rings (or the call queues).
    row(K, P::Incoming, E::Delivered, P::Early, &[Ring]);
    row(K, P::Incoming, E::Queued, P::Early, &[Note(QUEUED), Ring]);
    row(K, P::Early, E::Queued, P::Early, &[Note(QUEUED)]);
    // Delivered after queued: no second 180.
    row(K, P::Early, E::Delivered, P::Early, &[]);
    // §13.3.1.4: the PSAP's answer is the 200; the ACK confirms.
    row(
        K,
        P::Early,
        E::PsapAnswered,
        P::Connecting,
        &[Accept, StartMedia],
    );
    row(
        K,
        P::Incoming,
        E::PsapAnswered,
        P::Connecting,
        &[Accept, StartMedia],
    );
    row(K, P::Connecting, E::Acked, P::Confirmed, &[]);
    // Repeats change nothing.
    row(K, P::Confirmed, E::Acked, P::Confirmed, &[]);
    row(K, P::Confirmed, E::PsapAnswered, P::Confirmed, &[]);
    row(K, P::Confirmed, E::Delivered, P::Confirmed, &[]);
    // Not ours: a UAC's responses, an ECRC timer.
    row(K, P::Early, E::Success, P::Early, &[]);
    row(K, P::Early, E::Timer(Timer::AnswerSelf), P::Early, &[]);
    // Media and session events before the answer cannot end it.
    row(K, P::Early, E::RtpTimeout, P::Early, &[]);
    row(K, P::Early, E::SessionExpired, P::Early, &[]);
}

#[test]
fn a_psap_call_ends_one_way_each_and_waits_for_the_trunk() {
    use Kind::Psap as K;
    // §9.2: CANCEL while ringing: abandoned, whatever the PSAP does after.
    row(
        K,
        P::Early,
        E::PeerGone(Gone::Cancel),
        rel("CANCEL"),
        &[Abandoned, end("CANCEL"), ReleaseTrunk],
    );
    row(
        K,
        P::Incoming,
        E::PeerGone(Gone::Cancel),
        rel("CANCEL"),
        &[Abandoned, end("CANCEL"), ReleaseTrunk],
    );
    // §15.1.2: the caller's BYE once answered is not an abandon.
    row(
        K,
        P::Confirmed,
        E::PeerGone(Gone::Bye),
        rel("caller BYE"),
        &[end("caller BYE"), ReleaseTrunk],
    );
    // §15.1.1: the PSAP hangs up: our BYE.
    row(
        K,
        P::Confirmed,
        E::PsapReleased,
        rel("PSAP BYE"),
        &[Bye, end("PSAP BYE"), ReleaseTrunk],
    );
    // §13.3.1.3: released before the answer: 480.
    row(
        K,
        P::Early,
        E::PsapReleased,
        rel("PSAP BYE"),
        &[Reject, end("PSAP BYE"), ReleaseTrunk],
    );
    // §9.2: a CANCEL that crossed our 200: abandoned.
    row(
        K,
        P::Connecting,
        E::PeerGone(Gone::Cancel),
        rel("CANCEL"),
        &[Abandoned, end("CANCEL"), ReleaseTrunk],
    );
    // §13.3.1.4: no ACK in 64 × T1 (the stack ends the dialog).
    row(
        K,
        P::Connecting,
        E::PeerGone(Gone::NoAck),
        rel("SIP timeout (no ACK)"),
        &[end("SIP timeout (no ACK)"), ReleaseTrunk],
    );
    // RFC 4028 §10: no refresh: our BYE.
    row(
        K,
        P::Confirmed,
        E::SessionExpired,
        rel(SESSION_EXPIRED),
        &[Bye, end(SESSION_EXPIRED), ReleaseTrunk],
    );
    row(
        K,
        P::Connecting,
        E::RtpTimeout,
        rel("RTP timeout"),
        &[Bye, end("RTP timeout"), ReleaseTrunk],
    );
    // The provider stopping: BYE if answered, else 480.
    row(
        K,
        P::Confirmed,
        E::Shutdown,
        rel(SHUTDOWN),
        &[Bye, end(SHUTDOWN), ReleaseTrunk],
    );
    row(
        K,
        P::Connecting,
        E::Shutdown,
        rel(SHUTDOWN),
        &[Bye, end(SHUTDOWN), ReleaseTrunk],
    );
    row(
        K,
        P::Early,
        E::Shutdown,
        rel(SHUTDOWN),
        &[Reject, end(SHUTDOWN), ReleaseTrunk],
    );
    // Releasing: only the trunk's record (or the forced end) moves it; the first reason holds.
    row(K, rel("caller BYE"), E::SwitchDone, P::Disconnected, &[]);
    row(
        K,
        rel("caller BYE"),
        E::PeerGone(Gone::OurBye),
        rel("caller BYE"),
        &[],
    );
    row(
        K,
        rel("PSAP BYE"),
        E::PeerGone(Gone::Bye),
        rel("PSAP BYE"),
        &[],
    );
    row(K, rel("PSAP BYE"), E::Shutdown, rel("PSAP BYE"), &[]);
    row(K, rel("caller BYE"), E::RtpTimeout, rel("caller BYE"), &[]);
    // The trunk idle under a live call: the caller is released too.
    row(
        K,
        P::Confirmed,
        E::SwitchDone,
        P::Disconnected,
        &[Bye, end(SHUTDOWN)],
    );
    row(
        K,
        P::Early,
        E::SwitchDone,
        P::Disconnected,
        &[Reject, end(SHUTDOWN)],
    );
}

#[test]
fn a_forced_drain_ends_every_call_at_once_and_says_so() {
    use Kind::Psap as K;
    row(
        K,
        P::Confirmed,
        E::Forced,
        P::Disconnected,
        &[end(FORCED), ReleaseTrunk],
    );
    row(
        K,
        P::Early,
        E::Forced,
        P::Disconnected,
        &[end(FORCED), ReleaseTrunk],
    );
    // Released by the stop, the trunk's record not in: forced.
    row(K, rel(SHUTDOWN), E::Forced, P::Disconnected, &[end(FORCED)]);
    // Released by the caller before: that reason stays.
    row(K, rel("caller BYE"), E::Forced, P::Disconnected, &[]);
    row(
        Kind::Ecrc,
        P::Confirmed,
        E::Forced,
        P::Disconnected,
        &[end(FORCED)],
    );
    row(
        Kind::Test,
        P::Connecting,
        E::Forced,
        P::Disconnected,
        &[end(FORCED)],
    );
    // Over is over.
    for e in [
        E::Forced,
        E::Shutdown,
        E::SwitchDone,
        E::PeerGone(Gone::Bye),
        E::Acked,
    ] {
        row(K, P::Disconnected, e, P::Disconnected, &[]);
    }
}

#[test]
fn the_ecrc_answers_itself_and_ends_without_a_trunk() {
    use Kind::Ecrc as K;
    row(
        K,
        P::Early,
        E::Timer(Timer::AnswerSelf),
        P::Connecting,
        &[Accept, StartMedia, Speak],
    );
    // A second firing (a stale timer) does nothing.
    row(
        K,
        P::Connecting,
        E::Timer(Timer::AnswerSelf),
        P::Connecting,
        &[],
    );
    row(
        K,
        P::Early,
        E::PeerGone(Gone::Cancel),
        P::Disconnected,
        &[Abandoned, end("CANCEL")],
    );
    row(
        K,
        P::Early,
        E::Shutdown,
        P::Disconnected,
        &[Reject, end(SHUTDOWN)],
    );
    row(
        K,
        P::Confirmed,
        E::Shutdown,
        P::Disconnected,
        &[Bye, end(SHUTDOWN)],
    );
    row(
        K,
        P::Confirmed,
        E::PeerGone(Gone::Bye),
        P::Disconnected,
        &[end("caller BYE")],
    );
    row(
        K,
        P::Confirmed,
        E::RtpTimeout,
        P::Disconnected,
        &[Bye, end("RTP timeout")],
    );
    // The switch's events are not the ECRC's.
    row(K, P::Early, E::PsapAnswered, P::Early, &[]);
    row(K, P::Confirmed, E::PsapReleased, P::Confirmed, &[]);
    row(K, P::Confirmed, E::SwitchDone, P::Confirmed, &[]);
}

#[test]
fn a_test_call_is_told_after_the_ack_then_released() {
    use Kind::Test as K;
    // The MESSAGE only in a confirmed dialog (RFC 3261 §12: requests within a dialog).
    row(
        K,
        P::Connecting,
        E::Acked,
        P::Confirmed,
        &[SendResult, Arm(Timer::TestDone, NOW + 5000)],
    );
    row(K, P::Confirmed, E::Acked, P::Confirmed, &[]);
    row(
        K,
        P::Confirmed,
        E::Timer(Timer::TestDone),
        P::Disconnected,
        &[Bye, end("provider BYE (test call done)")],
    );
    row(
        K,
        P::Connecting,
        E::Timer(Timer::TestDone),
        P::Connecting,
        &[],
    );
    row(
        K,
        P::Confirmed,
        E::PeerGone(Gone::Bye),
        P::Disconnected,
        &[end("caller BYE")],
    );
    row(
        K,
        P::Connecting,
        E::PeerGone(Gone::NoAck),
        P::Disconnected,
        &[end("SIP timeout (no ACK)")],
    );
}

#[test]
fn an_outgoing_leg_is_the_same_machine_from_calling() {
    use Kind::Outgoing as K;
    // RFC 3261 §13.2.2.1–4.
    row(K, P::Calling, E::Provisional, P::Early, &[]);
    row(K, P::Early, E::Provisional, P::Early, &[]);
    row(K, P::Calling, E::Success, P::Confirmed, &[Ack, StartMedia]);
    row(K, P::Early, E::Success, P::Confirmed, &[Ack, StartMedia]);
    row(K, P::Confirmed, E::Success, P::Confirmed, &[]);
    row(
        K,
        P::Early,
        E::Failure(486),
        P::Disconnected,
        &[end("refused (486)")],
    );
    // §17.1.1.2: Timer B, the stack's own 408.
    row(
        K,
        P::Calling,
        E::Failure(408),
        P::Disconnected,
        &[end("refused (408)")],
    );
    // §9.1: stopping cancels an unanswered INVITE; §15.1.1: a BYE once answered.
    row(
        K,
        P::Early,
        E::Shutdown,
        P::Disconnected,
        &[Cancel, end(SHUTDOWN)],
    );
    row(
        K,
        P::Confirmed,
        E::Shutdown,
        P::Disconnected,
        &[Bye, end(SHUTDOWN)],
    );
    row(
        K,
        P::Confirmed,
        E::PeerGone(Gone::Bye),
        P::Disconnected,
        &[end("caller BYE")],
    );
    row(
        K,
        P::Confirmed,
        E::SessionExpired,
        P::Disconnected,
        &[Bye, end(SESSION_EXPIRED)],
    );
    // Not a UAS: no switch, no abandon.
    row(K, P::Calling, E::PsapAnswered, P::Calling, &[]);
    row(K, P::Early, E::Queued, P::Early, &[]);
}

/// Every event in every phase of every kind: no panic, and `Disconnected` is final.
#[test]
fn every_pair_is_answered_and_disconnected_is_final() {
    let kinds = [Kind::Psap, Kind::Ecrc, Kind::Test, Kind::Outgoing];
    let phases = [
        P::Calling,
        P::Incoming,
        P::Early,
        P::Connecting,
        P::Confirmed,
        rel(SHUTDOWN),
        rel("caller BYE"),
        P::Disconnected,
    ];
    let events = [
        E::Queued,
        E::Delivered,
        E::PsapAnswered,
        E::PsapReleased,
        E::SwitchDone,
        E::Acked,
        E::PeerGone(Gone::Cancel),
        E::PeerGone(Gone::Bye),
        E::PeerGone(Gone::OurBye),
        E::PeerGone(Gone::NoAck),
        E::PeerGone(Gone::Other),
        E::Timer(Timer::AnswerSelf),
        E::Timer(Timer::TestDone),
        E::SessionExpired,
        E::RtpTimeout,
        E::Shutdown,
        E::Forced,
        E::Provisional,
        E::Success,
        E::Failure(500),
    ];
    for k in kinds {
        for p in &phases {
            for e in events {
                let (s, a) = M.on_event(
                    State {
                        kind: k,
                        phase: p.clone(),
                    },
                    NOW,
                    e,
                );
                let ends = a.iter().filter(|x| matches!(x, End(_))).count();
                assert!(ends <= 1, "{k:?} {p:?} {e:?}: {a:?}");
                if *p == P::Disconnected {
                    assert_eq!((s.phase.clone(), a.len()), (P::Disconnected, 0));
                } else if matches!(s.phase, P::Releasing(_) | P::Disconnected)
                    && !matches!(p, P::Releasing(_))
                {
                    // Every way out of a live call says why, once.
                    assert_eq!(ends, 1, "{k:?} {p:?} {e:?}: {a:?}");
                }
                // Only a PSAP call has a trunk (and so a way into `Releasing`).
                if k != Kind::Psap && !matches!(p, P::Releasing(_)) {
                    assert!(!a.contains(&ReleaseTrunk) && !matches!(s.phase, P::Releasing(_)));
                }
            }
        }
    }
}
