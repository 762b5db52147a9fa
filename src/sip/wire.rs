//! What a SIP message is before the stack parses it: bytes off a socket. Here a message is
//! checked and repaired at the byte level so that no emergency call is refused over its
//! encoding or size (docs/sip.md "On the wire"):
//!
//! - header lines that are not UTF-8 are read as Latin-1 (ISO 8859-1, what a PBX's display name
//!   `José` is most often sent in) and passed on as UTF-8; the body is never touched (its
//!   Content-Length counts its bytes);
//! - a request in another SIP version gets `505 Version Not Supported` (RFC 3261 §8.2.2.1 …
//!   §21.5.6); a request with no Via cannot be answered (RFC 3261 §18.2.2) and is dropped,
//!   the caller told in the log with its source;
//! - a refusal written here copies Via, From, To, Call-ID and CSeq from the request, as every
//!   response must (RFC 3261 §8.2.6.2).
//!
//! No I/O: the transports (`udp.rs`) call in.

use std::borrow::Cow;

/// The header section's end: the index of the blank line's first byte and the body's start.
fn header_end(raw: &[u8]) -> Option<(usize, usize)> {
    if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((i, i + 4));
    }
    raw.windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2))
}

/// `raw` with every header line that is not UTF-8 decoded as Latin-1 (and re-encoded as UTF-8),
/// and the Content-Length left right (the body is not touched). Borrowed when nothing changed.
pub fn repair(raw: &[u8]) -> Cow<'_, [u8]> {
    let (head_len, body_at) = header_end(raw).unwrap_or((raw.len(), raw.len()));
    let head = &raw[..head_len];
    if std::str::from_utf8(head).is_ok() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + 16);
    for (k, line) in head.split(|&b| b == b'\n').enumerate() {
        if k > 0 {
            out.push(b'\n');
        }
        match std::str::from_utf8(line) {
            Ok(_) => out.extend_from_slice(line),
            Err(_) => {
                let s: String = line.iter().map(|&b| b as char).collect();
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    out.extend_from_slice(&raw[head_len..body_at]);
    out.extend_from_slice(&raw[body_at..]);
    Cow::Owned(out)
}

/// One message's header lines, as text (after [`repair`]), folded lines joined.
pub struct Head<'a> {
    pub first: &'a str,
    lines: Vec<&'a str>,
}

impl<'a> Head<'a> {
    pub fn read(text: &'a str) -> Head<'a> {
        let end = text
            .find("\r\n\r\n")
            .or_else(|| text.find("\n\n"))
            .unwrap_or(text.len());
        let mut it = text[..end].lines().map(|l| l.trim_end_matches('\r'));
        let first = it.next().unwrap_or("");
        Head {
            first,
            lines: it.collect(),
        }
    }

    /// Is this a request (not a status line)?
    pub fn is_request(&self) -> bool {
        !self.first.starts_with("SIP/") && self.first.split_whitespace().count() == 3
    }

    /// The request's method.
    pub fn method(&self) -> &'a str {
        self.first.split_whitespace().next().unwrap_or("")
    }

    /// The Request-URI.
    pub fn uri(&self) -> &'a str {
        self.first.split_whitespace().nth(1).unwrap_or("")
    }

    /// The request line's SIP version (`SIP/2.0`).
    pub fn version(&self) -> &'a str {
        self.first.split_whitespace().nth(2).unwrap_or("")
    }

    /// Every header line named `long` or its compact form `short`.
    pub fn all(&self, long: &str, short: &str) -> Vec<&'a str> {
        self.lines
            .iter()
            .copied()
            .filter(|l| {
                let name = l.split(':').next().unwrap_or("").trim();
                name.eq_ignore_ascii_case(long) || (!short.is_empty() && name == short)
            })
            .collect()
    }

    /// The first header's value.
    pub fn value(&self, long: &str, short: &str) -> Option<&'a str> {
        self.all(long, short)
            .first()
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim())
    }
}

/// What to do with a message before the stack parses it.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// Hand it to the stack.
    Pass,
    /// Answer it with this (a whole response, ready to send back) and go no further.
    Answer(String, &'static str),
    /// Drop it, logging why (nothing can be answered).
    Drop(String),
}

/// Check one message (after [`repair`]).
pub fn gate(text: &str) -> Gate {
    let h = Head::read(text);
    if !h.is_request() {
        if h.first.starts_with("SIP/2.0 ") {
            return Gate::Pass;
        }
        return Gate::Drop(format!(
            "not a SIP/2.0 request or response: `{}`",
            crate::text::one_line(h.first)
        ));
    }
    if h.all("Via", "v").is_empty() {
        return Gate::Drop(format!(
            "a {} with no Via (nowhere to answer it)",
            crate::text::one_line(h.method())
        ));
    }
    let v = h.version();
    if !v.eq_ignore_ascii_case("SIP/2.0") {
        if h.method() == "ACK" {
            return Gate::Drop(format!("an ACK in {}", crate::text::one_line(v)));
        }
        return Gate::Answer(
            refusal(
                &h,
                "505 Version Not Supported",
                &format!("only SIP/2.0, not {v}"),
            ),
            "505",
        );
    }
    Gate::Pass
}

/// A datagram's body against its Content-Length (RFC 3261 §18.3): a longer body is cut to it
/// (`Ok` with the length to keep), a shorter one, or a Content-Length that does not read, is an
/// error for a `400`. No Content-Length: the datagram's end is the body's.
pub fn datagram_length(raw: &[u8], h: &Head) -> Result<usize, String> {
    let Some((_, body_at)) = header_end(raw) else {
        return Ok(raw.len());
    };
    let Some(v) = h.value("Content-Length", "l") else {
        return Ok(raw.len());
    };
    let n: usize = v.trim().parse().map_err(|_| {
        format!(
            "Content-Length `{}` is not a number",
            crate::text::one_line(v)
        )
    })?;
    let have = raw.len() - body_at;
    if have < n {
        return Err(format!("Content-Length {n} but {have} bytes of body"));
    }
    Ok(body_at + n)
}

/// A whole response to the request `h`: its Via, From, To (with a tag), Call-ID and CSeq as they
/// came, a Warning with `why`.
pub fn refusal(h: &Head, status: &str, why: &str) -> String {
    let mut r = format!("SIP/2.0 {status}\r\n");
    for l in h.all("Via", "v") {
        r += l;
        r += "\r\n";
    }
    for (long, short) in [("From", "f"), ("To", "t"), ("Call-ID", "i"), ("CSeq", "")] {
        for l in h.all(long, short) {
            r += l;
            if long == "To" && !l.to_ascii_lowercase().contains(";tag=") {
                r += ";tag=e911";
            }
            r += "\r\n";
        }
    }
    r += &format!(
        "Warning: 399 e911 \"{}\"\r\nContent-Length: 0\r\n\r\n",
        crate::text::one_line(why).replace('"', "'")
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:911@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: \"Jos\u{e9}\" <sip:1@x>;tag=a\r\nTo: <sip:911@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\n\u{e9}\u{e9}";

    #[test]
    fn latin1_header_lines_become_utf8_and_the_body_is_untouched() {
        // The header's é as one Latin-1 byte; the body as UTF-8 bytes (4 of them).
        let mut raw = Vec::new();
        let (head, body) = INVITE.split_once("\r\n\r\n").unwrap();
        raw.extend(head.chars().map(|c| c as u32 as u8));
        raw.extend_from_slice(b"\r\n\r\n");
        raw.extend_from_slice(body.as_bytes());
        assert!(std::str::from_utf8(&raw).is_err());
        let fixed = repair(&raw);
        let text = std::str::from_utf8(&fixed).unwrap();
        assert!(
            text.contains("From: \"José\" <sip:1@x>;tag=a\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\néé"));
        assert_eq!(gate(text), Gate::Pass);
        // UTF-8 already: unchanged, borrowed.
        assert!(matches!(repair(INVITE.as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn another_version_gets_505_with_the_requests_headers() {
        let t = INVITE.replace("sip:911@x SIP/2.0", "sip:911@x SIP/3.0");
        let Gate::Answer(r, code) = gate(&t) else {
            panic!("{:?}", gate(&t))
        };
        assert_eq!(code, "505");
        assert!(
            r.starts_with("SIP/2.0 505 Version Not Supported\r\n"),
            "{r}"
        );
        for want in [
            "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n",
            "From: \"José\" <sip:1@x>;tag=a\r\n",
            "To: <sip:911@x>;tag=e911\r\n",
            "Call-ID: c1\r\n",
            "CSeq: 1 INVITE\r\n",
        ] {
            assert!(r.contains(want), "{want} not in {r}");
        }
    }

    #[test]
    fn a_datagram_is_cut_to_its_content_length_and_a_short_one_refused() {
        let t = INVITE.replace("\u{e9}\u{e9}", "abcd");
        let h = Head::read(&t);
        assert_eq!(datagram_length(t.as_bytes(), &h), Ok(t.len()));
        let long = format!("{t}xyz");
        assert_eq!(
            datagram_length(long.as_bytes(), &Head::read(&long)),
            Ok(t.len())
        );
        let short = &t[..t.len() - 1];
        let e = datagram_length(short.as_bytes(), &Head::read(short)).unwrap_err();
        assert!(e.contains("Content-Length 4 but 3"), "{e}");
    }

    #[test]
    fn no_via_is_dropped_with_the_reason() {
        let t = INVITE.replace("Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n", "");
        assert!(matches!(gate(&t), Gate::Drop(w) if w.contains("no Via")));
        // Compact form counts.
        let t = INVITE.replace("Via:", "v:");
        assert_eq!(gate(&t), Gate::Pass);
        assert_eq!(gate("SIP/2.0 200 OK\r\n\r\n"), Gate::Pass);
    }
}
