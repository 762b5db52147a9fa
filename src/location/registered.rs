//! Registered locations: the civic address an E9-1-1 provider holds for a callback number, as
//! carriers provision a DID's address for phones that send no PIDF-LO (an ordinary SIP phone, an
//! analog line behind a gateway). A call whose INVITE carries no location is routed by the address
//! registered for its callback number; one that carries a location is routed by that.
//!
//! The file is CSV with a header line naming its columns by their RFC 5139 civic names (any
//! order): `TN` (10 digits) and `HNO`, `RD`, `A3`, `A1` are required; `HNS`, `PRD`, `STS`, `POD`,
//! `PC`, `LOC`, `NAM`, `country` may follow. `#` starts a comment line. Fields hold no commas.

use std::collections::BTreeMap;

use super::pidf::PidfLo;

/// Callback number → the address registered for it, and the file's line it came from.
#[derive(Debug, Clone, Default)]
pub struct Registered {
    by_tn: BTreeMap<u64, (PidfLo, usize)>,
}

/// Columns a file may name (RFC 5139 names, as in [`PidfLo::civic`]).
const COLUMNS: [&str; 12] = [
    "TN", "HNO", "HNS", "PRD", "RD", "STS", "POD", "A3", "A1", "PC", "LOC", "NAM",
];
const REQUIRED: [&str; 5] = ["TN", "HNO", "RD", "A3", "A1"];

impl Registered {
    /// Parse the text; an error is `LINE: what` (the caller adds the file's name).
    pub fn parse(text: &str) -> Result<Registered, String> {
        let mut header: Option<Vec<String>> = None;
        let mut by_tn = BTreeMap::new();
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            let Some(cols) = &header else {
                let cols: Vec<String> = f
                    .iter()
                    .map(|c| {
                        if c.eq_ignore_ascii_case("country") {
                            "country".to_string()
                        } else {
                            c.to_ascii_uppercase()
                        }
                    })
                    .collect();
                for c in &cols {
                    if c != "country" && !COLUMNS.contains(&c.as_str()) {
                        return Err(format!(
                            "{line}: unknown column {c:?} (columns: {}, country)",
                            COLUMNS.join(", ")
                        ));
                    }
                }
                if let Some(m) = REQUIRED.iter().find(|r| !cols.iter().any(|c| c == *r)) {
                    return Err(format!(
                        "{line}: the header has no {m} column (needed: {})",
                        REQUIRED.join(", ")
                    ));
                }
                header = Some(cols);
                continue;
            };
            if f.len() != cols.len() {
                return Err(format!(
                    "{line}: {} fields, the header has {}",
                    f.len(),
                    cols.len()
                ));
            }
            let mut p = PidfLo {
                method: "Provisioned".into(),
                ..Default::default()
            };
            let mut tn = None;
            for (c, v) in cols.iter().zip(&f) {
                if c == "TN" {
                    let digits = v.trim_start_matches('+');
                    let digits = digits
                        .strip_prefix('1')
                        .filter(|d| d.len() == 10)
                        .unwrap_or(digits);
                    tn = Some(
                        digits
                            .parse::<u64>()
                            .ok()
                            .filter(|_| {
                                digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())
                            })
                            .ok_or_else(|| format!("{line}: TN {v:?} is not a 10-digit number"))?,
                    );
                } else if !v.is_empty() {
                    p.civic.insert(c.clone(), v.to_string());
                }
            }
            let tn = tn.expect("TN is a required column");
            for r in REQUIRED.iter().filter(|r| **r != "TN") {
                if !p.civic.contains_key(*r) {
                    return Err(format!("{line}: {r} is empty"));
                }
            }
            if let Some((_, first)) = by_tn.insert(tn, (p, line)) {
                return Err(format!(
                    "{line}: TN {tn} is registered already on line {first}"
                ));
            }
        }
        if header.is_none() {
            return Err("1: no header line".into());
        }
        Ok(Registered { by_tn })
    }

    /// The address registered for `tn`.
    pub fn get(&self, tn: u64) -> Option<&PidfLo> {
        self.by_tn.get(&tn).map(|(p, _)| p)
    }

    /// Every entry with its line, for checking against the MSAG at load.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &PidfLo, usize)> {
        self.by_tn.iter().map(|(tn, (p, l))| (*tn, p, *l))
    }

    pub fn len(&self) -> usize {
        self.by_tn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tn.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_civic_addresses_by_column_name() {
        let r = Registered::parse(
            "# a comment\nTN,HNO,RD,STS,A3,A1,LOC\n9195550188,123,MAIN,ST,CARY,NC,Suite 4\n+19195550199,2,MAIN,ST,CARY,NC,\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        let p = r.get(9195550188).unwrap();
        assert_eq!(p.civic_address().one_line(), "123 MAIN ST, CARY NC");
        assert_eq!(p.location(), "Suite 4");
        assert!(r.get(9195550199).is_some(), "+1 stripped");
        assert!(r.get(9195550100).is_none());
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        let bad = |t: &str| Registered::parse(t).unwrap_err();
        assert!(
            bad("TN,HNO,RD,A3\n").starts_with("1: the header has no A1"),
            "{}",
            bad("TN,HNO,RD,A3\n")
        );
        assert!(bad("TN,HNO,RD,A3,A1,FOO\n").starts_with("1: unknown column \"FOO\""));
        let h = "TN,HNO,RD,A3,A1\n";
        assert_eq!(
            bad(&format!("{h}919555018,1,MAIN,CARY,NC\n")),
            "2: TN \"919555018\" is not a 10-digit number"
        );
        assert_eq!(
            bad(&format!("{h}9195550188,1,MAIN,CARY\n")),
            "2: 4 fields, the header has 5"
        );
        assert_eq!(
            bad(&format!("{h}9195550188,,MAIN,CARY,NC\n")),
            "2: HNO is empty"
        );
        assert_eq!(
            bad(&format!(
                "{h}9195550188,1,MAIN,CARY,NC\n9195550188,2,MAIN,CARY,NC\n"
            )),
            "3: TN 9195550188 is registered already on line 2"
        );
        assert_eq!(bad("# only a comment\n"), "1: no header line");
    }
}
