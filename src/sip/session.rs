//! What an INVITE asks of the call's own SIP behaviour, beyond its location and media:
//!
//! - RFC 3262 reliable provisionals: `Require: 100rel` (or `Supported: 100rel`) gets its 180
//!   with `Require: 100rel` and an `RSeq`, sent again at T1, 2·T1, … (capped at 4 s) until the
//!   PRACK comes, the call is answered, or 64·T1 pass — never a refusal (`420`) of a 911 call.
//! - RFC 4028 session timers: from a caller that supports them (`Supported: timer`),
//!   `Session-Expires: N` is answered in the 200 with the interval, the refresher (the caller,
//!   `uac` — we send no refreshes) and `Require: timer`; from one that does not (a proxy inserted
//!   the header), no timer runs. If no re-INVITE or UPDATE
//!   refreshes the session within N seconds, the provider ends it with a BYE (§10). An interval
//!   under the RFC's 90 s floor is answered as 90 rather than refused with `422`, so a 911 call
//!   never needs a second INVITE.
//!
//! Pure: headers in, headers and intervals out.

use std::time::Duration;

use rsipstack::sip::Header;

/// RFC 3261's T1.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 4028 §4's floor on a session interval.
pub const MIN_SE: u32 = 90;

/// What the INVITE asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asks {
    /// Send provisionals reliably (RFC 3262).
    pub reliable: bool,
    /// The session interval in force, seconds (RFC 4028), if any.
    pub expires: Option<u32>,
    /// The caller asked for less than [`MIN_SE`] (the answer says 90).
    pub raised: bool,
    /// The caller supports timers: the 200 has `Require: timer`.
    pub timer_supported: bool,
}

fn tokens<'a>(headers: &'a [(String, String)], name: &str) -> impl Iterator<Item = String> + 'a {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .filter(move |(n, _)| n.to_ascii_lowercase() == name)
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
}

/// Read the INVITE's headers (name, value); `floor` is the shortest session interval taken
/// ([`MIN_SE`] unless the operator chose less, for tests).
pub fn read(headers: &[(String, String)], floor: u32) -> Asks {
    let has = |h: &str, t: &str| tokens(headers, h).any(|x| x == t);
    let reliable = has("Require", "100rel") || has("Supported", "100rel");
    let timer_supported = has("Supported", "timer") || has("Require", "timer");
    let asked = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Session-Expires") || n == "x")
        .and_then(|(_, v)| v.split(';').next()?.trim().parse::<u32>().ok());
    // A caller that does not support timers cannot be the refresher, and we send no refreshes
    // (RFC 4028 §9): no session timer then, rather than a 911 call ended for want of one.
    let asked = asked.filter(|_| timer_supported);
    Asks {
        reliable,
        expires: asked.map(|n| n.max(floor)),
        raised: asked.is_some_and(|n| n < floor),
        timer_supported,
    }
}

impl Asks {
    /// The 180's extra headers: reliable with this `rseq`, or none.
    pub fn ringing_headers(&self, rseq: u32) -> Option<Vec<Header>> {
        self.reliable.then(|| {
            vec![
                Header::Other("Require".into(), "100rel".into()),
                Header::Other("RSeq".into(), rseq.to_string()),
            ]
        })
    }

    /// The 200's extra headers.
    pub fn ok_headers(&self) -> Vec<Header> {
        let mut h = Vec::new();
        if let Some(n) = self.expires {
            h.push(Header::Other(
                "Session-Expires".into(),
                format!("{n};refresher=uac"),
            ));
            if self.timer_supported {
                h.push(Header::Other("Require".into(), "timer".into()));
            }
        }
        h
    }

    /// The session's interval, when one runs.
    pub fn interval(&self) -> Option<Duration> {
        self.expires.map(|n| Duration::from_secs(n as u64))
    }
}

/// When the `k`-th retransmission of a reliable provisional goes (k = 1, 2, …): T1·2^(k−1)
/// after the one before, capped at 4 s (T2), until 64·T1 in all.
pub fn prack_wait(k: u32) -> Option<Duration> {
    let elapsed: Duration = (1..k)
        .map(|i| (T1 * (1 << (i - 1).min(16))).min(Duration::from_secs(4)))
        .sum();
    let step = (T1 * (1 << (k - 1).min(16))).min(Duration::from_secs(4));
    (elapsed + step <= T1 * 64).then_some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn reads_100rel_and_session_expires() {
        let a = read(
            &h(&[
                ("Require", "100rel"),
                ("Supported", "timer, replaces"),
                ("Session-Expires", "1800;refresher=uac"),
            ]),
            MIN_SE,
        );
        assert_eq!(
            a,
            Asks {
                reliable: true,
                expires: Some(1800),
                raised: false,
                timer_supported: true
            }
        );
        let r = a.ringing_headers(1).unwrap();
        assert_eq!(r.len(), 2);
        let ok: Vec<String> = a.ok_headers().iter().map(|h| h.to_string()).collect();
        assert_eq!(
            ok,
            ["Session-Expires: 1800;refresher=uac", "Require: timer"]
        );
        // Nothing asked: nothing added.
        let none = read(&h(&[("Supported", "geolocation")]), MIN_SE);
        assert!(none.ringing_headers(1).is_none() && none.ok_headers().is_empty());
        assert_eq!(none.interval(), None);
        // Under the floor: raised, not refused. The compact form `x`.
        let low = read(&h(&[("x", "30"), ("Supported", "timer")]), MIN_SE);
        assert_eq!((low.expires, low.raised), (Some(90), true));
        // A caller without timer support: no session timer (it could not refresh as `uac`).
        let proxy = read(&h(&[("Session-Expires", "1800")]), MIN_SE);
        assert_eq!(proxy.interval(), None);
    }

    #[test]
    fn reliable_provisionals_back_off_to_t2_within_64_t1() {
        let steps: Vec<u64> = (1..)
            .map_while(prack_wait)
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(&steps[..5], &[500, 1000, 2000, 4000, 4000]);
        assert!(steps.iter().sum::<u64>() <= 32_000);
        assert!(steps.iter().sum::<u64>() > 28_000);
    }
}
