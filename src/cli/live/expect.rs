//! `live tandem --expect FILE`: a compliance check for PBX owners. The file lists, in the order
//! the equipment will place them, the test calls and where each must go:
//!
//! ```text
//! # ANI/ELIN   ESN  PSAP        what it is
//! 9195551234   123  CARYPOLICE  ERL 1st floor east
//! 9195550100   -    CARYPOLICE  ERL lobby (any ESN)
//! ```
//!
//! Each call the equipment places is judged against the next line: the ANI the tandem decoded
//! from the spill, the ESN it routed on, the PSAP it delivered to. A pass or a fail per call with
//! the spill heard, the ALI screen and every reason for a failure; expected calls never placed
//! fail too.

use std::path::{Path, PathBuf};

use super::session::Session;
use crate::location::ali::Ali;
use crate::tandem::record::CallRecord;
use crate::tandem::tables::Office;

#[derive(Debug)]
struct Row {
    line: usize,
    ani: String,
    esn: Option<u16>,
    psap: String,
    label: String,
}

pub struct Expect {
    path: PathBuf,
    rows: Vec<Row>,
    next: usize,
}

impl Expect {
    pub fn load(path: &Path) -> anyhow::Result<Expect> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let rows = parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))?;
        if rows.is_empty() {
            anyhow::bail!("{}: no expected calls", path.display());
        }
        Ok(Expect {
            path: path.to_path_buf(),
            rows,
            next: 0,
        })
    }

    /// Judge a finished call against the next expectation; prints the verdict; `true` = pass.
    pub fn judge(&mut self, s: &Session, office: &Office, ali: &Ali, r: &CallRecord) -> bool {
        let Some(row) = self.rows.get(self.next) else {
            let t = format!(
                "EXPECT call {} FAIL: not in {} (it lists {} call(s)); spill `{}`",
                r.call,
                self.path.display(),
                self.rows.len(),
                r.ani_spill
            );
            s.log(&t, &serde_json::json!({"event": "expect", "call": r.call, "pass": false, "reasons": ["not expected"]}));
            return false;
        };
        self.next += 1;
        let mut why = Vec::new();
        let ani = r.ani.as_deref().unwrap_or("-");
        if r.ani_status != "ok" {
            why.push(format!("ANI {} (spill `{}`)", r.ani_status, r.ani_spill));
        }
        if ani != row.ani {
            why.push(format!("ANI {ani}, expected {}", row.ani));
        }
        if let (Some(want), got) = (row.esn, r.esn) {
            if got != Some(want) {
                why.push(format!(
                    "ESN {}, expected {want}",
                    got.map(|e| e.to_string()).unwrap_or("-".into())
                ));
            }
        }
        let psap = r.psap.as_deref().unwrap_or("-");
        if psap != row.psap {
            why.push(format!("routed to {psap}, expected {}", row.psap));
        }
        let screen = ani
            .parse::<u64>()
            .map(|tn| ali.screen(office, tn, r.esn))
            .unwrap_or_default();
        let pass = why.is_empty();
        let t = format!(
            "EXPECT call {} {} ({}:{} {}): spill `{}`, ANI {ani}, ESN {}, {psap}; ALI: {screen}{}",
            r.call,
            if pass { "PASS" } else { "FAIL" },
            self.path.display(),
            row.line,
            row.label,
            r.ani_spill,
            r.esn.map(|e| e.to_string()).unwrap_or("-".into()),
            if pass {
                String::new()
            } else {
                format!("; because: {}", why.join("; "))
            }
        );
        s.log(
            &t,
            &serde_json::json!({"event": "expect", "call": r.call, "pass": pass, "line": row.line,
                "label": row.label, "spill": r.ani_spill, "ani": ani, "esn": r.esn, "psap": psap,
                "ali": screen, "reasons": why}),
        );
        pass
    }

    /// The totals; returns how many expectations failed (calls failed plus calls never placed).
    pub fn summary(&self, s: &Session, verdicts: &[bool]) -> usize {
        let passed = verdicts.iter().filter(|&&v| v).count();
        let missing = self.rows.len().saturating_sub(self.next);
        for row in &self.rows[self.next.min(self.rows.len())..] {
            let t = format!(
                "EXPECT {}:{} FAIL: ANI {} ({}) was never placed",
                self.path.display(),
                row.line,
                row.ani,
                row.label
            );
            s.log(
                &t,
                &serde_json::json!({"event": "expect", "pass": false, "line": row.line,
                "ani": row.ani, "reasons": ["never placed"]}),
            );
        }
        let t = format!(
            "EXPECT: {passed} of {} call(s) passed, {missing} expected call(s) not placed",
            verdicts.len()
        );
        s.log(
            &t,
            &serde_json::json!({"event": "expect summary", "passed": passed,
            "placed": verdicts.len(), "not_placed": missing}),
        );
        verdicts.len() - passed + missing
    }
}

fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        let l = l.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let mut f = l.split_whitespace();
        let (Some(ani), Some(esn), Some(psap)) = (f.next(), f.next(), f.next()) else {
            return Err(format!("{line}: want `ANI ESN PSAP [label]`, got {l:?}"));
        };
        if ani.len() != 10 || !ani.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{line}: ANI {ani:?} is not a 10-digit number"));
        }
        let esn = match esn {
            "-" => None,
            e => Some(
                e.parse::<u16>()
                    .ok()
                    .filter(|&v| v <= 16383)
                    .ok_or_else(|| format!("{line}: ESN {e:?} is not 0 … 16383 or -"))?,
            ),
        };
        rows.push(Row {
            line,
            ani: ani.to_string(),
            esn,
            psap: psap.to_ascii_uppercase(),
            label: f.collect::<Vec<_>>().join(" "),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn expectations_parse_and_bad_lines_are_named() {
        let r = parse("# c\n9195551234 123 caryPolice first floor\n\n9195550100 - X\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].line, r[0].esn, r[0].psap.as_str()),
            (2, Some(123), "CARYPOLICE")
        );
        assert_eq!(r[0].label, "first floor");
        assert_eq!(r[1].esn, None);
        assert!(parse("919555123 1 X").unwrap_err().starts_with("1: ANI"));
        assert!(parse("\n9195551234 99999 X")
            .unwrap_err()
            .starts_with("2: ESN"));
        assert!(parse("9195551234 1").unwrap_err().starts_with("1: want"));
    }
}
