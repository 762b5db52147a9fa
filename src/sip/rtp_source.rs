//! Which RTP a call plays: the caller's, and nobody else's (docs/sip.md "Media you can trust").
//! Without this, anyone who finds a call's media port can speak into a PSAP's ear and hear the
//! PSAP — the first packet from anywhere used to be latched.
//!
//! - RTP from the address and port the caller's SDP names is played, and takes over from any
//!   other source the moment it sends.
//! - A caller behind NAT (its SDP names an address it does not send from) is learned, as
//!   Asterisk's `strictrtp` does: only once the SDP's address has been silent for
//!   [`Rules::learn_after`] since the answer, only from the IP the INVITE came from, and only
//!   after [`Rules::learn_packets`] consecutive in-sequence packets of the negotiated payload
//!   type from one source. That source is then held; nothing else is learned.
//! - Every other packet is dropped and counted. A stranger on the caller's own IP during the
//!   learning window can still win it: a documented limit (what a signed media path, SRTP, is
//!   for).
//! - A new SSRC from the source in use (a phone restarting its stream) restarts the sequence:
//!   the jitter buffer is told to start over.
//!
//! Sans I/O: time is given as the time since the media started (the answer).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How sources are admitted.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The SDP's address silent this long after the answer: learning may start.
    pub learn_after: Duration,
    /// Consecutive in-sequence packets of the negotiated type that make a source learned.
    pub learn_packets: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            learn_after: Duration::from_millis(300),
            learn_packets: 4,
        }
    }
}

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Play it.
    Play,
    /// Play it, as the first of a new stream (a new source or SSRC): restart the sequence.
    PlayFresh,
    /// Drop it: not from the caller.
    Drop,
}

/// A learning candidate: its source, the last sequence number, how many in a row.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    from: SocketAddr,
    seq: u16,
    run: u32,
}

/// The source filter of one call.
#[derive(Debug, Clone)]
pub struct SourceFilter {
    rules: Rules,
    sdp: SocketAddr,
    invite_ip: IpAddr,
    pt: u8,
    /// The source being played and its SSRC.
    current: Option<(SocketAddr, u32)>,
    /// A NAT source learned (held from then on).
    learned: Option<SocketAddr>,
    candidate: Option<Candidate>,
    /// Has the SDP's address sent anything?
    sdp_heard: bool,
    /// Packets dropped (not from the caller).
    pub dropped: u64,
}

impl SourceFilter {
    pub fn new(rules: Rules, sdp: SocketAddr, invite_ip: IpAddr, pt: u8) -> SourceFilter {
        SourceFilter {
            rules,
            sdp,
            invite_ip,
            pt,
            current: None,
            learned: None,
            candidate: None,
            sdp_heard: false,
            dropped: 0,
        }
    }

    /// Where our RTP goes: the learned NAT source while the SDP's address is silent, else the
    /// SDP's address.
    pub fn send_to(&self) -> SocketAddr {
        match (self.sdp_heard, self.learned) {
            (false, Some(l)) => l,
            _ => self.sdp,
        }
    }

    /// The source being played, if any.
    pub fn source(&self) -> Option<SocketAddr> {
        self.current.map(|c| c.0)
    }

    /// The SDP moved (a re-INVITE or UPDATE): the new address is the caller's; what was
    /// learned is forgotten.
    pub fn moved(&mut self, sdp: SocketAddr, pt: u8) {
        *self = SourceFilter {
            dropped: self.dropped,
            ..SourceFilter::new(self.rules, sdp, self.invite_ip, pt)
        };
    }

    /// One packet from `from`, `since` the media started.
    pub fn admit(
        &mut self,
        from: SocketAddr,
        since: Duration,
        seq: u16,
        pt: u8,
        ssrc: u32,
    ) -> Verdict {
        let ok = if from == self.sdp {
            self.sdp_heard = true;
            true
        } else if self.sdp_heard {
            // The SDP's address is the caller: nothing else, ever (until the SDP moves).
            false
        } else if let Some(l) = self.learned {
            from == l
        } else {
            self.learn(from, since, seq, pt)
        };
        if !ok {
            self.dropped += 1;
            return Verdict::Drop;
        }
        match self.current {
            Some((src, s)) if src == from && s == ssrc => Verdict::Play,
            _ => {
                self.current = Some((from, ssrc));
                Verdict::PlayFresh
            }
        }
    }

    /// A packet from a possible NAT source: does it complete the learning?
    fn learn(&mut self, from: SocketAddr, since: Duration, seq: u16, pt: u8) -> bool {
        if since < self.rules.learn_after || from.ip() != self.invite_ip || pt != self.pt {
            return false;
        }
        let c = match self.candidate {
            Some(c) if c.from == from && seq == c.seq.wrapping_add(1) => Candidate {
                from,
                seq,
                run: c.run + 1,
            },
            _ => Candidate { from, seq, run: 1 },
        };
        self.candidate = Some(c);
        if c.run >= self.rules.learn_packets {
            self.learned = Some(from);
            self.candidate = None;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn filter() -> SourceFilter {
        SourceFilter::new(
            Rules::default(),
            a("10.0.0.5:4000"),
            "198.51.100.7".parse().unwrap(),
            0,
        )
    }

    /// (from, ms since the answer, seq, pt, ssrc) → verdict, in order.
    fn run(f: &mut SourceFilter, steps: &[(&str, u64, u16, u8, u32, Verdict)]) {
        for (k, &(from, ms, seq, pt, ssrc, want)) in steps.iter().enumerate() {
            let got = f.admit(a(from), MS * ms as u32, seq, pt, ssrc);
            assert_eq!(got, want, "step {k}: {from} at {ms} ms seq {seq} pt {pt}");
        }
    }

    use Verdict::{Drop, Play, PlayFresh};

    #[test]
    fn the_sdp_address_plays_and_a_stranger_never_does() {
        let mut f = filter();
        run(
            &mut f,
            &[
                // A stranger first (another IP): dropped, before and after the caller starts.
                ("203.0.113.9:5000", 0, 1, 0, 9, Drop),
                ("10.0.0.5:4000", 20, 100, 0, 7, PlayFresh),
                ("10.0.0.5:4000", 40, 101, 0, 7, Play),
                ("203.0.113.9:5000", 50, 2, 0, 9, Drop),
                // Even from the caller's own IP, another port: dropped once the SDP's is heard.
                ("10.0.0.5:4002", 60, 3, 0, 9, Drop),
                // The caller restarts its stream (new SSRC): played, fresh.
                ("10.0.0.5:4000", 80, 5000, 0, 8, PlayFresh),
            ],
        );
        assert_eq!(f.dropped, 3);
        assert_eq!(f.send_to(), a("10.0.0.5:4000"));
    }

    #[test]
    fn a_nat_caller_is_learned_from_the_invites_ip_after_the_sdp_is_silent() {
        let mut f = filter();
        let nat = "198.51.100.7:61000";
        run(
            &mut f,
            &[
                // Too early (before learn_after): not learned, not played.
                (nat, 100, 10, 0, 3, Drop),
                (nat, 120, 11, 0, 3, Drop),
                // Another IP never learns, however many in sequence.
                ("203.0.113.9:5000", 400, 1, 0, 9, Drop),
                ("203.0.113.9:5000", 420, 2, 0, 9, Drop),
                ("203.0.113.9:5000", 440, 3, 0, 9, Drop),
                ("203.0.113.9:5000", 460, 4, 0, 9, Drop),
                ("203.0.113.9:5000", 480, 5, 0, 9, Drop),
                // The INVITE's IP: 4 in sequence of PCMU; a gap restarts the count.
                (nat, 400, 20, 0, 3, Drop),
                (nat, 420, 21, 0, 3, Drop),
                (nat, 440, 23, 0, 3, Drop),
                (nat, 460, 24, 0, 3, Drop),
                (nat, 480, 25, 0, 3, Drop),
                // A wrong payload type does not count.
                (nat, 500, 26, 8, 3, Drop),
                (nat, 520, 27, 0, 3, Drop),
                (nat, 540, 28, 0, 3, Drop),
                (nat, 560, 29, 0, 3, Drop),
                (nat, 580, 30, 0, 3, PlayFresh),
                (nat, 600, 31, 0, 3, Play),
                // Held: another port of the same IP is not learned now.
                ("198.51.100.7:61002", 620, 1, 0, 4, Drop),
            ],
        );
        assert_eq!(f.send_to(), a(nat));
        // The SDP's address speaks: it takes over at once, and our RTP goes there.
        run(
            &mut f,
            &[
                ("10.0.0.5:4000", 700, 900, 0, 7, PlayFresh),
                (nat, 720, 32, 0, 3, Drop),
            ],
        );
        assert_eq!(f.send_to(), a("10.0.0.5:4000"));
    }

    #[test]
    fn a_moved_sdp_is_the_caller_from_then_on() {
        let mut f = filter();
        run(&mut f, &[("10.0.0.5:4000", 0, 1, 0, 7, PlayFresh)]);
        f.moved(a("10.0.0.6:4100"), 0);
        run(
            &mut f,
            &[
                ("10.0.0.5:4000", 20, 2, 0, 7, Drop),
                ("10.0.0.6:4100", 40, 50, 0, 7, PlayFresh),
            ],
        );
        assert_eq!(f.send_to(), a("10.0.0.6:4100"));
        assert_eq!(f.dropped, 1);
    }
}
