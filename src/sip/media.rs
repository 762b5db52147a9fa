//! A SIP call's media: RTP G.711 μ-law (PT 0) or A-law (PT 8) both ways (the `rtp` crate),
//! bridged to the office through two lock-free rings; the offer/answer is [`super::sdp`]'s.
//!
//! - From the caller: packets are put back in sequence order (the stream starts at the earliest
//!   of its first three packets; a reorder window of 4 packets; a gap still open after that is
//!   lost and played as silence), decoded and pushed to a ring the
//!   office drains 10 ms at a time ([`RtpAudio::say`]). Playout waits for 40 ms in the ring and
//!   waits again after an underrun; more than 200 ms queued is cut back to 40 ms. That is the
//!   jitter buffer.
//! - To the caller: the office pushes what the tandem sent toward the trunk
//!   ([`RtpAudio::hear`]); every 20 ms one packet of 160 samples goes out, once 40 ms are queued;
//!   more than 200 ms queued (what came before the answer) is cut back to 40 ms.
//! - Only the caller is heard ([`super::rtp_source`]): the SDP's address, or a NAT source
//!   learned from the INVITE's IP; every other packet is dropped and counted. Our RTP goes to
//!   the same place, never to whoever sent last.
//! - RFC 4733 telephone-events are regenerated as DTMF toward the trunk ([`super::rfc4733`]).
//! - A re-INVITE or UPDATE that moves the media or holds it is followed (`updates`); on hold
//!   (`sendonly`, `inactive`) nothing is sent to the caller, and while the caller is not meant
//!   to send, its silence ends nothing.
//! - RTP binds an even port (from `--rtp-ports` when given), RTCP the next one: received and
//!   counted.
//! - No packet from the caller for `timeout` ends the media; the call is then released.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use webrtc_util::marshal::{Marshal, Unmarshal};

use super::rfc4733;
use super::rtp_source::{Rules, SourceFilter, Verdict};
use super::sdp::Direction;
pub use super::sdp::Offer;
use crate::dsp::g711::{linear_to_alaw, linear_to_ulaw, Law};
use crate::sim::world::CallAudio;

/// 40 ms: playout starts (and restarts after an underrun) with this much queued.
const PRIME: usize = 320;
/// 200 ms: more than this queued is cut back to [`PRIME`].
const MOST: usize = 1600;

/// The office's end of a call's media.
pub struct RtpAudio {
    from_caller: HeapCons<i16>,
    to_caller: HeapProd<i16>,
    playing: bool,
}

impl CallAudio for RtpAudio {
    fn say(&mut self, out: &mut [i16]) {
        let have = self.from_caller.occupied_len();
        if have > MOST {
            self.from_caller.skip(have - PRIME);
        }
        if !self.playing && self.from_caller.occupied_len() >= PRIME {
            self.playing = true;
        }
        if !self.playing {
            out.fill(0);
            return;
        }
        let got = self.from_caller.pop_slice(out);
        if got < out.len() {
            out[got..].fill(0);
            self.playing = false;
        }
    }

    fn hear(&mut self, from_tandem: &[i16]) {
        self.to_caller.push_slice(from_tandem);
    }
}

/// The network's end of a call's media.
pub struct RtpLeg {
    socket: UdpSocket,
    rtcp: UdpSocket,
    to_office: HeapProd<i16>,
    from_office: HeapCons<i16>,
}

/// How the media ended, and what crossed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MediaStats {
    pub packets_in: u64,
    pub packets_out: u64,
    /// Packets never received (gaps played as silence).
    pub lost: u64,
    /// Packets that came after their turn (dropped).
    pub late: u64,
    /// Payloads that were not the negotiated type (ignored).
    pub foreign: u64,
    /// Packets from anyone but the caller (dropped, never played; [`super::rtp_source`]).
    pub dropped_sources: u64,
    /// Where the caller's RTP was played from (`ip:port`), the last source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// RTCP packets received on the next port.
    pub rtcp_in: u64,
    /// RFC 4733 keys regenerated as DTMF toward the PSAP, in order.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub keys: String,
    pub timed_out: bool,
}

/// Why the media loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEnd {
    Timeout,
    Cancelled,
}

/// Where RTP ports come from: a range (`--rtp-ports LO-HI`, for a firewall), else any free pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub lo: u16,
    pub hi: u16,
}

/// The next even port to try in a range (shared by every call of the process).
static NEXT: AtomicU16 = AtomicU16::new(0);

/// An RTP socket on an even port and RTCP on the next.
async fn bind_pair(ip: IpAddr, ports: Option<Ports>) -> std::io::Result<(UdpSocket, UdpSocket)> {
    match ports {
        Some(Ports { lo, hi }) => {
            let first = lo + (lo % 2);
            let pairs = hi.saturating_sub(first).div_ceil(2).max(1);
            let start = NEXT.fetch_add(1, Ordering::Relaxed) % pairs;
            for k in 0..pairs {
                let p = first + 2 * ((start + k) % pairs);
                if p >= hi || p == u16::MAX {
                    continue;
                }
                if let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, p)).await {
                    if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, p + 1)).await {
                        return Ok((rtp, rtcp));
                    }
                }
            }
            Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("every RTP port pair in {lo}-{hi} is in use"),
            ))
        }
        None => {
            for _ in 0..64 {
                let rtp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
                let p = rtp.local_addr()?.port();
                if p % 2 == 1 || p == u16::MAX {
                    continue;
                }
                if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, p + 1)).await {
                    return Ok((rtp, rtcp));
                }
            }
            Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "no free RTP/RTCP port pair",
            ))
        }
    }
}

/// A media session: RTP and RTCP sockets on `ip` and the two rings; the RTP port.
pub async fn open(ip: IpAddr, ports: Option<Ports>) -> std::io::Result<(RtpLeg, RtpAudio, u16)> {
    let (socket, rtcp) = bind_pair(ip, ports).await?;
    let port = socket.local_addr()?.port();
    let (p1, c1) = HeapRb::<i16>::new(8000).split();
    let (p2, c2) = HeapRb::<i16>::new(8000).split();
    Ok((
        RtpLeg {
            socket,
            rtcp,
            to_office: p1,
            from_office: c2,
        },
        RtpAudio {
            from_caller: c1,
            to_caller: p2,
            playing: false,
        },
        port,
    ))
}

/// How a leg runs.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The caller's offer (later ones come through `updates`).
    pub offer: Offer,
    /// The IP the INVITE came from: the only one a NAT source may be learned from.
    pub invite_ip: IpAddr,
    /// No packet from the caller for this long ends the media.
    pub timeout: Duration,
    pub rules: Rules,
}

struct Reorder {
    expected: Option<u16>,
    held: Vec<(u16, Vec<i16>)>,
}

impl Reorder {
    /// A new stream (another source or SSRC): start over.
    fn reset(&mut self) {
        self.expected = None;
        self.held.clear();
    }

    /// Take packet `seq`; whatever is now in order goes to `out`, with silence for packets
    /// given up on. Returns (lost, late).
    fn take(&mut self, seq: u16, pcm: Vec<i16>, out: &mut dyn FnMut(&[i16])) -> (u64, u64) {
        match self.expected {
            // The stream starts with the earliest of its first three packets (the first to
            // arrive need not be the first sent).
            None => {
                if self.held.iter().any(|h| h.0 == seq) {
                    return (0, 1);
                }
                self.held.push((seq, pcm));
                if self.held.len() < 3 {
                    return (0, 0);
                }
                let s0 = self.held[0].0;
                let first = self
                    .held
                    .iter()
                    .map(|h| h.0)
                    .min_by_key(|&s| s.wrapping_sub(s0) as i16)
                    .expect("three held");
                self.expected = Some(first);
            }
            Some(exp) => {
                let d = seq.wrapping_sub(exp) as i16;
                // A jump back further than RFC 3550's MAX_MISORDER (100) is the sender
                // restarting its numbering, not a late packet: start over from it.
                if d < -100 {
                    self.reset();
                    return self.take(seq, pcm, out);
                }
                if d < 0 || self.held.iter().any(|h| h.0 == seq) {
                    return (0, 1);
                }
                self.held.push((seq, pcm));
            }
        }
        let mut lost = 0;
        loop {
            let exp = self.expected.expect("set");
            if let Some(i) = self.held.iter().position(|h| h.0 == exp) {
                let (_, p) = self.held.swap_remove(i);
                out(&p);
                self.expected = Some(exp.wrapping_add(1));
            } else if self.held.len() > 4 {
                // Give the missing packet up: silence of the next packet's length.
                let n = self.held[0].1.len();
                out(&vec![0; n]);
                lost += 1;
                self.expected = Some(exp.wrapping_add(1));
            } else {
                break;
            }
        }
        (lost, 0)
    }
}

impl RtpLeg {
    /// Run the media until `cancel`, or `timeout` without a packet from the caller while the
    /// caller is meant to send. A new offer on `updates` (a re-INVITE) moves or holds the media.
    pub async fn run(
        mut self,
        setup: Setup,
        mut updates: watch::Receiver<Offer>,
        cancel: CancellationToken,
    ) -> MediaStats {
        let mut st = MediaStats::default();
        let mut offer = setup.offer.clone();
        let mut filter = SourceFilter::new(setup.rules, offer.remote, setup.invite_ip, offer.pt);
        let mut regen = rfc4733::Regenerator::default();
        let mut buf = vec![0u8; 2048];
        let mut rtcp_buf = vec![0u8; 2048];
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ssrc: u32 = rand::random();
        let (mut seq, mut ts): (u16, u32) = (rand::random(), rand::random());
        let mut sending = false;
        let mut order = Reorder {
            expected: None,
            held: Vec::new(),
        };
        let started = tokio::time::Instant::now();
        let mut last_in = started;
        let mut frame = [0i16; 160];
        // Does the caller send to us, and may we send to it?
        let caller_sends =
            |o: &Offer| matches!(o.direction, Direction::Sendrecv | Direction::Sendonly);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Ok(()) = updates.changed() => {
                    let o = updates.borrow_and_update().clone();
                    if o.remote != offer.remote || o.pt != offer.pt {
                        filter.moved(o.remote, o.pt);
                        order.reset();
                    }
                    offer = o;
                    last_in = tokio::time::Instant::now();
                }
                r = self.rtcp.recv_from(&mut rtcp_buf) => {
                    if r.is_ok() {
                        st.rtcp_in += 1;
                    }
                }
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, from)) = r else { continue };
                    let mut b = Bytes::copy_from_slice(&buf[..n]);
                    let Ok(p) = rtp::packet::Packet::unmarshal(&mut b) else { continue };
                    let h = &p.header;
                    let is_event = offer.te == Some(h.payload_type);
                    // Events are judged as the codec's packets (one stream, one sequence).
                    let pt = if is_event { offer.pt } else { h.payload_type };
                    let verdict = filter.admit(from, started.elapsed(), h.sequence_number, pt, h.ssrc);
                    match verdict {
                        Verdict::Drop => continue,
                        Verdict::PlayFresh => order.reset(),
                        Verdict::Play => {}
                    }
                    last_in = tokio::time::Instant::now();
                    let pcm: Vec<i16> = if is_event {
                        match rfc4733::Event::read(&p.payload) {
                            Some(ev) => regen.take(h.timestamp, ev),
                            None => continue,
                        }
                    } else if h.payload_type == offer.pt && regen.owns(h.timestamp) {
                        // Voice the phone sent beside a key's events: the key has the line.
                        Vec::new()
                    } else if h.payload_type == offer.pt {
                        p.payload.iter().map(|&c| offer.law.decode(c)).collect()
                    } else {
                        st.foreign += 1;
                        continue;
                    };
                    st.packets_in += 1;
                    let to = &mut self.to_office;
                    let (lost, late) = order.take(h.sequence_number, pcm, &mut |x| {
                        to.push_slice(x);
                    });
                    st.lost += lost;
                    st.late += late;
                }
                _ = tick.tick() => {
                    if caller_sends(&offer) && last_in.elapsed() > setup.timeout {
                        st.timed_out = true;
                        break;
                    }
                    // What queued up before the answer (or a stall) is dropped: keep 40 ms.
                    let queued = self.from_office.occupied_len();
                    if queued > MOST {
                        self.from_office.skip(queued - PRIME);
                    }
                    if !sending && self.from_office.occupied_len() >= PRIME {
                        sending = true;
                    }
                    while sending && self.from_office.occupied_len() >= 160 {
                        self.from_office.pop_slice(&mut frame);
                        seq = seq.wrapping_add(1);
                        ts = ts.wrapping_add(160);
                        // On hold (the caller receives nothing): the office's audio is let go.
                        if !offer.direction.receives() || offer.remote.port() == 0 {
                            continue;
                        }
                        let payload: Vec<u8> = frame
                            .iter()
                            .map(|&s| match offer.law {
                                Law::Ulaw => linear_to_ulaw(s),
                                Law::Alaw => linear_to_alaw(s),
                            })
                            .collect();
                        let pkt = rtp::packet::Packet {
                            header: rtp::header::Header {
                                version: 2,
                                payload_type: offer.pt,
                                sequence_number: seq,
                                timestamp: ts,
                                ssrc,
                                ..Default::default()
                            },
                            payload: Bytes::from(payload),
                        };
                        if let Ok(raw) = pkt.marshal() {
                            let _ = self.socket.send_to(&raw, filter.send_to()).await;
                            st.packets_out += 1;
                        }
                        if self.from_office.occupied_len() < PRIME / 2 {
                            break;
                        }
                    }
                }
            }
        }
        st.dropped_sources = filter.dropped;
        st.source = filter.source().map(|s| s.to_string());
        st.keys = regen.keys;
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_window() {
        let mut r = Reorder {
            expected: None,
            held: Vec::new(),
        };
        let mut got: Vec<i16> = Vec::new();
        let mut take = |r: &mut Reorder, s: u16| {
            r.take(s, vec![s as i16; 2], &mut |x| got.extend_from_slice(x))
        };
        assert_eq!(take(&mut r, 65534), (0, 0));
        // 65535 comes after 0 (wrap-around): held, then both in order.
        assert_eq!(take(&mut r, 0), (0, 0));
        assert_eq!(take(&mut r, 65535), (0, 0));
        // A duplicate is late.
        assert_eq!(take(&mut r, 0), (0, 1));
        // 1 never comes: given up once 5 packets wait.
        for s in 2..=5 {
            assert_eq!(take(&mut r, s), (0, 0));
        }
        assert_eq!(take(&mut r, 6), (1, 0));
        assert_eq!(
            got,
            vec![-2, -2, -1, -1, 0, 0, 0, 0, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
        );
    }

    /// Packets sent out of order and with jitter come out of the office's end as the caller's
    /// samples in order, none lost; the RTP back carries what the office said.
    #[test]
    fn jitter_and_reordering_are_absorbed() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let ip: IpAddr = "127.0.0.1".parse().unwrap();
            let (leg, mut audio, port) = open(ip, None).await.unwrap();
            let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let offer = Offer {
                remote: far.local_addr().unwrap(),
                pt: 0,
                law: Law::Ulaw,
                te: None,
                direction: Direction::Sendrecv,
                lines: Vec::new(),
                taken: 0,
            };
            let cancel = CancellationToken::new();
            let setup = Setup {
                offer: offer.clone(),
                invite_ip: ip,
                timeout: Duration::from_secs(5),
                rules: Rules::default(),
            };
            let (_updates, rx) = watch::channel(offer);
            let task = tokio::spawn(leg.run(setup, rx, cancel.clone()));
            // 40 packets of a ramp (each sample's code is its index mod 200), sent in the order
            // 1 0 3 2 5 4 … with 0–25 ms between them.
            // Never 0, so the silence of an underrun can be told from the signal.
            let code = |i: usize| linear_to_ulaw(((i % 200) as i16 - 100) * 64 + 32);
            let mut got = Vec::new();
            let mut block = [0i16; 80];
            let mut order: Vec<usize> = (0..40).collect();
            for pair in order.chunks_mut(2) {
                pair.swap(0, 1);
            }
            for (k, &i) in order.iter().enumerate() {
                let pkt = rtp::packet::Packet {
                    header: rtp::header::Header {
                        version: 2,
                        payload_type: 0,
                        sequence_number: 1000 + i as u16,
                        timestamp: 160 * i as u32,
                        ssrc: 7,
                        ..Default::default()
                    },
                    payload: Bytes::from((0..160).map(|j| code(i * 160 + j)).collect::<Vec<u8>>()),
                };
                far.send_to(&pkt.marshal().unwrap(), ("127.0.0.1", port))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis((k * 7 % 26) as u64)).await;
                // The office takes 20 ms each time, and speaks: a constant the far end must get.
                for _ in 0..2 {
                    audio.say(&mut block);
                    got.extend_from_slice(&block);
                    audio.hear(&[1000; 80]);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            for _ in 0..40 {
                audio.say(&mut block);
                got.extend_from_slice(&block);
            }
            // Underruns play silence; every sample of the caller's comes, once, in order.
            got.retain(|&v| v != 0);
            let want: Vec<i16> = (0..40 * 160).map(|i| Law::Ulaw.decode(code(i))).collect();
            // (Less than 40 ms left after an underrun waits for more: the call's last words.)
            assert!(
                got.len() + PRIME >= want.len(),
                "{} of {}",
                got.len(),
                want.len()
            );
            if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
                panic!(
                    "sample {i} of {}: got {:?}, want {:?}",
                    got.len(),
                    &got[i..(i + 8).min(got.len())],
                    &want[i..(i + 8).min(want.len())]
                );
            }
            // The RTP back: decoded, it is the office's constant.
            let mut buf = [0u8; 2048];
            let n = tokio::time::timeout(Duration::from_secs(2), far.recv(&mut buf))
                .await
                .expect("RTP back")
                .unwrap();
            let mut b = Bytes::copy_from_slice(&buf[..n]);
            let p = rtp::packet::Packet::unmarshal(&mut b).unwrap();
            assert_eq!(p.payload.len(), 160);
            assert!(p.payload.iter().all(|&c| c == linear_to_ulaw(1000)));
            cancel.cancel();
            let st = task.await.unwrap();
            assert_eq!((st.packets_in, st.lost, st.late), (40, 0, 0));
            assert!(!st.timed_out);
        });
    }
}
