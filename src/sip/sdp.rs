//! SDP offer/answer for a call's audio (RFC 3264, the `sdp` crate reads it): the caller's
//! address, one G.711 codec, RFC 4733 telephone-event when offered, and the stream's direction —
//! a hold (`sendonly`, `inactive`) is answered as RFC 3264 §6.1 says (`recvonly`, `inactive`),
//! and a resume (`sendrecv`) likewise.

use std::net::{IpAddr, SocketAddr};

use crate::dsp::g711::Law;

/// An audio stream's direction, from the side that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Sendrecv,
    Sendonly,
    Recvonly,
    Inactive,
}

impl Direction {
    /// The answer's direction to an offer of `self` (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::Sendrecv => Direction::Sendrecv,
            Direction::Sendonly => Direction::Recvonly,
            Direction::Recvonly => Direction::Sendonly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// May the writer's peer send to the writer?
    pub fn receives(self) -> bool {
        matches!(self, Direction::Sendrecv | Direction::Recvonly)
    }

    fn attr(self) -> &'static str {
        match self {
            Direction::Sendrecv => "sendrecv",
            Direction::Sendonly => "sendonly",
            Direction::Recvonly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// What the caller's SDP offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Where to send RTP (port 0: the stream is disabled, RFC 3264 §8.2).
    pub remote: SocketAddr,
    /// The payload type chosen (0 PCMU or 8 PCMA, the offer's first of the two).
    pub pt: u8,
    pub law: Law,
    /// RFC 4733 telephone-event's payload type, when offered at 8 kHz.
    pub te: Option<u8>,
    pub direction: Direction,
    /// Every `m=` line of the offer, in order: the answer has as many (RFC 3264 §6), the ones
    /// not taken with port 0.
    pub lines: Vec<MLine>,
    /// Which of `lines` is the audio taken.
    pub taken: usize,
}

/// An offered `m=` line: media, transport and its first format (what a rejection repeats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MLine {
    pub media: String,
    pub proto: String,
    pub format: String,
}

/// Read an SDP offer: the audio stream taken — the first with a port and a G.711 payload, else
/// the first audio stream — its address, first G.711 payload type, telephone-event and direction
/// (the media's, else the session's; `c=0.0.0.0` is an old hold, RFC 3264 §8.4).
pub fn read_offer(sdp: &str) -> Result<Offer, String> {
    let mut cur = std::io::Cursor::new(sdp.as_bytes());
    let d = sdp::SessionDescription::unmarshal(&mut cur).map_err(|e| format!("SDP: {e}"))?;
    let g711 =
        |m: &sdp::MediaDescription| m.media_name.formats.iter().any(|f| f == "0" || f == "8");
    // Plain RTP/AVP audio only: an SRTP (RTP/SAVP) or feedback (RTP/AVPF) line is rejected,
    // never answered as if it were plain (the PSAP would hear ciphertext as G.711).
    let audio = |m: &&sdp::MediaDescription| {
        m.media_name.media == "audio" && m.media_name.protos.join("/") == "RTP/AVP"
    };
    let ms = &d.media_descriptions;
    let taken = ms
        .iter()
        .position(|m| audio(&m) && m.media_name.port.value != 0 && g711(m))
        .or_else(|| ms.iter().position(|m| audio(&m)))
        .ok_or("SDP: no RTP/AVP audio stream (SRTP is not offered by this provider)")?;
    let m = &ms[taken];
    let lines = ms
        .iter()
        .map(|m| MLine {
            media: m.media_name.media.clone(),
            proto: m.media_name.protos.join("/"),
            format: m
                .media_name
                .formats
                .first()
                .cloned()
                .unwrap_or_else(|| "0".into()),
        })
        .collect();
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
    let te = m
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| a.value.as_deref())
        .find_map(|v| {
            let (n, enc) = v.split_once(' ')?;
            let n: u8 = n.trim().parse().ok()?;
            let listed = m.media_name.formats.iter().any(|f| f == &n.to_string());
            (listed && enc.trim().eq_ignore_ascii_case("telephone-event/8000")).then_some(n)
        });
    let dir_of = |attrs: &[sdp::description::common::Attribute]| {
        attrs.iter().find_map(|a| match a.key.as_str() {
            "sendrecv" => Some(Direction::Sendrecv),
            "sendonly" => Some(Direction::Sendonly),
            "recvonly" => Some(Direction::Recvonly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        })
    };
    let mut direction = dir_of(&m.attributes)
        .or_else(|| dir_of(&d.attributes))
        .unwrap_or_default();
    // A stream turned off (port 0) carries nothing either way; c=0.0.0.0 is the old hold.
    if port == 0 {
        direction = Direction::Inactive;
    } else if ip.is_unspecified() {
        direction = match direction {
            Direction::Sendrecv | Direction::Sendonly => Direction::Sendonly,
            _ => Direction::Inactive,
        };
    }
    Ok(Offer {
        remote: SocketAddr::new(ip, port),
        pt,
        law: if pt == 0 { Law::Ulaw } else { Law::Alaw },
        te,
        direction,
        lines,
        taken,
    })
}

/// Our SDP answer to `offer`: the audio stream taken at `ip:port`, the offer's G.711 payload, its
/// telephone-event (with every event 0–15) when it had one, and the direction RFC 3264 gives;
/// every other `m=` line of the offer rejected with port 0, in its place (RFC 3264 §6), and the
/// audio too when it was offered with port 0 (§8.2: a stream turned off stays off). `version`
/// goes up by one with each new answer in the dialog (RFC 3264 §8).
pub fn answer(ip: IpAddr, port: u16, offer: &Offer, session: u64, version: u64) -> String {
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let (pt, name) = (offer.pt, if offer.pt == 0 { "PCMU" } else { "PCMA" });
    let (fmts, te) = match offer.te {
        Some(t) => (
            format!("{pt} {t}"),
            format!("a=rtpmap:{t} telephone-event/8000\r\na=fmtp:{t} 0-15\r\n"),
        ),
        None => (pt.to_string(), String::new()),
    };
    let port = if offer.remote.port() == 0 { 0 } else { port };
    let mut out = format!(
        "v=0\r\no=e911 {session} {version} IN {fam} {ip}\r\ns=e911 provider\r\nc=IN {fam} {ip}\r\nt=0 0\r\n"
    );
    for (i, l) in offer.lines.iter().enumerate() {
        if i == offer.taken {
            out += &format!(
                "m=audio {port} RTP/AVP {fmts}\r\na=rtpmap:{pt} {name}/8000\r\n{te}a=ptime:20\r\na={}\r\n",
                offer.direction.answer().attr()
            );
        } else {
            out += &format!("m={} 0 {} {}\r\n", l.media, l.proto, l.format);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn reads_sipp_offer() {
        let o = read_offer(SIPP).unwrap();
        assert_eq!(o.remote, "127.0.0.1:6000".parse().unwrap());
        assert_eq!((o.pt, o.law, o.te), (8, Law::Alaw, None));
        assert_eq!(o.direction, Direction::Sendrecv);
        let e = read_offer(&SIPP.replace("8 0", "18")).unwrap_err();
        assert!(e.contains("no G.711"), "{e}");
        assert!(read_offer("garbage").is_err());
        // Our answer reads back.
        let a = answer("127.0.0.1".parse().unwrap(), 7000, &o, 1, 1);
        assert_eq!(read_offer(&a).unwrap().remote.port(), 7000);
    }

    /// A phone's offer (baresip's shape): several codecs, telephone-event at 101.
    #[test]
    fn telephone_event_is_answered_with_its_payload_type() {
        let phone = "v=0\r\no=- 1 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9 0 8 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";
        let o = read_offer(phone).unwrap();
        assert_eq!((o.pt, o.te), (0, Some(101)));
        let a = answer("192.0.2.1".parse().unwrap(), 7000, &o, 5, 1);
        assert!(a.contains("m=audio 7000 RTP/AVP 0 101\r\n"), "{a}");
        assert!(
            a.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"),
            "{a}"
        );
        assert_eq!(read_offer(&a).unwrap().te, Some(101));
    }

    /// RFC 3264 §6: as many `m=` lines as offered, the ones not taken at port 0; §8.2: audio
    /// offered at port 0 stays off.
    #[test]
    fn every_offered_stream_is_answered_in_its_place() {
        let two = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let o = read_offer(two).unwrap();
        assert_eq!((o.taken, o.remote.port()), (1, 4000));
        let a = answer("192.0.2.1".parse().unwrap(), 7000, &o, 1, 1);
        let ms: Vec<&str> = a.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            ms,
            ["m=video 0 RTP/AVP 96", "m=audio 7000 RTP/AVP 0"],
            "{a}"
        );
        // Two audio streams, the first turned off: the second is taken.
        let off_first = two.replace(
            "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000",
            "m=audio 0 RTP/AVP 0",
        );
        let o = read_offer(&off_first).unwrap();
        assert_eq!((o.taken, o.remote.port()), (1, 4000));
        let a = answer("192.0.2.1".parse().unwrap(), 7000, &o, 1, 1);
        assert!(
            a.contains("m=audio 0 RTP/AVP 0\r\nm=audio 7000 RTP/AVP 0\r\n"),
            "{a}"
        );
        // Best-effort SRTP: an RTP/SAVP line, then the same audio as RTP/AVP: the plain one is
        // taken, the SAVP one rejected in its place.
        let srtp = two.replace(
            "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000",
            "m=audio 4002 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x",
        );
        let o = read_offer(&srtp).unwrap();
        assert_eq!((o.taken, o.remote.port()), (1, 4000));
        let a = answer("192.0.2.1".parse().unwrap(), 7000, &o, 1, 1);
        assert!(
            a.contains("m=audio 0 RTP/SAVP 0\r\nm=audio 7000 RTP/AVP 0\r\n"),
            "{a}"
        );
        let only_srtp = SIPP.replace("RTP/AVP", "RTP/SAVP");
        assert!(read_offer(&only_srtp).unwrap_err().contains("RTP/AVP"));
        // The only audio offered at port 0: answered at port 0, not a live port, and nothing
        // is expected from it (no RTP timeout).
        let off = SIPP.replace("m=audio 6000", "m=audio 0");
        let o = read_offer(&off).unwrap();
        assert_eq!(o.direction, Direction::Inactive);
        let a = answer("127.0.0.1".parse().unwrap(), 7000, &o, 1, 1);
        assert!(a.contains("m=audio 0 RTP/AVP 8\r\n"), "{a}");
        assert!(!a.contains("7000"), "{a}");
    }

    /// RFC 3264 §6.1 and §8.4: a hold is answered in kind, a resume too.
    #[test]
    fn hold_and_resume_are_answered_per_rfc_3264() {
        for (offer, want) in [
            ("a=sendonly", "a=recvonly"),
            ("a=inactive", "a=inactive"),
            ("a=recvonly", "a=sendonly"),
            ("a=sendrecv", "a=sendrecv"),
        ] {
            let o = read_offer(&format!("{SIPP}{offer}\r\n")).unwrap();
            let a = answer("127.0.0.1".parse().unwrap(), 7000, &o, 1, 2);
            assert!(a.contains(&format!("{want}\r\n")), "{offer} → {a}");
            assert!(a.contains("o=e911 1 2 IN"), "{a}");
        }
        // The old hold: c=0.0.0.0.
        let o = read_offer(&SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")).unwrap();
        assert_eq!(o.direction, Direction::Sendonly);
        assert!(!o.direction.receives());
    }
}
