//! LoST (RFC 5222) as an ECRF and an LNG speak it: the `findService` query — a service URN and
//! the caller's location, civic (RFC 5139 element names) or a geodetic point (RFC 5491) — and
//! its two answers, a `findServiceResponse` with one `mapping`, or `errors`. Read with quick-xml
//! by local name, so any namespace prefixes work; written in the lost1 namespace, with the
//! mapping's `displayName` always present (Kamailio's LoST client requires one).

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;

/// The LoST namespace.
pub const LOST_NS: &str = "urn:ietf:params:xml:ns:lost1";
/// The civic address namespace (RFC 5139).
pub const CIVIC_NS: &str = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr";
/// The media type of every LoST body, errors included.
pub const CONTENT_TYPE: &str = "application/lost+xml";

/// Where the caller is, as a query carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Where {
    /// civicAddress elements by RFC 5139 name (country, A1, A3, PRD, RD, STS, POD, HNO, …).
    Civic(BTreeMap<String, String>),
    /// A `gml:Point`: latitude, longitude (degrees).
    Point(f64, f64),
}

/// A `findService` query.
#[derive(Debug, Clone, PartialEq)]
pub struct FindService {
    /// The `service` element (`urn:service:sos` for 9-1-1).
    pub service: String,
    /// Each `location` the query offers, in order, with its `profile` attribute.
    pub locations: Vec<(String, Where)>,
}

/// A mapping: where calls for a service at a location go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub display_name: String,
    pub service: String,
    /// The next hop's SIP URI.
    pub uri: String,
    pub service_number: String,
    /// `expires` (RFC 3339) and `lastUpdated`.
    pub expires: String,
    pub last_updated: String,
    /// The authoritative source and its id for this mapping.
    pub source: String,
    pub source_id: String,
}

/// An `errors` answer: the error's element name (RFC 5222 §13.1: `badRequest`, `notFound`,
/// `serviceNotImplemented`, `locationProfileUnrecognized`, `serverTimeout`, …) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostError {
    pub kind: String,
    pub message: String,
}

impl LostError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        LostError {
            kind: kind.to_string(),
            message: message.into(),
        }
    }
}

/// Elements of a civic address (RFC 5139 and RFC 4776's names), in the order RFC 5139 writes them.
pub const CIVIC: [&str; 24] = [
    "country", "A1", "A2", "A3", "A4", "A5", "A6", "PRD", "POD", "STS", "HNO", "HNS", "LMK", "LOC",
    "NAM", "PC", "BLD", "UNIT", "FLR", "ROOM", "SEAT", "RD", "RDSEC", "PLC",
];

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Parse a `findService` query; a document that is not one is a `badRequest` with the reason.
pub fn parse_find_service(xml: &str) -> Result<FindService, LostError> {
    let bad = |m: String| LostError::new("badRequest", crate::text::one_line(&m));
    let mut r = Reader::from_str(xml);
    r.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut service = None;
    let mut locations: Vec<(String, Where)> = Vec::new();
    let mut profile = String::new();
    let mut civic: Option<BTreeMap<String, String>> = None;
    let mut point: Option<(f64, f64)> = None;
    let mut root = None;
    loop {
        let ev = r
            .read_event()
            .map_err(|e| bad(format!("not XML at byte {}: {e}", r.error_position())))?;
        let opens = matches!(ev, Event::Start(_));
        match ev {
            Event::Start(e) | Event::Empty(e) if root.is_none() => {
                let name = local(e.local_name().as_ref());
                if name != "findService" {
                    return Err(bad(format!("`{name}` is not a findService query")));
                }
                root = Some(());
                if opens {
                    stack.push(name);
                }
            }
            Event::Start(e) => {
                let name = local(e.local_name().as_ref());
                if name == "location" && stack.len() == 1 {
                    profile = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == b"profile")
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                        .unwrap_or_default();
                }
                if name == "civicAddress" {
                    civic = Some(BTreeMap::new());
                }
                stack.push(name);
            }
            Event::Empty(_) => {}
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| bad(format!("bad text: {e}")))?
                    .trim()
                    .to_string();
                let Some(top) = stack.last() else { continue };
                let parent = stack.iter().rev().nth(1).map(String::as_str);
                if top == "service" && stack.len() == 2 {
                    service = Some(text);
                } else if parent == Some("civicAddress") && CIVIC.contains(&top.as_str()) {
                    if let Some(c) = civic.as_mut() {
                        c.insert(top.clone(), text);
                    }
                } else if top == "pos" && stack.iter().any(|s| s == "Point") {
                    let v: Vec<f64> = text
                        .split_whitespace()
                        .map(|x| x.parse::<f64>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| bad(format!("`{text}` is not a position (lat lon)")))?;
                    if v.len() < 2 || !(-90.0..=90.0).contains(&v[0]) || v[1].abs() > 180.0 {
                        return Err(bad(format!("`{text}` is not a position (lat lon)")));
                    }
                    point = Some((v[0], v[1]));
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                if name == "location" && stack.len() == 1 {
                    if let Some(c) = civic.take() {
                        locations.push((std::mem::take(&mut profile), Where::Civic(c)));
                    } else if let Some((lat, lon)) = point.take() {
                        locations.push((std::mem::take(&mut profile), Where::Point(lat, lon)));
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if root.is_none() {
        return Err(bad("an empty body is not a findService query".into()));
    }
    if !stack.is_empty() {
        return Err(bad(format!("`{}` is not closed", stack.join("/"))));
    }
    let service = service.ok_or_else(|| bad("the query names no service".into()))?;
    Ok(FindService { service, locations })
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// A `findServiceResponse` carrying `m`, from the server `source`.
pub fn mapping_response(m: &Mapping) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <findServiceResponse xmlns=\"{LOST_NS}\">\n\
         \x20 <mapping expires=\"{}\" lastUpdated=\"{}\" source=\"{}\" sourceId=\"{}\">\n\
         \x20   <displayName xml:lang=\"en\">{}</displayName>\n\
         \x20   <service>{}</service>\n\
         \x20   <uri>{}</uri>\n\
         \x20   <serviceNumber>{}</serviceNumber>\n\
         \x20 </mapping>\n\
         \x20 <path><via source=\"{}\"/></path>\n\
         </findServiceResponse>\n",
        esc(&m.expires),
        esc(&m.last_updated),
        esc(&m.source),
        esc(&m.source_id),
        esc(&m.display_name),
        esc(&m.service),
        esc(&m.uri),
        esc(&m.service_number),
        esc(&m.source),
    )
}

/// An `errors` answer from `source`.
pub fn error_response(e: &LostError, source: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <errors xmlns=\"{LOST_NS}\" source=\"{}\">\n\
         \x20 <{} message=\"{}\" xml:lang=\"en\"/>\n\
         </errors>\n",
        esc(source),
        e.kind,
        esc(&e.message),
    )
}

/// What an ECRF answered: its mapping, or its error. A body that is neither is `Err` with the
/// reason (an LNG then routes by default and records why).
pub fn parse_answer(xml: &str) -> Result<Result<Mapping, LostError>, String> {
    let mut r = Reader::from_str(xml);
    r.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut m = Mapping {
        display_name: String::new(),
        service: String::new(),
        uri: String::new(),
        service_number: String::new(),
        expires: String::new(),
        last_updated: String::new(),
        source: String::new(),
        source_id: String::new(),
    };
    let mut saw_mapping = false;
    loop {
        let ev = r
            .read_event()
            .map_err(|e| format!("not XML at byte {}: {e}", r.error_position()))?;
        let opens = matches!(ev, Event::Start(_));
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let name = local(e.local_name().as_ref());
                let attr = |k: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == k)
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                        .unwrap_or_default()
                };
                if stack.len() == 1 && stack[0] == "errors" {
                    return Ok(Err(LostError::new(&name, attr(b"message"))));
                }
                if stack.is_empty() && name != "findServiceResponse" && name != "errors" {
                    return Err(format!("`{name}` is not a LoST answer"));
                }
                if name == "mapping" && stack.len() == 1 {
                    saw_mapping = true;
                    m.expires = attr(b"expires");
                    m.last_updated = attr(b"lastUpdated");
                    m.source = attr(b"source");
                    m.source_id = attr(b"sourceId");
                }
                if opens {
                    stack.push(name);
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?.trim().to_string();
                if stack.len() == 3 && stack[1] == "mapping" {
                    match stack[2].as_str() {
                        "displayName" => m.display_name = text,
                        "service" => m.service = text,
                        "uri" if m.uri.is_empty() => m.uri = text,
                        "serviceNumber" => m.service_number = text,
                        _ => {}
                    }
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_mapping {
        return Err("the answer holds no mapping and no error".into());
    }
    if !(m.uri.starts_with("sip:") || m.uri.starts_with("sips:")) {
        return Err(format!("the mapping's uri `{}` is not a SIP URI", m.uri));
    }
    Ok(Ok(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query as Kamailio's `lost` module builds it (its civic element copied from the
    /// PIDF-LO, prefixes and all).
    const KAMAILIO_QUERY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<findService xmlns="urn:ietf:params:xml:ns:lost1" recursive="true" serviceBoundary="value">
<location id="abc123" profile="civic">
<ca:civicAddress xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr">
<ca:country>US</ca:country><ca:A1>NC</ca:A1><ca:A3>CARY</ca:A3>
<ca:RD>MAIN</ca:RD><ca:STS>ST</ca:STS><ca:HNO>101</ca:HNO>
</ca:civicAddress>
</location>
<service>urn:service:sos</service>
</findService>"#;

    #[test]
    fn a_civic_query_with_prefixes_is_read_by_local_name() {
        let q = parse_find_service(KAMAILIO_QUERY).unwrap();
        assert_eq!(q.service, "urn:service:sos");
        let (profile, Where::Civic(c)) = &q.locations[0] else {
            panic!("{q:?}")
        };
        assert_eq!(profile, "civic");
        assert_eq!(c["A3"], "CARY");
        assert_eq!(c["RD"], "MAIN");
        assert_eq!(c["HNO"], "101");
    }

    #[test]
    fn a_geodetic_query_gives_its_point() {
        let q = parse_find_service(
            r#"<findService xmlns="urn:ietf:params:xml:ns:lost1">
<location id="p" profile="geodetic-2d"><p2:Point xmlns:p2="http://www.opengis.net/gml" srsName="urn:ogc:def:crs:EPSG::4326"><p2:pos>35.7915 -78.7811</p2:pos></p2:Point></location>
<service>urn:service:sos</service></findService>"#,
        )
        .unwrap();
        assert_eq!(
            q.locations,
            vec![("geodetic-2d".into(), Where::Point(35.7915, -78.7811))]
        );
    }

    #[test]
    fn what_is_not_a_query_is_a_bad_request_that_says_why() {
        for (xml, says) in [
            ("", "empty"),
            ("<findService", "not XML"),
            (
                "<listServices xmlns=\"urn:ietf:params:xml:ns:lost1\"/>",
                "listServices",
            ),
            (
                "<findService xmlns=\"urn:ietf:params:xml:ns:lost1\"><location/></findService>",
                "no service",
            ),
            (
                "<findService><service>urn:service:sos</service>",
                "not closed",
            ),
        ] {
            let e = parse_find_service(xml).unwrap_err();
            assert_eq!(e.kind, "badRequest", "{xml}");
            assert!(e.message.contains(says), "{xml}: {}", e.message);
        }
    }

    #[test]
    fn a_mapping_and_an_error_read_back_as_written() {
        let m = Mapping {
            display_name: "Cary Police <PSAP> & co".into(),
            service: "urn:service:sos".into(),
            uri: "sip:carypolice@192.0.2.1:5060".into(),
            service_number: "911".into(),
            expires: "2026-12-09T00:00:00Z".into(),
            last_updated: "2026-12-08T00:00:00Z".into(),
            source: "ecrf.e911.invalid".into(),
            source_id: "esn-123".into(),
        };
        assert_eq!(parse_answer(&mapping_response(&m)).unwrap(), Ok(m));
        let e = LostError::new("notFound", "no MSAG range holds 9 ELM ST, CARY");
        assert_eq!(
            parse_answer(&error_response(&e, "ecrf.e911.invalid")).unwrap(),
            Err(e)
        );
        assert!(parse_answer("<html/>")
            .unwrap_err()
            .contains("not a LoST answer"));
    }
}
