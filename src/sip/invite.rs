//! What an emergency INVITE says, read the way a SIP-trunk E9-1-1 provider reads it (docs/sip.md):
//! the number dialled (`911`, `+911`, `urn:service:sos`, or the `933` test), the callback number
//! (P-Asserted-Identity, else From), the SDP offer and the caller's location.
//!
//! Location: a `multipart/mixed` body (nested too) carries the SDP and an `application/pidf+xml`
//! part; the `Geolocation: <cid:…>` header names the PIDF part by its Content-ID. A Lync server
//! uses the *last* PIDF part and ignores the header, so that is the fallback. A Geolocation that
//! points elsewhere (a HELD or HTTPS URI) is a location by reference: recorded, and treated as
//! unvalidated (the provider cannot dereference it). MIME is parsed by `mailparse`. No I/O.

use crate::location::pidf::PidfLo;

/// What the caller dialled (the Request-URI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialled {
    /// `911`, `+911`, `1911` or `urn:service:sos` (and its sub-services, `urn:service:sos.fire`).
    Emergency(String),
    /// `933`: the carrier's test call, answered by the provider itself.
    Test(String),
    /// Anything else: not for this trunk.
    Other(String),
}

/// The user part of a SIP/tel URI (`sip:+911@host;user=phone` → `+911`, `sip:911;phone-context=…`
/// → `911`, `tel:911` → `911`), or the whole URN.
pub fn uri_user(uri: &str) -> String {
    let u = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("urn:") {
        return lower;
    }
    let rest = match u.split_once(':') {
        Some((_, r)) => r,
        None => u,
    };
    let user = match rest.split_once('@') {
        Some((a, _)) => a,
        None => rest,
    };
    user.split(';').next().unwrap_or("").to_string()
}

/// Classify a Request-URI.
pub fn dialled(uri: &str) -> Dialled {
    let user = uri_user(uri);
    if user == "urn:service:sos" || user.starts_with("urn:service:sos.") {
        return Dialled::Emergency(user);
    }
    let digits: String = user.chars().filter(|c| !matches!(c, '-' | '.')).collect();
    match digits.as_str() {
        "911" | "+911" | "1911" | "+1911" | "112" | "+112" => Dialled::Emergency(user),
        "933" | "+933" | "1933" | "+1933" => Dialled::Test(user),
        _ => Dialled::Other(user),
    }
}

/// A 10-digit NANP number from a URI or header value (`sip:+19195551234@…`, `<tel:919-555-1234>`).
pub fn tn10_of(value: &str) -> Option<u64> {
    let v = value.trim();
    // The URI inside angle brackets, if any (a display name may hold digits too).
    let uri = match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if b > a => &v[a + 1..b],
        _ => v,
    };
    let user = uri_user(uri);
    let d: String = user.chars().filter(|c| c.is_ascii_digit()).collect();
    let d = match d.len() {
        11 if d.starts_with('1') => d[1..].to_string(),
        10 => d,
        _ => return None,
    };
    d.parse().ok()
}

/// Where the caller is, as the INVITE tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum Located {
    /// A PIDF-LO by value (which part: `cid:…` or `last PIDF part`).
    ByValue { doc: PidfLo, found_by: String },
    /// A PIDF part that does not parse.
    Garbled(String),
    /// Only a reference (HELD/HTTPS URI) the provider cannot dereference.
    ByReference(String),
    /// No location at all.
    None,
}

/// The parts of an emergency INVITE the provider acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    pub dialled: Dialled,
    /// The callback number (P-Asserted-Identity, else From), when it is a 10-digit number.
    pub callback: Option<u64>,
    /// The header it came from, as sent.
    pub callback_from: String,
    /// The SDP offer, if the body had one.
    pub sdp: Option<String>,
    pub location: Located,
    /// Every Geolocation reference, as sent (`cid:…`, `https://…`).
    pub geolocation: Vec<String>,
    /// What was odd about the body (kept in the record).
    pub notes: Vec<String>,
}

/// One leaf of a MIME body.
struct Part {
    ctype: String,
    cid: Option<String>,
    body: String,
}

fn leaves(m: &mailparse::ParsedMail<'_>, out: &mut Vec<Part>, notes: &mut Vec<String>) {
    if m.subparts.is_empty() {
        let ctype = m.ctype.mimetype.to_ascii_lowercase();
        let cid = m
            .headers
            .iter()
            .find(|h| h.get_key_ref().eq_ignore_ascii_case("content-id"))
            .map(|h| {
                h.get_value()
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            });
        match m.get_body_raw() {
            Ok(raw) => {
                let body = decode_text(&raw, m.ctype.params.get("charset").map(|s| s.as_str()));
                out.push(Part { ctype, cid, body })
            }
            Err(e) => notes.push(format!("a {ctype} part could not be read: {e}")),
        }
    } else {
        for s in &m.subparts {
            leaves(s, out, notes);
        }
    }
}

/// A body part's text: decoded by the charset its Content-Type declares, else by the encoding
/// its XML declaration names, else as UTF-8 (RFC 3261 §7.4.1 leaves the body's charset to its
/// type; RFC 7303 gives the declaration's when the type is silent). Never decoded twice: a UTF-8
/// street (`CAÑON CITY`) comes out as it was sent.
pub fn decode_text(raw: &[u8], declared: Option<&str>) -> String {
    let label = declared
        .map(|d| d.trim().trim_matches('"').to_string())
        .or_else(|| {
            // <?xml version="1.0" encoding="ISO-8859-1"?>
            let head = &raw[..raw.len().min(200)];
            let head = String::from_utf8_lossy(head);
            let decl = head.trim_start().strip_prefix("<?xml")?;
            let decl = &decl[..decl.find("?>")?];
            let at = decl.find("encoding")?;
            let rest = decl[at + 8..].trim_start().strip_prefix('=')?.trim_start();
            let q = rest.chars().next().filter(|&c| c == '"' || c == '\'')?;
            let rest = &rest[1..];
            Some(rest[..rest.find(q)?].to_string())
        });
    match label.and_then(|l| charset::Charset::for_label(l.as_bytes())) {
        Some(cs) => cs.decode_without_bom_handling(raw).0.into_owned(),
        None => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// Geolocation header values → the references inside `<…>`.
fn references(values: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for h in values {
        let mut rest = *h;
        while let Some(a) = rest.find('<') {
            let Some(b) = rest[a..].find('>') else { break };
            v.push(rest[a + 1..a + b].trim().to_string());
            rest = &rest[a + b + 1..];
        }
    }
    v
}

/// Read an INVITE: its Request-URI, its headers (name, value) in order, and its body.
pub fn read(uri: &str, headers: &[(String, String)], body: &[u8]) -> Invite {
    let get_all = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let mut notes = Vec::new();
    // Callback: P-Asserted-Identity (first that is a TN), else From.
    let (callback, callback_from) = get_all("P-Asserted-Identity")
        .into_iter()
        .flat_map(|v| v.split(','))
        .chain(get_all("From"))
        .find_map(|v| tn10_of(v).map(|n| (Some(n), v.trim().to_string())))
        .unwrap_or_else(|| {
            (
                None,
                get_all("From")
                    .first()
                    .map_or(String::new(), |s| s.to_string()),
            )
        });
    let geolocation = references(&get_all("Geolocation"));
    let ctype = get_all("Content-Type")
        .first()
        .map_or(String::new(), |s| s.trim().to_string());
    let lower = ctype.to_ascii_lowercase();
    let mut parts = Vec::new();
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        // No body: no offer, no location.
    } else if lower.starts_with("multipart/") {
        if !lower.contains("boundary=") {
            notes.push("multipart body without a boundary".into());
        } else {
            let mut raw = format!("Content-Type: {ctype}\r\n\r\n").into_bytes();
            raw.extend_from_slice(body);
            match mailparse::parse_mail(&raw) {
                Ok(m) => leaves(&m, &mut parts, &mut notes),
                Err(e) => notes.push(format!("multipart body: {e}")),
            }
            if parts.is_empty() {
                notes.push("multipart body with no parts".into());
            }
        }
    } else {
        let declared = ctype
            .split(';')
            .skip(1)
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.trim().to_string());
        parts.push(Part {
            ctype: lower.split(';').next().unwrap_or("").trim().to_string(),
            cid: None,
            body: decode_text(body, declared.as_deref()),
        });
    }
    let sdp = parts
        .iter()
        .find(|p| p.ctype == "application/sdp")
        .map(|p| p.body.clone());
    let pidfs: Vec<&Part> = parts
        .iter()
        .filter(|p| p.ctype == "application/pidf+xml")
        .collect();
    // The part the Geolocation header names; else the last PIDF part (as Lync does).
    let mut chosen: Option<(&Part, String)> = None;
    for r in &geolocation {
        if let Some(cid) = r.strip_prefix("cid:") {
            match pidfs.iter().find(|p| p.cid.as_deref() == Some(cid)) {
                Some(p) => {
                    chosen = Some((p, format!("Geolocation <cid:{cid}>")));
                    break;
                }
                None => notes.push(format!(
                    "Geolocation <cid:{cid}> names no PIDF-LO part of the body"
                )),
            }
        }
    }
    if chosen.is_none() {
        if let Some(p) = pidfs.last() {
            chosen = Some((p, "the last PIDF-LO part".into()));
        }
    }
    let location = match chosen {
        Some((p, found_by)) => match PidfLo::parse(&p.body) {
            Ok(doc) if doc.has_location() => Located::ByValue { doc, found_by },
            Ok(_) => Located::Garbled(format!("{found_by}: no civic address in the PIDF-LO")),
            Err(e) => Located::Garbled(format!("{found_by}: {e}")),
        },
        None => match geolocation.iter().find(|r| !r.starts_with("cid:")) {
            Some(r) => Located::ByReference(r.clone()),
            None => Located::None,
        },
    };
    Invite {
        dialled: dialled(uri),
        callback,
        callback_from,
        sdp,
        location,
        geolocation,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_text_is_decoded_by_its_declared_charset_else_its_xml_declaration_else_utf8() {
        let utf8 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>CAÑON CITY</a>";
        // No charset: the declaration's UTF-8 (not mailparse's us-ascii → Latin-1).
        assert_eq!(decode_text(utf8.as_bytes(), None), utf8);
        // Latin-1 bytes, declared in the Content-Type.
        let latin1: Vec<u8> = "<a>CAÑON</a>".chars().map(|c| c as u32 as u8).collect();
        assert_eq!(decode_text(&latin1, Some("ISO-8859-1")), "<a>CAÑON</a>");
        // …or in the XML declaration.
        let mut decl = b"<?xml version='1.0' encoding='iso-8859-1'?>".to_vec();
        decl.extend_from_slice(&latin1);
        assert!(decode_text(&decl, None).ends_with("<a>CAÑON</a>"));
        // Nothing said and not UTF-8: replaced, never a panic.
        assert_eq!(decode_text(&latin1, None), "<a>CA\u{fffd}ON</a>");
    }

    fn h(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const PIDF: &str = r#"<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple id="t"><status><gp:geopriv xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"><gp:location-info><ca:civicAddress xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"><ca:A3>CARY</ca:A3><ca:RD>MAIN</ca:RD><ca:HNO>123</ca:HNO></ca:civicAddress></gp:location-info></gp:geopriv></status></tuple></presence>"#;

    #[test]
    fn request_uris() {
        assert_eq!(
            dialled("sip:911;phone-context=+1;user=phone"),
            Dialled::Emergency("911".into())
        );
        assert_eq!(
            dialled("sip:+911@10.0.0.1;user=phone"),
            Dialled::Emergency("+911".into())
        );
        assert_eq!(
            dialled("urn:service:sos.fire"),
            Dialled::Emergency("urn:service:sos.fire".into())
        );
        assert_eq!(dialled("sip:933@x"), Dialled::Test("933".into()));
        assert_eq!(dialled("sip:5551234@x"), Dialled::Other("5551234".into()));
    }

    #[test]
    fn callback_prefers_pai() {
        let i = read(
            "sip:911@x",
            &h(&[
                ("From", "\"Desk 7\" <sip:7000@acme.com>;tag=1"),
                ("P-Asserted-Identity", "<sip:+19195550188@acme.com>"),
            ]),
            b"",
        );
        assert_eq!(i.callback, Some(9195550188));
        let i = read(
            "sip:911@x",
            &h(&[("From", "<tel:919-555-0100>;tag=1")]),
            b"",
        );
        assert_eq!(i.callback, Some(9195550100));
    }

    fn multipart(inner: &str) -> String {
        format!(
            "--outer\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--outer\r\n{inner}--outer--\r\n"
        )
    }

    #[test]
    fn pidf_by_cid_nested_and_last_part() {
        // Nested multipart; the cid names the inner part.
        let inner = format!(
            "Content-Type: multipart/mixed;boundary=inner\r\n\r\n--inner\r\nContent-Type: application/pidf+xml\r\nContent-ID: <loc1@acme>\r\n\r\n{PIDF}\r\n--inner\r\nContent-Type: application/pidf+xml\r\nContent-ID: <other@acme>\r\n\r\n<bad\r\n--inner--\r\n"
        );
        let body = multipart(&inner);
        let hs = h(&[
            ("Content-Type", "multipart/mixed;boundary=outer"),
            ("Geolocation", "<cid:loc1@acme>;inserted-by=lync"),
        ]);
        let i = read("sip:911@x", &hs, body.as_bytes());
        assert_eq!(i.sdp.as_deref().map(str::trim), Some("v=0"));
        match &i.location {
            Located::ByValue { doc, found_by } => {
                assert_eq!(doc.civic["HNO"], "123");
                assert_eq!(found_by, "Geolocation <cid:loc1@acme>");
            }
            o => panic!("{o:?}"),
        }
        // No header: the last PIDF part, which is garbled here.
        let i = read("sip:911@x", &hs[..1], body.as_bytes());
        assert!(matches!(i.location, Located::Garbled(ref e) if e.contains("last PIDF-LO part")));
    }

    #[test]
    fn by_reference_and_none() {
        let hs = h(&[
            ("Content-Type", "application/sdp"),
            ("Geolocation", "<https://held.example/loc/42>"),
        ]);
        let i = read("sip:911@x", &hs, b"v=0\r\n");
        assert_eq!(
            i.location,
            Located::ByReference("https://held.example/loc/42".into())
        );
        assert_eq!(i.sdp.as_deref(), Some("v=0\r\n"));
        let i = read("sip:911@x", &hs[..1], b"v=0\r\n");
        assert_eq!(i.location, Located::None);
    }

    #[test]
    fn broken_multipart_is_noted_not_fatal() {
        let hs = h(&[("Content-Type", "multipart/mixed")]);
        let i = read("sip:911@x", &hs, b"--x\r\n\r\nzz");
        assert_eq!(i.location, Located::None);
        assert!(i.notes[0].contains("without a boundary"));
    }
}
