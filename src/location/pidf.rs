//! PIDF-LO civic location (RFC 4119 / RFC 5139 element names, RFC 4776 codes) as Lync sends it to
//! a SIP-trunk E9-1-1 provider: `presence` → `tuple` → `status` → `geopriv` → `location-info` →
//! `civicAddress`, plus Lync's Microsoft extension (conference URI and mode). Read with quick-xml
//! by local name, so any namespace prefixes work; written in the same shape.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::lis::{Civic, Erl};

/// What a PIDF-LO document says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidfLo {
    pub entity: String,
    /// civicAddress elements by RFC 5139 name (country, A1…A6, PRD, POD, STS, HNO, HNS, LMK,
    /// LOC, NAM, PC, BLD, UNIT, FLR, ROOM, SEAT, RD).
    pub civic: BTreeMap<String, String>,
    /// `geopriv/method` (e.g. `Manual` when the user typed the address).
    pub method: String,
    /// Lync extension.
    pub conference_uri: Option<String>,
    pub conference_mode: Option<String>,
}

const CIVIC: [&str; 22] = [
    "country", "A1", "A2", "A3", "A4", "A5", "A6", "PRD", "POD", "STS", "HNO", "HNS", "LMK", "LOC",
    "NAM", "PC", "BLD", "UNIT", "FLR", "ROOM", "SEAT", "RD",
];

impl PidfLo {
    /// Parse a document; errors name the byte position.
    pub fn parse(xml: &str) -> Result<PidfLo, String> {
        Self::parse_inner(xml).map_err(|e| crate::text::one_line(&e))
    }

    fn parse_inner(xml: &str) -> Result<PidfLo, String> {
        let mut r = Reader::from_str(xml);
        r.config_mut().trim_text(true);
        let mut p = PidfLo::default();
        let mut stack: Vec<String> = Vec::new();
        let mut saw_presence = false;
        loop {
            match r.read_event() {
                Ok(Event::Start(e)) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if name == "presence" {
                        saw_presence = true;
                        for a in e.attributes().flatten() {
                            if a.key.local_name().as_ref() == b"entity" {
                                p.entity = a
                                    .unescape_value()
                                    .map(|v| v.into_owned())
                                    .unwrap_or_default();
                            }
                        }
                    }
                    stack.push(name);
                }
                Ok(Event::End(_)) => {
                    stack.pop();
                }
                Ok(Event::Text(t)) => {
                    let text = t
                        .unescape()
                        .map_err(|e| format!("PIDF-LO: at byte {}: {e}", r.buffer_position()))?
                        .into_owned();
                    let Some(cur) = stack.last() else { continue };
                    let in_civic = stack.iter().any(|s| s == "civicAddress");
                    if in_civic && CIVIC.contains(&cur.as_str()) {
                        p.civic.insert(cur.clone(), text);
                    } else if cur == "method" {
                        p.method = text;
                    } else if cur == "ConferenceUri" {
                        p.conference_uri = Some(text);
                    } else if cur == "ConferenceMode" {
                        p.conference_mode = Some(text);
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(format!("PIDF-LO: at byte {}: {e}", r.buffer_position())),
            }
        }
        if !saw_presence {
            return Err("PIDF-LO: no <presence> element".into());
        }
        Ok(p)
    }

    fn get(&self, k: &str) -> String {
        self.civic
            .get(k)
            .map(|v| v.trim().to_ascii_uppercase())
            .unwrap_or_default()
    }

    /// The civic address (street name from RD, else A6).
    pub fn civic_address(&self) -> Civic {
        let street = match self.get("RD") {
            s if s.is_empty() => self.get("A6"),
            s => s,
        };
        Civic {
            house_number: self.get("HNO"),
            house_suffix: self.get("HNS"),
            prd: self.get("PRD"),
            street,
            sts: self.get("STS"),
            pod: self.get("POD"),
            city: self.get("A3"),
            state: self.get("A1"),
            postal_code: self.get("PC"),
            country: self.get("country"),
        }
    }

    /// The location label (LOC).
    pub fn location(&self) -> String {
        self.civic.get("LOC").cloned().unwrap_or_default()
    }

    /// Is there a civic location at all?
    pub fn has_location(&self) -> bool {
        !self.civic.is_empty()
    }
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Write the PIDF-LO Lync would send for `erl` (entity `sip:user@domain`).
pub fn write(erl: &Erl, entity: &str, method: &str) -> String {
    let c = &erl.civic;
    let mut civic = String::new();
    for (k, v) in [
        ("country", &c.country),
        ("A1", &c.state),
        ("A3", &c.city),
        ("PRD", &c.prd),
        ("RD", &c.street),
        ("STS", &c.sts),
        ("POD", &c.pod),
        ("HNO", &c.house_number),
        ("HNS", &c.house_suffix),
        ("LOC", &erl.location),
        ("NAM", &erl.company_name),
        ("PC", &c.postal_code),
    ] {
        if !v.is_empty() {
            civic.push_str(&format!("          <ca:{k}>{}</ca:{k}>\n", esc(v)));
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{}">
  <tuple id="_LIS:0">
    <status>
      <gp:geopriv xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10">
        <gp:location-info>
          <ca:civicAddress xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr">
{civic}          </ca:civicAddress>
        </gp:location-info>
        <gp:usage-rules/>
        <gp:method>{}</gp:method>
      </gp:geopriv>
    </status>
  </tuple>
</presence>
"#,
        esc(entity),
        esc(method)
    )
}
