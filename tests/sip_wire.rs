//! `e911 sip serve` on the wire: what a real PBX sends that SIPp's scenarios cannot — a Latin-1
//! display name, INVITEs past 8 KB over UDP, another SIP version — sent from a raw UDP socket
//! here, a caller that answers the provider's responses by hand (docs/sip.md "On the wire").

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::sip::{s, skip, Server};

/// A Lync-shaped 911 INVITE: `extra` bytes of RFC 7852 additional data by value first in the
/// multipart body, then the SDP and the PIDF-LO (123 MAIN ST, CARY: ESN 123, CARYPOLICE).
/// `from_name` is put in the From header's display name as raw bytes.
fn invite(port: u16, local: u16, call_id: &str, from_name: &[u8], extra: usize) -> Vec<u8> {
    invite_at(port, local, call_id, from_name, extra, CARY, "")
}

/// 123 MAIN ST, CARY NC: ESN 123, CARYPOLICE.
pub(crate) const CARY: &str = "<ca:country>US</ca:country><ca:A1>NC</ca:A1><ca:A3>CARY</ca:A3><ca:RD>MAIN</ca:RD><ca:STS>ST</ca:STS><ca:HNO>123</ca:HNO><ca:LOC>Desk 7</ca:LOC>";

/// [`invite`] with the civic address's elements `civic` and `pidf_params` after the PIDF
/// part's content type (`;charset=…`).
pub(crate) fn invite_at(
    port: u16,
    local: u16,
    call_id: &str,
    from_name: &[u8],
    extra: usize,
    civic: &str,
    pidf_params: &str,
) -> Vec<u8> {
    let mut body = String::new();
    if extra > 0 {
        body += "--b1\r\nContent-Type: application/EmergencyCallData.ProviderInfo+xml\r\nContent-ID: <info@pbx.example>\r\n\r\n<?xml version=\"1.0\"?>\r\n<emergencyCallData.ProviderInfo xmlns=\"urn:ietf:params:xml:ns:EmergencyCallData:ProviderInfo\">\r\n";
        while body.len() < extra {
            body += "  <contactURI>sip:noc@pbx.example</contactURI><!-- padding to pass the 8 KB a UDP stack may read -->\r\n";
        }
        body += "</emergencyCallData.ProviderInfo>\r\n";
    }
    body += &format!(
        "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\r\n",
        local + 1
    );
    body += &format!("--b1\r\nContent-Type: application/pidf+xml{pidf_params}\r\nContent-ID: <loc1@pbx.example>\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:9195550188@pbx.example\"><tuple id=\"t1\"><status><gp:geopriv xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\"><gp:location-info><ca:civicAddress xmlns:ca=\"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr\">{civic}</ca:civicAddress></gp:location-info><gp:usage-rules/><gp:method>LLDP-MED</gp:method></gp:geopriv></status></tuple></presence>\r\n--b1--\r\n");
    let mut m = Vec::new();
    m.extend_from_slice(
        format!(
            "INVITE sip:911@127.0.0.1:{port};user=phone SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-{call_id}\r\nFrom: \""
        )
        .as_bytes(),
    );
    m.extend_from_slice(from_name);
    m.extend_from_slice(
        format!(
            "\" <sip:9195550188@pbx.example>;tag=t-{call_id}\r\nTo: <sip:911@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:pbx@127.0.0.1:{local}>\r\nMax-Forwards: 70\r\nP-Asserted-Identity: <sip:+19195550188@pbx.example;user=phone>\r\nGeolocation: <cid:loc1@pbx.example>\r\nContent-Type: multipart/mixed;boundary=b1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    m
}

/// Responses to a request, until a final one (or `wait` passes).
pub(crate) fn responses(sock: &UdpSocket, wait: Duration) -> Vec<String> {
    let mut got = Vec::new();
    let t = Instant::now();
    let mut buf = vec![0u8; 65_536];
    while t.elapsed() < wait {
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let fin = m
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse::<u16>().ok())
                .is_some_and(|c| c >= 200);
            got.push(m);
            if fin {
                break;
            }
        }
    }
    got
}

pub(crate) fn header<'a>(m: &'a str, name: &str) -> &'a str {
    m.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map_or("", |l| l[name.len() + 1..].trim())
}

/// Place one call from a raw socket; ACK its 200 and hang up after `hold`. The final response.
fn call(port: u16, local: u16, msg: &[u8], hold: Duration) -> String {
    let sock = UdpSocket::bind(("127.0.0.1", local)).unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    sock.send(msg).unwrap();
    let got = responses(&sock, Duration::from_secs(15));
    let last = got.last().cloned().unwrap_or_default();
    if last.starts_with("SIP/2.0 200") {
        let (to, cid) = (header(&last, "To"), header(&last, "Call-ID"));
        let from = header(&last, "From");
        let ack = format!("ACK sip:911@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-ack{local}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
        sock.send(ack.as_bytes()).unwrap();
        std::thread::sleep(hold);
        let bye = format!("BYE sip:911@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-bye{local}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
        sock.send(bye.as_bytes()).unwrap();
        let r = responses(&sock, Duration::from_secs(5));
        assert!(
            r.iter().any(|m| m.starts_with("SIP/2.0 200")),
            "BYE answered: {r:?}"
        );
    }
    last
}

#[test]
fn sip_latin1_display_name_is_one_call_routed_to_its_psap() {
    if skip() {
        return;
    }
    let srv = Server::start(28060, &[]);
    // "José" with é as the single Latin-1 byte 0xE9.
    let last = call(
        28060,
        28070,
        &invite(28060, 28070, "latin1", b"Jos\xe9", 0),
        Duration::from_millis(1500),
    );
    assert!(last.starts_with("SIP/2.0 200"), "{last}");
    let recs = srv.stop();
    assert_eq!(recs.len(), 1, "one record: {recs:#?}");
    let r = &recs[0];
    assert_eq!(s(r, "kind"), "psap", "{r:#}");
    assert_eq!(s(r, "call_id"), "latin1");
    assert_eq!(s(r, "psap"), "CARYPOLICE");
    assert_eq!(r["esn"], 123);
    assert_eq!(s(r, "callback"), "919-555-0188");
    assert_eq!(s(r, "ended_by"), "caller BYE");
}

#[test]
fn sip_udp_invites_past_8_kb_are_read_whole_and_routed_by_their_location() {
    if skip() {
        return;
    }
    let srv = Server::start(28160, &[]);
    for (k, kb) in [10usize, 16, 60].into_iter().enumerate() {
        let local = 28170 + 2 * k as u16;
        let m = invite(28160, local, &format!("big{kb}"), b"Desk", kb * 1024);
        assert!(
            m.len() > kb * 1024 && m.len() <= 65_507,
            "{} bytes",
            m.len()
        );
        let last = call(28160, local, &m, Duration::from_millis(500));
        assert!(last.starts_with("SIP/2.0 200"), "{kb} KB: {last}");
    }
    let recs = srv.stop();
    assert_eq!(recs.len(), 3, "{recs:#?}");
    for r in &recs {
        assert_eq!(s(r, "kind"), "psap", "{r:#}");
        assert_eq!(s(r, "psap"), "CARYPOLICE", "{r:#}");
        assert_eq!(r["esn"], 123);
        assert_eq!(s(r, "location_by"), "Geolocation <cid:loc1@pbx.example>");
        // The SDP after the first 8 KB was read: RTP was set up (the answer named a port).
        assert!(r["media"].is_object(), "{r:#}");
    }
}

#[test]
fn sip_505_no_via_and_bad_invites_each_get_one_record_and_stale_dialogs_481() {
    if skip() {
        return;
    }
    let srv = Server::start(28260, &[]);
    let sock = UdpSocket::bind("127.0.0.1:28270").unwrap();
    sock.connect("127.0.0.1:28260").unwrap();
    let m = String::from_utf8(invite(28260, 28270, "v3", b"Desk", 0))
        .unwrap()
        .replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1);
    sock.send(m.as_bytes()).unwrap();
    let r = responses(&sock, Duration::from_secs(5));
    let last = r.last().expect("an answer");
    assert!(last.starts_with("SIP/2.0 505"), "{last}");
    for h in ["Via", "From", "To", "Call-ID", "CSeq"] {
        assert!(!header(last, h).is_empty(), "{h} copied: {last}");
    }
    // An INVITE without a From tag is refused 400; sent 5 times (retransmissions), one record.
    let bad = String::from_utf8(invite(28260, 28270, "notag", b"Desk", 0))
        .unwrap()
        .replace(";tag=t-notag", "");
    for _ in 0..5 {
        sock.send(bad.as_bytes()).unwrap();
        let r = responses(&sock, Duration::from_secs(2));
        let last = r.last().expect("an answer");
        assert!(last.starts_with("SIP/2.0 400"), "{last}");
        assert_eq!(header(last, "Call-ID"), "notag");
        assert!(!header(last, "CSeq").is_empty(), "{last}");
    }
    // An INVITE with no Via cannot be answered (RFC 3261 §18.2.2): nothing back, but a record.
    let novia = String::from_utf8(invite(28260, 28270, "novia", b"Desk", 0)).unwrap();
    let novia = novia.replace(
        "Via: SIP/2.0/UDP 127.0.0.1:28270;branch=z9hG4bK-novia\r\n",
        "",
    );
    assert!(!novia.contains("Via:"));
    sock.send(novia.as_bytes()).unwrap();
    assert!(responses(&sock, Duration::from_secs(1)).is_empty());
    // A request inside a dialog the provider does not have — an INFO, a re-INVITE after the
    // call ended — is 481 (RFC 3261 §12.2.2), never a new call.
    let info = "INFO sip:911@127.0.0.1:28260 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:28270;branch=z9hG4bK-stale1\r\nFrom: <sip:9195550188@pbx.example>;tag=a\r\nTo: <sip:911@127.0.0.1>;tag=gone\r\nCall-ID: stale\r\nCSeq: 2 INFO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    sock.send(info.as_bytes()).unwrap();
    let r = responses(&sock, Duration::from_secs(3));
    assert!(
        r.last().is_some_and(|m| m.starts_with("SIP/2.0 481")),
        "{r:?}"
    );
    let reinvite = String::from_utf8(invite(28260, 28270, "stale2", b"Desk", 0))
        .unwrap()
        .replace(
            "To: <sip:911@127.0.0.1>\r\n",
            "To: <sip:911@127.0.0.1>;tag=gone\r\n",
        );
    sock.send(reinvite.as_bytes()).unwrap();
    let r = responses(&sock, Duration::from_secs(3));
    assert!(
        r.last().is_some_and(|m| m.starts_with("SIP/2.0 481")),
        "{r:?}"
    );
    let recs = srv.stop();
    // One record for each INVITE that was not a call: the 505, the 400 (once), the no-Via.
    let by = |id: &str| {
        recs.iter()
            .filter(|r| s(r, "call_id") == id)
            .collect::<Vec<_>>()
    };
    assert_eq!(recs.len(), 3, "{recs:#?}");
    assert_eq!(s(by("v3")[0], "kind"), "refused");
    assert_eq!(s(by("v3")[0], "ended_by"), "505 Version Not Supported");
    assert!(s(by("v3")[0], "reason").contains("SIP/3.0"), "{recs:#?}");
    assert_eq!(s(by("notag")[0], "kind"), "refused");
    assert_eq!(s(by("novia")[0], "kind"), "refused");
    assert_eq!(
        s(by("novia")[0], "ended_by"),
        "dropped (no answer possible)"
    );
    assert!(by("stale2").is_empty(), "a stale re-INVITE is not a call");
}

/// What a caller writes in a location reaches the records as text, never as structure: a
/// newline (`&#10;`) cannot forge a line of the text log, `1e400` is not house number 1, a UTF-8
/// street in a part with no charset is read by its XML declaration, not as Latin-1.
#[test]
fn sip_location_text_is_safe_and_right_in_text_and_jsonl() {
    if skip() {
        return;
    }
    let port = 28360;
    let out = std::env::temp_dir().join(format!("e911-sip-text-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let log = std::fs::File::create(out.with_extension("txt")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["sip", "serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--seconds", "60", "--format", "text", "--out"])
        .arg(&out)
        .stdout(log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let cases: [(&str, String); 3] = [
        (
            "forged",
            CARY.replace(
                "<ca:RD>MAIN</ca:RD>",
                "<ca:RD>MAIN&#10;call 77: FORGED RECORD\u{1b}[2J</ca:RD>",
            ),
        ),
        (
            "exp",
            CARY.replace("<ca:HNO>123</ca:HNO>", "<ca:HNO>1e400</ca:HNO>"),
        ),
        (
            "canon",
            CARY.replace("<ca:A3>CARY</ca:A3>", "<ca:A3>CA\u{d1}ON CITY</ca:A3>"),
        ),
    ];
    for (k, (id, civic)) in cases.iter().enumerate() {
        let local = port + 10 + 2 * k as u16;
        let m = invite_at(port, local, id, b"Desk", 0, civic, "");
        let last = call(port, local, &m, Duration::from_millis(300));
        assert!(last.starts_with("SIP/2.0 "), "{id}: {last}");
    }
    std::thread::sleep(Duration::from_millis(2500));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(out.with_extension("txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "one line per call, nothing forged: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "no raw ESC reaches the terminal: {text:?}"
    );
    assert!(
        lines[0].contains("MAIN\\nCALL 77: FORGED RECORD\\u{1b}[2J"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("1E400") && lines[1].contains("ECRC"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("CA\u{d1}ON CITY"), "{}", lines[2]);
    let recs: Vec<serde_json::Value> = std::fs::read_to_string(out.join("calls.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 3);
    // JSON keeps the text as sent (escaped by JSON itself, one line each).
    assert!(
        s(&recs[0], "address").contains("MAIN\nCALL 77"),
        "{:#}",
        recs[0]
    );
    assert_eq!(s(&recs[1], "kind"), "ecrc", "{:#}", recs[1]);
    assert!(
        s(&recs[1], "reason").contains("HOUSE NUMBER `1E400`"),
        "{:#}",
        recs[1]
    );
    assert!(recs[1]["esn"].is_null());
    assert!(
        s(&recs[2], "address").contains("CA\u{d1}ON CITY"),
        "{:#}",
        recs[2]
    );
    assert!(!s(&recs[2], "address").contains('\u{c3}'), "{:#}", recs[2]);
}
