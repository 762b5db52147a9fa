//! A SIP call's media: the SDP offer/answer (the `sdp` crate) and RTP G.711 μ-law (PT 0) or
//! A-law (PT 8) both ways (the `rtp` crate), bridged to the office through two lock-free rings.
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
//! - Symmetric RTP: the far end's address is latched from its first packet.
//! - No packet for `timeout` ends the media ([`MediaEnd::Timeout`]); the call is then released.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use webrtc_util::marshal::{Marshal, Unmarshal};

use crate::dsp::g711::{linear_to_alaw, linear_to_ulaw, Law};
use crate::sim::world::CallAudio;

/// What the SDP offer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Where to send RTP.
    pub remote: SocketAddr,
    /// The payload type chosen (0 PCMU or 8 PCMA, the offer's first of the two).
    pub pt: u8,
    pub law: Law,
}

/// Read an SDP offer: the first audio stream's address and its first G.711 payload type.
pub fn read_offer(sdp: &str) -> Result<Offer, String> {
    let mut cur = std::io::Cursor::new(sdp.as_bytes());
    let d = sdp::SessionDescription::unmarshal(&mut cur).map_err(|e| format!("SDP: {e}"))?;
    let m = d
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == "audio" && m.media_name.port.value > 0)
        .ok_or("SDP: no audio stream")?;
    let conn = m
        .connection_information
        .as_ref()
        .or(d.connection_information.as_ref())
        .and_then(|c| c.address.as_ref())
        .ok_or("SDP: no c= address")?;
    let ip: IpAddr = conn
        .address
        .split('/')
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("SDP: c= address `{}` is not an IP address", conn.address))?;
    let port = u16::try_from(m.media_name.port.value)
        .map_err(|_| format!("SDP: port {} out of range", m.media_name.port.value))?;
    let pt = m
        .media_name
        .formats
        .iter()
        .find_map(|f| match f.as_str() {
            "0" => Some(0u8),
            "8" => Some(8u8),
            _ => None,
        })
        .ok_or_else(|| {
            format!(
                "SDP: no G.711 payload (PCMU 0 or PCMA 8) offered: {}",
                m.media_name.formats.join(" ")
            )
        })?;
    Ok(Offer {
        remote: SocketAddr::new(ip, port),
        pt,
        law: if pt == 0 { Law::Ulaw } else { Law::Alaw },
    })
}

/// Our SDP answer: one audio stream at `ip:port` with payload `pt` (and telephone-event).
pub fn answer(ip: IpAddr, port: u16, pt: u8, session: u64) -> String {
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let name = if pt == 0 { "PCMU" } else { "PCMA" };
    format!(
        "v=0\r\no=e911 {session} {session} IN {fam} {ip}\r\ns=e911 provider\r\nc=IN {fam} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/8000\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

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
    pub timed_out: bool,
}

/// Why the media loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEnd {
    Timeout,
    Cancelled,
}

/// A media session: a UDP socket on `ip` (any free port) and the two rings.
pub async fn open(ip: IpAddr) -> std::io::Result<(RtpLeg, RtpAudio, u16)> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
    let port = socket.local_addr()?.port();
    let (p1, c1) = HeapRb::<i16>::new(8000).split();
    let (p2, c2) = HeapRb::<i16>::new(8000).split();
    Ok((
        RtpLeg {
            socket,
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

/// Sequence-ordering: `(expected seq, held-back packets)`.
struct Reorder {
    expected: Option<u16>,
    held: Vec<(u16, Vec<i16>)>,
}

impl Reorder {
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
    /// Run the media until `cancel` or `timeout` without a packet. RTP goes to `offer.remote`
    /// until a packet arrives from elsewhere (then there).
    pub async fn run(
        mut self,
        offer: Offer,
        timeout: Duration,
        cancel: CancellationToken,
    ) -> MediaStats {
        let mut st = MediaStats::default();
        let mut remote = offer.remote;
        let mut latched = false;
        let mut buf = vec![0u8; 2048];
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ssrc: u32 = rand::random();
        let (mut seq, mut ts): (u16, u32) = (rand::random(), rand::random());
        let mut sending = false;
        let mut order = Reorder {
            expected: None,
            held: Vec::new(),
        };
        let mut last_in = tokio::time::Instant::now();
        let mut frame = [0i16; 160];
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, from)) = r else { continue };
                    let mut b = Bytes::copy_from_slice(&buf[..n]);
                    let Ok(p) = rtp::packet::Packet::unmarshal(&mut b) else { continue };
                    last_in = tokio::time::Instant::now();
                    if !latched {
                        remote = from;
                        latched = true;
                    }
                    if p.header.payload_type != offer.pt {
                        st.foreign += 1;
                        continue;
                    }
                    st.packets_in += 1;
                    let pcm: Vec<i16> = p.payload.iter().map(|&c| offer.law.decode(c)).collect();
                    let to = &mut self.to_office;
                    let (lost, late) = order.take(p.header.sequence_number, pcm, &mut |x| {
                        to.push_slice(x);
                    });
                    st.lost += lost;
                    st.late += late;
                }
                _ = tick.tick() => {
                    if last_in.elapsed() > timeout {
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
                            let _ = self.socket.send_to(&raw, remote).await;
                            st.packets_out += 1;
                        }
                        seq = seq.wrapping_add(1);
                        ts = ts.wrapping_add(160);
                        if self.from_office.occupied_len() < PRIME / 2 {
                            break;
                        }
                    }
                }
            }
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sipp_offer() {
        let sdp = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let o = read_offer(sdp).unwrap();
        assert_eq!(o.remote, "127.0.0.1:6000".parse().unwrap());
        assert_eq!((o.pt, o.law), (8, Law::Alaw));
        let e = read_offer(&sdp.replace("8 0", "18")).unwrap_err();
        assert!(e.contains("no G.711"), "{e}");
        assert!(read_offer("garbage").is_err());
        // Our answer reads back.
        let a = answer("127.0.0.1".parse().unwrap(), 7000, 0, 1);
        assert_eq!(read_offer(&a).unwrap().remote.port(), 7000);
    }

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
            let (leg, mut audio, port) = open(ip).await.unwrap();
            let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let offer = Offer {
                remote: far.local_addr().unwrap(),
                pt: 0,
                law: Law::Ulaw,
            };
            let cancel = CancellationToken::new();
            let task = tokio::spawn(leg.run(offer, Duration::from_secs(5), cancel.clone()));
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
