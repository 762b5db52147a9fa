//! How the provider behaves (`sip serve`'s options), and how its tasks wait for room.

use std::net::IpAddr;
use std::time::Duration;

/// How the provider behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where RTP sockets are bound and what the SDP answer names.
    pub media_ip: IpAddr,
    /// No RTP for this long ends an answered call.
    pub rtp_timeout: Duration,
    /// Where RTP/RTCP port pairs come from (`--rtp-ports`; None: any free pair).
    pub rtp_ports: Option<super::media::Ports>,
    /// Which RTP sources are played (NAT learning).
    pub rtp_rules: super::rtp_source::Rules,
    /// The shortest RFC 4028 session interval taken, seconds (a shorter one is raised to it).
    pub session_min: u32,
    /// The most emergency calls up at once; more get `503` with Retry-After (and a record).
    pub max_calls: usize,
    /// The ECRC's name, for the records.
    pub ecrc: String,
    /// The ECRC answers this long after the INVITE.
    pub ecrc_answer: Duration,
    /// A 933 test call is hung up by the provider this long after its MESSAGE.
    pub test_hold: Duration,
    /// What the ECRC's attendant and the 933 service say once answered: `(Hz, dBm0)`.
    pub voice: Option<(u32, f64)>,
}

/// Send on a bounded channel from a tokio task: at once when there is room; else the task waits
/// off its worker thread (`block_in_place`, so the runtime's other tasks go on) until there is.
/// Nothing is dropped; a closed channel (the receiver gone at shutdown) takes nothing.
pub(super) fn wait_send<T>(tx: &crossbeam_channel::Sender<T>, v: T) {
    match tx.try_send(v) {
        Ok(()) | Err(crossbeam_channel::TrySendError::Disconnected(_)) => {}
        Err(crossbeam_channel::TrySendError::Full(v)) => {
            let wait = || {
                let _ = tx.send(v);
            };
            match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
                _ => wait(),
            }
        }
    }
}
