//! Datafill: the office tables in the contract's text format (`README.md`), loaded
//! and checked against every rule of `docs/call-processing.md`
//!
//! ```text
//! TABLE E911ESN
//! ESN     FLASH     PRIMPSAP    PSAP1     PSAP2          PSAP3  PSAP4  PSAP5  PSAP6
//! _________________________________________________________________________________
//! 123     N         CARYPOLICE  CARYFIRE  CARYAMBULANCE  NONE   NONE   NONE   NONE
//! ```
//!
//! A table starts with `TABLE <NAME>`, then a header line of field names (any order), then one
//! tuple per line. `#` starts a comment; blank lines and lines of underscores (the MAP display's
//! rule) are ignored, so the seed's MAP display pastes in as is. Tables are datafilled in the order
//! E911PSAP → E911NPD → E911ESN → E911SRDB → TRKGRP and every reference must already exist.
//! Every problem is reported (not just the first) as `FILE:LINE: TABLE.FIELD: message`.

mod rows;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::tables::{AniFormat, Called, Esn, Office, Psap, Sig, Supv, TrunkGroup};

/// The tables, in datafill order.
pub const TABLE_ORDER: [&str; 6] = [
    "E911PSAP", "E911NPD", "E911ESN", "E911SRDB", "TRKGRP", "OFCENG",
];

/// The most MF receivers an office's pool may have (OFCENG `MF_RECEIVERS`).
pub const MAX_MF_RECEIVERS: u32 = 10_000;

/// At most 1000 ESZs per office (seed: "The size of this table is 1,000 entries").
pub const MAX_ESN_ROWS: usize = 1000;

/// One problem, named by file, line, table and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub table: String,
    pub field: String,
    pub message: String,
    /// A warning does not make the datafill invalid.
    pub warning: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = if self.warning { "warning: " } else { "" };
        let at = if self.field.is_empty() {
            self.table.clone()
        } else {
            format!("{}.{}", self.table, self.field)
        };
        // One line, whatever the file held: a control character in a field is shown escaped.
        let line = format!(
            "{}:{}: {at}: {w}{}",
            self.file.display(),
            self.line,
            self.message
        );
        f.write_str(&crate::text::one_line(&line))
    }
}

/// A loaded office and the problems found on the way. Valid when no problem is an error.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub office: Office,
    pub problems: Vec<Problem>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.warning)
    }

    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }
}

/// Load datafill from `(file name, text)` pairs, in order.
pub fn load(sources: &[(PathBuf, String)]) -> Loaded {
    let mut l = Loader::default();
    for (file, text) in sources {
        l.file(file, text);
    }
    let mut loaded = l.finish();
    loaded.files = sources.iter().map(|s| s.0.clone()).collect();
    loaded
}

impl Loaded {
    /// An office routes nothing without PSAPs, ESNs and trunk groups: an empty or partial
    /// datafill is an error for anything that runs it (`datafill check`, `route`, `simulate`),
    /// not "ok — 0 PSAPs". Each table on its own is checked by [`load`].
    pub fn require_office(&mut self) {
        let office = &self.office;
        let last = self.files.last().cloned().unwrap_or_default();
        let mut extra = Vec::new();
        for (table, empty) in [
            ("E911PSAP", office.psaps.is_empty()),
            ("E911ESN", office.esns.is_empty()),
            ("TRKGRP", office.trunk_groups.is_empty()),
        ] {
            if empty && !self.problems.iter().any(|p| p.table == table) {
                extra.push(Problem {
                    file: last.clone(),
                    line: 1,
                    table: table.into(),
                    field: String::new(),
                    message: "no tuples: the office needs this table to route a call".into(),
                    warning: false,
                });
            }
        }
        self.problems.extend(extra);
    }
}

#[derive(Default)]
struct Loader {
    out: Loaded,
    /// Highest position in TABLE_ORDER seen so far, for the datafill-order rule.
    order: usize,
    seen: BTreeSet<String>,
    /// Where a table's rows live, for messages about a whole table.
    any_one_digit: Option<(PathBuf, usize)>,
}

struct Ctx<'a> {
    file: &'a Path,
    line: usize,
    table: &'a str,
}

impl Loader {
    fn problem(&mut self, c: &Ctx, field: &str, message: String, warning: bool) {
        self.out.problems.push(Problem {
            file: c.file.to_path_buf(),
            line: c.line,
            table: c.table.to_string(),
            field: field.to_string(),
            message,
            warning,
        });
    }

    fn err(&mut self, c: &Ctx, field: &str, message: impl Into<String>) {
        self.problem(c, field, message.into(), false);
    }

    fn file(&mut self, file: &Path, text: &str) {
        let mut table: Option<String> = None;
        let mut header: Option<Vec<String>> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.chars().all(|c| c == '_' || c == '-') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let c = |t: &'static str| Ctx {
                file,
                line: i + 1,
                table: t,
            };
            if words[0].eq_ignore_ascii_case("TABLE") {
                let name = words
                    .get(1)
                    .map(|s| s.to_ascii_uppercase())
                    .unwrap_or_default();
                match TABLE_ORDER.iter().position(|&t| t == name) {
                    None => {
                        self.err(
                            &c("TABLE"),
                            "",
                            format!(
                                "unknown table `{name}` (tables: {})",
                                TABLE_ORDER.join(", ")
                            ),
                        );
                        table = None;
                    }
                    Some(pos) => {
                        let here = Ctx {
                            file,
                            line: i + 1,
                            table: TABLE_ORDER[pos],
                        };
                        if pos < self.order {
                            self.err(
                                &here,
                                "",
                                format!(
                                    "datafilled after {}: tables go in the order {}",
                                    TABLE_ORDER[self.order],
                                    TABLE_ORDER.join(" → ")
                                ),
                            );
                        }
                        self.order = self.order.max(pos);
                        if !self.seen.insert(name.clone()) {
                            self.err(&here, "", "table datafilled twice".to_string());
                        }
                        table = Some(name);
                    }
                }
                header = None;
                continue;
            }
            let Some(t) = table.clone() else {
                self.err(
                    &c("TABLE"),
                    "",
                    "a tuple outside any table (start one with `TABLE <NAME>`)".to_string(),
                );
                continue;
            };
            let tname: &'static str = TABLE_ORDER
                .iter()
                .find(|&&x| x == t)
                .copied()
                .unwrap_or("TABLE");
            let ctx = Ctx {
                file,
                line: i + 1,
                table: tname,
            };
            match &header {
                None => {
                    let h: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
                    if self.header(&ctx, &h) {
                        header = Some(h);
                    } else {
                        table = None;
                    }
                }
                Some(h) => {
                    if words.len() != h.len() {
                        self.err(
                            &ctx,
                            "",
                            format!(
                                "{} fields, the header has {} ({})",
                                words.len(),
                                h.len(),
                                h.join(" ")
                            ),
                        );
                        continue;
                    }
                    let row: BTreeMap<&str, &str> = h
                        .iter()
                        .map(|s| s.as_str())
                        .zip(words.iter().copied())
                        .collect();
                    self.tuple(&ctx, &row);
                }
            }
        }
    }

    /// Required and allowed header fields per table.
    fn header(&mut self, c: &Ctx, h: &[String]) -> bool {
        let need: &[&str] = match c.table {
            "E911PSAP" => &["PSAPNAME", "ANIFMT", "SUPV", "POSITIONS", "OVFL", "AGENCY"],
            "E911NPD" => &["NPD", "SNPA"],
            "E911ESN" => &[
                "ESN", "FLASH", "PRIMPSAP", "PSAP1", "PSAP2", "PSAP3", "PSAP4", "PSAP5", "PSAP6",
            ],
            "E911SRDB" => &["ESN"],
            "OFCENG" => &["PARMNAME", "PARMVAL"],
            _ => &[
                "GRPKEY", "GRPTYP", "SIG", "SUPV", "CALLED", "ANI", "NPA", "DEFESN", "ESCO",
                "ANIDELAY",
            ],
        };
        let mut ok = true;
        for n in need {
            if !h.iter().any(|x| x == n) {
                self.err(
                    c,
                    n,
                    format!("missing from the header (needs {})", need.join(" ")),
                );
                ok = false;
            }
        }
        if c.table == "E911SRDB" {
            let tn = h.iter().any(|x| x == "TN");
            let split = h.iter().any(|x| x == "NPA") && h.iter().any(|x| x == "DN");
            if !tn && !split {
                self.err(
                    c,
                    "TN",
                    "the header needs TN (10 digits) or NPA and DN".to_string(),
                );
                ok = false;
            }
        }
        for x in h {
            let allowed = need.contains(&x.as_str())
                || (c.table == "E911SRDB" && ["TN", "NPA", "DN"].contains(&x.as_str()));
            if !allowed {
                self.err(c, x, "unknown field".to_string());
                ok = false;
            }
        }
        ok
    }

    fn tuple(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        match c.table {
            "E911PSAP" => self.psap(c, r),
            "E911NPD" => self.npd(c, r),
            "E911ESN" => self.esn(c, r),
            "E911SRDB" => self.srdb(c, r),
            "OFCENG" => self.ofceng(c, r),
            _ => self.trkgrp(c, r),
        }
    }

    fn name(&mut self, c: &Ctx, field: &str, v: &str) -> Option<String> {
        let ok = (1..=16).contains(&v.len()) && v.chars().all(|ch| ch.is_ascii_alphanumeric());
        if !ok {
            self.err(
                c,
                field,
                format!("`{v}` is not a name of 1–16 letters and digits"),
            );
            return None;
        }
        Some(v.to_ascii_uppercase())
    }

    fn number<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
        &mut self,
        c: &Ctx,
        field: &str,
        v: &str,
        lo: T,
        hi: T,
    ) -> Option<T> {
        match v.parse::<T>() {
            Ok(n) if n >= lo && n <= hi => Some(n),
            _ => {
                self.err(c, field, format!("`{v}` is not a number {lo}–{hi}"));
                None
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        c: &Ctx,
        field: &str,
        v: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let up = v.to_ascii_uppercase();
        match options.iter().find(|(k, _)| *k == up) {
            Some((_, t)) => Some(*t),
            None => {
                let names: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
                self.err(
                    c,
                    field,
                    format!("`{v}` is not one of {}", names.join(", ")),
                );
                None
            }
        }
    }

    /// A PSAP reference: NONE, or a PSAP already in E911PSAP.
    fn psap_ref(&mut self, c: &Ctx, field: &str, v: &str, none_ok: bool) -> Option<Option<String>> {
        if v.eq_ignore_ascii_case("NONE") {
            if none_ok {
                return Some(None);
            }
            self.err(c, field, "NONE is not a valid entry here".to_string());
            return None;
        }
        let n = self.name(c, field, v)?;
        if !self.out.office.psaps.contains_key(&n) {
            self.err(
                c,
                field,
                format!("{n} is not in E911PSAP (datafill E911PSAP first)"),
            );
            return None;
        }
        Some(Some(n))
    }

    fn finish(mut self) -> Loaded {
        let office = &self.out.office;
        let mut extra: Vec<Problem> = Vec::new();
        let p = |file: &Path, line, table: &str, field: &str, message: String, warning| Problem {
            file: file.to_path_buf(),
            line,
            table: table.into(),
            field: field.into(),
            message,
            warning,
        };
        // OVFL may name a PSAP datafilled later in E911PSAP; check once the table is complete.
        for ps in office.psaps.values() {
            if let Some(o) = &ps.overflow {
                if !office.psaps.contains_key(o) {
                    extra.push(p(
                        &ps.file,
                        ps.line,
                        "E911PSAP",
                        "OVFL",
                        format!("{o} is not in E911PSAP"),
                        false,
                    ));
                }
            }
        }
        // A 1DIGIT PSAP needs E911NPD.
        if let Some((file, line)) = &self.any_one_digit {
            if office.npd.is_empty() {
                extra.push(p(
                    file,
                    *line,
                    "E911PSAP",
                    "ANIFMT",
                    "1DIGIT needs table E911NPD (the NPD encodes the caller's NPA)".into(),
                    false,
                ));
            }
        }
        // The seed: one agency type per column, office-wide.
        for col in 0..6 {
            let mut agencies: BTreeMap<&str, &Esn> = BTreeMap::new();
            for e in office.esns.values() {
                if let Some(ps) = e.secondary[col].as_ref().and_then(|n| office.psaps.get(n)) {
                    agencies.entry(ps.agency.as_str()).or_insert(e);
                }
            }
            if agencies.len() > 1 {
                let list: Vec<&str> = agencies.keys().copied().collect();
                let last = agencies.values().max_by_key(|e| e.line).copied();
                if let Some(e) = last {
                    let field = ["PSAP1", "PSAP2", "PSAP3", "PSAP4", "PSAP5", "PSAP6"][col];
                    let m = format!(
                        "the column mixes agencies {} (keep one agency type per column)",
                        list.join(", ")
                    );
                    extra.push(p(&e.file, e.line, "E911ESN", field, m, true));
                }
            }
        }
        self.out.problems.extend(extra);
        self.out
    }
}
