//! A call's own SIP behaviour against a raw caller: RFC 3262 reliable provisionals (the 180
//! sent again until its PRACK) and RFC 4028 session timers (a session nobody refreshes is ended
//! by the provider). docs/sip.md "What the provider does with each request".

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::sip::{s, skip, Server};
use crate::sip_wire::{header, invite_at, CARY};

/// Every message the socket receives within `wait`, as text, with its arrival time.
fn gather(
    sock: &UdpSocket,
    wait: Duration,
    until: impl Fn(&str) -> bool,
) -> Vec<(Instant, String)> {
    let t = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while t.elapsed() < wait {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let stop = until(&m);
            got.push((Instant::now(), m));
            if stop {
                break;
            }
        }
    }
    got
}

fn is(m: &str, status: &str, cseq: &str) -> bool {
    m.starts_with(&format!("SIP/2.0 {status}")) && header(m, "CSeq") == cseq
}

#[test]
fn sip_reliable_180_until_prack_and_an_unrefreshed_session_is_ended() {
    if skip() {
        return;
    }
    let port = 28460;
    let local = 28470;
    let srv = Server::start(port, &["--session-min", "3"]);
    let sock = UdpSocket::bind(("127.0.0.1", local)).unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    let inv = String::from_utf8(invite_at(port, local, "rel1", b"Desk", 0, CARY, ""))
        .unwrap()
        .replacen(
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nRequire: 100rel\r\nSupported: timer\r\nSession-Expires: 3\r\n",
            1,
        );
    sock.send(inv.as_bytes()).unwrap();
    // The 180, reliable, and again (no PRACK yet).
    let first = gather(&sock, Duration::from_secs(10), |m| is(m, "180", "1 INVITE"));
    let ring = &first.last().expect("a 180").1;
    assert!(is(ring, "180", "1 INVITE"), "{first:?}");
    assert_eq!(header(ring, "Require"), "100rel", "{ring}");
    assert_eq!(header(ring, "RSeq"), "1", "{ring}");
    let again = gather(&sock, Duration::from_secs(2), |m| is(m, "180", "1 INVITE"));
    assert!(
        again.iter().any(|(_, m)| is(m, "180", "1 INVITE")),
        "the 180 sent again before its PRACK: {again:?}"
    );
    // PRACK it.
    let (to, from) = (header(ring, "To"), header(ring, "From"));
    let prack = format!("PRACK sip:911@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-prack1\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: rel1\r\nCSeq: 2 PRACK\r\nRAck: 1 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    sock.send(prack.as_bytes()).unwrap();
    let rest = gather(&sock, Duration::from_secs(15), |m| is(m, "200", "1 INVITE"));
    let acked = rest
        .iter()
        .find(|(_, m)| is(m, "200", "2 PRACK"))
        .expect("the PRACK answered");
    let late_180s = rest
        .iter()
        .filter(|(t, m)| is(m, "180", "1 INVITE") && *t > acked.0 + Duration::from_millis(100))
        .count();
    assert_eq!(late_180s, 0, "no 180 after its PRACK: {rest:?}");
    let ok = &rest.last().expect("the 200").1;
    assert!(is(ok, "200", "1 INVITE"), "{rest:?}");
    assert_eq!(header(ok, "Session-Expires"), "3;refresher=uac", "{ok}");
    assert!(ok.contains("Require: timer"), "{ok}");
    let ack = format!("ACK sip:911@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-ack1\r\nFrom: {from}\r\nTo: {}\r\nCall-ID: rel1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", header(ok, "To"));
    sock.send(ack.as_bytes()).unwrap();
    // No refresh: the provider ends the session after its 3 s.
    let answered = Instant::now();
    let bye = gather(&sock, Duration::from_secs(8), |m| m.starts_with("BYE "));
    let (at, b) = bye.last().expect("a BYE");
    assert!(b.starts_with("BYE "), "{bye:?}");
    let after = at.duration_since(answered);
    assert!(
        after > Duration::from_millis(2500) && after < Duration::from_millis(4500),
        "BYE {after:?} after the answer"
    );
    let resp = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: rel1\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(b, "Via"),
        header(b, "From"),
        header(b, "To"),
        header(b, "CSeq")
    );
    sock.send(resp.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let recs = srv.stop();
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(s(&recs[0], "psap"), "CARYPOLICE");
    assert_eq!(
        s(&recs[0], "ended_by"),
        "session expired (no refresh, RFC 4028)",
        "{:#}",
        recs[0]
    );
}
