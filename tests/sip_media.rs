//! `e911 sip serve`'s media under attack: a stranger spraying RTP at every port of the
//! provider's RTP range, before and during the calls, is never heard at a PSAP position and
//! never hears one — whether the caller sends from the address its SDP names (SIPp) or from
//! behind NAT (a raw caller whose SDP names a port it does not send from). docs/sip.md "Media
//! you can trust". RTP and μ-law are made here by hand (RFC 3550 §5.1, G.711's formula), not by
//! the crates the provider uses.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sip::{s, skip, tone_windows, ulaw, wav, Server, FIX};
use crate::sip_wire::{header, invite_at, responses, CARY};

/// G.711 μ-law from a linear sample (the standard's segment encoding, 14-bit input).
fn to_ulaw(x: i16) -> u8 {
    let mut v = (x as i32) >> 2;
    let sign = if v < 0 { 0x80 } else { 0 };
    if v < 0 {
        v = -v;
    }
    v = (v + 33).min(8191);
    let seg = (0..8).find(|&k| v < (64 << k)).unwrap_or(7);
    let mant = (v >> (seg + 1)) & 15;
    !(sign | (seg << 4) | mant) as u8
}

/// A stream of 20 ms RTP packets of a `hz` tone (PCMU) from `sock` to every address in `to`,
/// until `stop`. Returns the packets sent.
fn rtp_stream(
    sock: UdpSocket,
    to: Vec<SocketAddr>,
    hz: f64,
    stop: Arc<AtomicBool>,
) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let (mut seq, mut ts, mut sent) = (7u16, 1000u32, 0u64);
        let ssrc = 0x5eed_0000u32 + hz as u32;
        let t0 = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&ts.to_be_bytes());
            p[8..12].copy_from_slice(&ssrc.to_be_bytes());
            for _ in 0..160 {
                let v = 8000.0 * (2.0 * std::f64::consts::PI * hz * n as f64 / 8000.0).sin();
                p.push(to_ulaw(v as i16));
                n += 1;
            }
            for a in &to {
                if sock.send_to(&p, a).is_ok() {
                    sent += 1;
                }
            }
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
            let next = t0 + Duration::from_millis(20 * (seq.wrapping_sub(7) as u64));
            if let Some(d) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
        sent
    })
}

/// Count what a socket receives until `stop`; keep the μ-law payloads.
fn rtp_sink(sock: UdpSocket, stop: Arc<AtomicBool>, got: Arc<AtomicU64>) -> JoinHandle<Vec<f64>> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut pcm = Vec::new();
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::SeqCst) {
            if let Ok(n) = sock.recv(&mut buf) {
                got.fetch_add(1, Ordering::SeqCst);
                if n > 12 {
                    pcm.extend(buf[12..n].iter().map(|&c| ulaw(c)));
                }
            }
        }
        pcm
    })
}

const RANGE: (u16, u16) = (30_000, 30_100);

fn every_rtp_port(ip: &str) -> Vec<SocketAddr> {
    (RANGE.0..RANGE.1)
        .step_by(2)
        .map(|p| format!("{ip}:{p}").parse().unwrap())
        .collect()
}

/// The attacker: 127.0.0.2 spraying a 2 kHz tone at every RTP port; what it receives back.
struct Attacker {
    stop: Arc<AtomicBool>,
    sender: JoinHandle<u64>,
    sink: JoinHandle<Vec<f64>>,
    heard: Arc<AtomicU64>,
}

impl Attacker {
    fn start(port: u16) -> Attacker {
        let stop = Arc::new(AtomicBool::new(false));
        let sock = UdpSocket::bind(("127.0.0.2", port)).expect("127.0.0.2 is local");
        let heard = Arc::new(AtomicU64::new(0));
        let sink = rtp_sink(sock.try_clone().unwrap(), stop.clone(), heard.clone());
        let sender = rtp_stream(sock, every_rtp_port("127.0.0.1"), 2000.0, stop.clone());
        Attacker {
            stop,
            sender,
            sink,
            heard,
        }
    }

    /// (packets sent, packets it received back).
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        let sent = self.sender.join().unwrap();
        let _ = self.sink.join();
        (sent, self.heard.load(Ordering::SeqCst))
    }
}

fn rtp_ports_arg() -> String {
    format!("{}-{}", RANGE.0, RANGE.1 - 1)
}

#[test]
fn sip_a_strangers_rtp_never_reaches_a_psap_when_callers_send_from_their_sdp_address() {
    if skip() {
        return;
    }
    let srv = Server::start_load_office(29060, &["--wav", "--rtp-ports", &rtp_ports_arg()]);
    let attacker = Attacker::start(29090);
    std::thread::sleep(Duration::from_millis(300));
    // 20 calls, 10 a second, each streaming the 1004 Hz tone for 3 s after its answer.
    let o = std::process::Command::new("timeout")
        .arg("90")
        .arg("sipp")
        .args(["-sf", "pidf-call.xml", "-inf", "valid.csv", "-nostdin"])
        .args(["-m", "20", "-r", "10", "-l", "20", "-d", "3000"])
        .args(["-p", "29070", "-mp", "29200", "-i", "127.0.0.1"])
        .arg("127.0.0.1:29060")
        .current_dir(FIX)
        .output()
        .expect("sipp runs");
    assert!(
        o.status.success(),
        "sipp: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (sprayed, heard) = attacker.stop();
    let out = srv.out.clone();
    let recs = srv.stop();
    assert_eq!(recs.len(), 20);
    let mut dropped = 0;
    for r in &recs {
        assert_eq!(s(r, "psap"), "CARYPOLICE", "{r:#}");
        let n = r["media"]["dropped_sources"].as_u64().unwrap();
        assert!(n > 0, "the record counts the stranger's packets: {r:#}");
        dropped += n;
        let leg = wav(&out.join(format!("call-{}-psap.wav", r["call"])));
        let (caller, _) = tone_windows(&leg, 1004.0);
        let (stranger, _) = tone_windows(&leg, 2000.0);
        assert!(
            caller >= 10,
            "call {}: the caller heard for {caller} × 100 ms",
            r["call"]
        );
        assert_eq!(
            stranger, 0,
            "call {}: the stranger heard for {stranger} × 100 ms",
            r["call"]
        );
    }
    eprintln!("stranger: {sprayed} packets sprayed, {dropped} dropped by the calls, {heard} received back");
    assert_eq!(heard, 0, "the stranger received RTP");
}

#[test]
fn sip_a_caller_behind_nat_is_learned_and_a_stranger_on_another_ip_is_not() {
    if skip() {
        return;
    }
    let port = 29360;
    let srv = Server::start(port, &["--wav", "--rtp-ports", &rtp_ports_arg()]);
    let attacker = Attacker::start(29390);
    std::thread::sleep(Duration::from_millis(300));
    // The caller's SIP socket (29370); its SDP names 29371, from which nothing is ever sent;
    // its RTP comes from 29373 (what a NAT does to a phone's media).
    let sip = UdpSocket::bind(("127.0.0.1", 29370)).unwrap();
    sip.connect(("127.0.0.1", port)).unwrap();
    let _silent_sdp_port = UdpSocket::bind(("127.0.0.1", 29371)).unwrap();
    let media = UdpSocket::bind(("127.0.0.1", 29373)).unwrap();
    sip.send(&invite_at(port, 29370, "nat", b"Desk", 0, CARY, ""))
        .unwrap();
    let r = responses(&sip, Duration::from_secs(15));
    let ok = r.last().cloned().unwrap_or_default();
    assert!(ok.starts_with("SIP/2.0 200"), "{r:?}");
    let (to, from) = (header(&ok, "To"), header(&ok, "From"));
    let ack = format!("ACK sip:911@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:29370;branch=z9hG4bK-nat-ack\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: nat\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    sip.send(ack.as_bytes()).unwrap();
    // Our RTP port, from the answer.
    let m = ok
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .expect("an SDP answer");
    let rtp_port: u16 = m.split_whitespace().nth(1).unwrap().parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let back = Arc::new(AtomicU64::new(0));
    let sink = rtp_sink(media.try_clone().unwrap(), stop.clone(), back.clone());
    let caller = rtp_stream(
        media,
        vec![format!("127.0.0.1:{rtp_port}").parse().unwrap()],
        1004.0,
        stop.clone(),
    );
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    caller.join().unwrap();
    let pcm = sink.join().unwrap();
    let bye = format!("BYE sip:911@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:29370;branch=z9hG4bK-nat-bye\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: nat\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    sip.send(bye.as_bytes()).unwrap();
    let _ = responses(&sip, Duration::from_secs(3));
    let (_, heard) = attacker.stop();
    let out = srv.out.clone();
    let recs = srv.stop();
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(
        s(&r["media"], "source"),
        "127.0.0.1:29373",
        "learned: {r:#}"
    );
    assert!(r["media"]["dropped_sources"].as_u64().unwrap() > 0, "{r:#}");
    let leg = wav(&out.join("call-1-psap.wav"));
    let (c, _) = tone_windows(&leg, 1004.0);
    let (x, _) = tone_windows(&leg, 2000.0);
    assert!(c >= 10, "the caller heard for {c} × 100 ms");
    assert_eq!(x, 0, "the stranger heard for {x} × 100 ms");
    // The PSAP's voice (440 Hz) went back to where the caller sends from; none to the stranger.
    let (v, _) = tone_windows(&pcm, 440.0);
    assert!(
        v >= 5,
        "the caller heard the PSAP for {v} × 100 ms ({} packets)",
        back.load(Ordering::SeqCst)
    );
    assert_eq!(heard, 0, "the stranger received RTP");
}
