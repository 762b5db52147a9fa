//! ALI: NENA 02-010 fixed-width TN records (read and write) and the PSAP's lookup and display
//! (`docs/location.md`).
//!
//! Columns are 1-based and inclusive, as in the standard: function code 1; NPA 2–4; calling number
//! 5–11; house number 12–21; house number suffix 22–25; prefix directional 26–27; street name
//! 28–87; street suffix 88–91; post directional 92–93; community 94–125; state 126–127; location
//! 128–187; customer name 188–219; class of service 220; type of service 221; exchange 222–225;
//! ESN 226–230. The fields that follow, in the standard's order and lengths: main NPA 231–233,
//! main number 234–240, order number 241–250, extract date 251–256 (MMDDYY), county ID 257–260,
//! company ID 261–265, source ID 266, ZIP 267–271, ZIP+4 272–275. Records are written 512
//! characters long; a record is read if it reaches at least column 230 (what follows is optional).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::tandem::tables::Office;

/// One NENA 02-010 TN record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliRecord {
    /// I (insert), C (change), D (delete).
    pub function: char,
    pub npa: String,
    pub number: String,
    pub house_number: String,
    pub house_suffix: String,
    pub prefix_dir: String,
    pub street: String,
    pub street_suffix: String,
    pub post_dir: String,
    pub community: String,
    pub state: String,
    pub location: String,
    pub customer: String,
    pub class_of_service: char,
    pub type_of_service: char,
    pub exchange: String,
    pub esn: Option<u16>,
    pub main_npa: String,
    pub main_number: String,
    pub order_number: String,
    pub extract_date: String,
    pub county_id: String,
    pub company_id: String,
    pub source_id: String,
    pub zip: String,
    pub zip4: String,
}

/// `(first column, last column)`, 1-based inclusive.
type Cols = (usize, usize);

const FUNCTION: Cols = (1, 1);
const NPA: Cols = (2, 4);
const NUMBER: Cols = (5, 11);
const HOUSE: Cols = (12, 21);
const HOUSE_SUFFIX: Cols = (22, 25);
const PREFIX_DIR: Cols = (26, 27);
const STREET: Cols = (28, 87);
const STREET_SUFFIX: Cols = (88, 91);
const POST_DIR: Cols = (92, 93);
const COMMUNITY: Cols = (94, 125);
const STATE: Cols = (126, 127);
const LOCATION: Cols = (128, 187);
const CUSTOMER: Cols = (188, 219);
const CLASS: Cols = (220, 220);
const TYPE: Cols = (221, 221);
const EXCHANGE: Cols = (222, 225);
const ESN: Cols = (226, 230);
const MAIN_NPA: Cols = (231, 233);
const MAIN_NUMBER: Cols = (234, 240);
const ORDER: Cols = (241, 250);
const EXTRACT: Cols = (251, 256);
const COUNTY: Cols = (257, 260);
const COMPANY: Cols = (261, 265);
const SOURCE: Cols = (266, 266);
const ZIP: Cols = (267, 271);
const ZIP4: Cols = (272, 275);

/// Length of a written record.
pub const RECORD_LEN: usize = 512;

/// A problem in an ALI file: `line`, field name, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliError {
    pub line: usize,
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for AliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: ALI.{}: {}",
            self.line,
            self.field,
            crate::text::one_line(&self.message)
        )
    }
}

fn field(chars: &[char], (a, b): Cols) -> String {
    let a = a - 1;
    if a >= chars.len() {
        return String::new();
    }
    chars[a..b.min(chars.len())]
        .iter()
        .collect::<String>()
        .trim()
        .to_string()
}

impl AliRecord {
    /// The 10-digit TN.
    pub fn tn(&self) -> Option<u64> {
        format!("{}{}", self.npa, self.number).parse().ok()
    }

    /// Parse one record (line `line` of its file, for errors).
    pub fn parse(text: &str, line: usize) -> Result<AliRecord, AliError> {
        let chars: Vec<char> = text.trim_end_matches(['\r', '\n']).chars().collect();
        let err = |field: &'static str, message: String| AliError {
            line,
            field,
            message,
        };
        if chars.len() < ESN.1 {
            return Err(err(
                "ESN",
                format!(
                    "record is {} characters; a NENA 02-010 TN record reaches at least column {} (ESN)",
                    chars.len(),
                    ESN.1
                ),
            ));
        }
        let f = |c| field(&chars, c);
        let function = chars[0];
        if !matches!(function, 'I' | 'C' | 'D' | 'U' | 'M') {
            return Err(err(
                "FUNCTION",
                format!("`{function}` is not a function code (I, C, D)"),
            ));
        }
        let npa = f(NPA);
        let number = f(NUMBER);
        if npa.len() != 3 || !npa.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("NPA", format!("`{npa}` is not a 3-digit NPA")));
        }
        if number.len() != 7 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                "CALLING_NUMBER",
                format!("`{number}` is not a 7-digit number"),
            ));
        }
        let esn_text = f(ESN);
        let esn = if esn_text.is_empty() {
            None
        } else {
            Some(
                esn_text
                    .parse::<u16>()
                    .map_err(|_| err("ESN", format!("`{esn_text}` is not an ESN (0–65535)")))?,
            )
        };
        let ch = |c: Cols| chars.get(c.0 - 1).copied().unwrap_or(' ');
        Ok(AliRecord {
            function,
            npa,
            number,
            house_number: f(HOUSE),
            house_suffix: f(HOUSE_SUFFIX),
            prefix_dir: f(PREFIX_DIR),
            street: f(STREET),
            street_suffix: f(STREET_SUFFIX),
            post_dir: f(POST_DIR),
            community: f(COMMUNITY),
            state: f(STATE),
            location: f(LOCATION),
            customer: f(CUSTOMER),
            class_of_service: ch(CLASS),
            type_of_service: ch(TYPE),
            exchange: f(EXCHANGE),
            esn,
            main_npa: f(MAIN_NPA),
            main_number: f(MAIN_NUMBER),
            order_number: f(ORDER),
            extract_date: f(EXTRACT),
            county_id: f(COUNTY),
            company_id: f(COMPANY),
            source_id: f(SOURCE),
            zip: f(ZIP),
            zip4: f(ZIP4),
        })
    }

    /// The fixed-width record, [`RECORD_LEN`] characters. Values longer than their field are
    /// an error naming the field.
    pub fn write(&self) -> Result<String, String> {
        let mut line: Vec<char> = vec![' '; RECORD_LEN];
        let mut put = |name: &str, (a, b): Cols, v: &str, right: bool| -> Result<(), String> {
            let w = b - a + 1;
            let n = v.chars().count();
            if n > w {
                return Err(format!("ALI.{name}: `{v}` is longer than {w} characters"));
            }
            let start = if right { a - 1 + w - n } else { a - 1 };
            for (k, c) in v.chars().enumerate() {
                line[start + k] = c;
            }
            Ok(())
        };
        let esn = self.esn.map(|e| format!("{e:05}")).unwrap_or_default();
        put("FUNCTION", FUNCTION, &self.function.to_string(), false)?;
        put("NPA", NPA, &self.npa, false)?;
        put("CALLING_NUMBER", NUMBER, &self.number, false)?;
        put("HOUSE_NUMBER", HOUSE, &self.house_number, true)?;
        put(
            "HOUSE_NUMBER_SUFFIX",
            HOUSE_SUFFIX,
            &self.house_suffix,
            false,
        )?;
        put("PREFIX_DIRECTIONAL", PREFIX_DIR, &self.prefix_dir, false)?;
        put("STREET_NAME", STREET, &self.street, false)?;
        put("STREET_SUFFIX", STREET_SUFFIX, &self.street_suffix, false)?;
        put("POST_DIRECTIONAL", POST_DIR, &self.post_dir, false)?;
        put("COMMUNITY", COMMUNITY, &self.community, false)?;
        put("STATE", STATE, &self.state, false)?;
        put("LOCATION", LOCATION, &self.location, false)?;
        put("CUSTOMER_NAME", CUSTOMER, &self.customer, false)?;
        put(
            "CLASS_OF_SERVICE",
            CLASS,
            &self.class_of_service.to_string(),
            false,
        )?;
        put(
            "TYPE_OF_SERVICE",
            TYPE,
            &self.type_of_service.to_string(),
            false,
        )?;
        put("EXCHANGE", EXCHANGE, &self.exchange, false)?;
        put("ESN", ESN, &esn, false)?;
        put("MAIN_NPA", MAIN_NPA, &self.main_npa, false)?;
        put("MAIN_NUMBER", MAIN_NUMBER, &self.main_number, false)?;
        put("ORDER_NUMBER", ORDER, &self.order_number, false)?;
        put("EXTRACT_DATE", EXTRACT, &self.extract_date, false)?;
        put("COUNTY_ID", COUNTY, &self.county_id, false)?;
        put("COMPANY_ID", COMPANY, &self.company_id, false)?;
        put("SOURCE_ID", SOURCE, &self.source_id, false)?;
        put("ZIP", ZIP, &self.zip, false)?;
        put("ZIP4", ZIP4, &self.zip4, false)?;
        Ok(line.into_iter().collect())
    }

    /// The street address on one line: `123 N MAIN ST E`.
    pub fn address(&self) -> String {
        [
            format!("{}{}", self.house_number, self.house_suffix),
            self.prefix_dir.clone(),
            self.street.clone(),
            self.street_suffix.clone(),
            self.post_dir.clone(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// Class of service as the PSAP screen shows it.
    pub fn class_text(&self) -> &'static str {
        match self.class_of_service {
            '1' => "RESD",
            '2' => "BUSN",
            '3' => "RPBX",
            '4' => "BPBX",
            '5' => "CNTX",
            '6' => "CO1W",
            '7' => "CO2W",
            '8' => "MOBL",
            '9' => "ROPX",
            '0' => "BOPX",
            'G' => "WPH1",
            'V' => "VOIP",
            'H' => "WPH2",
            _ => "????",
        }
    }
}

/// An ALI database: TN → record (the last insert/change wins; a delete removes).
#[derive(Debug, Clone, Default)]
pub struct Ali {
    pub records: BTreeMap<u64, AliRecord>,
}

impl Ali {
    /// Load a file's text; every bad line is reported (`FILE:LINE: ALI.FIELD: message` once
    /// the caller prefixes the file), good lines are kept.
    pub fn parse(text: &str) -> (Ali, Vec<AliError>) {
        let mut ali = Ali::default();
        let mut errors = Vec::new();
        // Where each TN was inserted: a second `I` for it is a duplicate (use `C` to change).
        let mut at: BTreeMap<u64, usize> = BTreeMap::new();
        let mut any = false;
        for (k, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            any = true;
            match AliRecord::parse(line, k + 1) {
                Ok(r) => {
                    let tn = r.tn().expect("validated digits");
                    if r.function == 'D' {
                        ali.records.remove(&tn);
                        at.remove(&tn);
                    } else if let (Some(&first), 'I') = (at.get(&tn), r.function) {
                        errors.push(AliError {
                            line: k + 1,
                            field: "NUMBER",
                            message: format!(
                                "TN {tn} is already on line {first} (a second record needs function C)"
                            ),
                        });
                    } else {
                        at.entry(tn).or_insert(k + 1);
                        ali.records.insert(tn, r);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !any {
            errors.push(AliError {
                line: 1,
                field: "FUNCTION",
                message: "no TN records (the file is empty)".into(),
            });
        }
        (ali, errors)
    }

    pub fn lookup(&self, tn: u64) -> Option<&AliRecord> {
        self.records.get(&tn)
    }

    /// The PSAP screen line for `tn` (the ANI received). Shows the record, or `NO RECORD FOUND`
    /// (a substitute ANI, an unknown TN), and the agencies of the ESN.
    pub fn screen(&self, office: &Office, tn: u64, esn: Option<u16>) -> String {
        let mut s = format!(
            "({:03}) {:03}-{:04}",
            tn / 10_000_000,
            tn / 10_000 % 1000,
            tn % 10_000
        );
        let esn = match self.lookup(tn) {
            Some(r) => {
                let _ = write!(
                    s,
                    " {} | {} | {} {}",
                    r.class_text(),
                    r.address(),
                    r.community,
                    r.state
                );
                if !r.location.is_empty() {
                    let _ = write!(s, " | {}", r.location);
                }
                if !r.customer.is_empty() {
                    let _ = write!(s, " | {}", r.customer);
                }
                r.esn.or(esn)
            }
            None => {
                s.push_str(" NO RECORD FOUND");
                esn
            }
        };
        if let Some(e) = esn.and_then(|e| office.esns.get(&e)) {
            let _ = write!(s, " | ESN {}", e.esn);
            let mut names = vec![&e.primary];
            names.extend(e.secondary.iter().flatten());
            for n in names {
                if let Some(p) = office.psaps.get(n) {
                    let _ = write!(s, " {} {}", p.agency, p.name);
                }
            }
        }
        s
    }
}
