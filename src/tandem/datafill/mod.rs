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
    /// Tables that had at least one tuple line, good or bad.
    rows_seen: BTreeSet<&'static str>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.warning)
    }

    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }
}

/// Load datafill from `(file name, text)` pairs. Within one file the tables must come in the
/// datafill order; across files (a directory: the office's tables, and an E911SRDB written by
/// `msag validate --srdb`) each table is taken in that order, whichever file holds it.
pub fn load(sources: &[(PathBuf, String)]) -> Loaded {
    let mut l = Loader::default();
    // (table order, file, first line index, lines) for every table section of every file.
    let mut sections: Vec<(usize, usize, usize, Vec<&str>)> = Vec::new();
    for (f, (file, text)) in sources.iter().enumerate() {
        let mut order = 0;
        let mut start = 0;
        let mut pos = 0;
        let lines: Vec<&str> = text.lines().collect();
        for (i, raw) in lines.iter().enumerate() {
            let words: Vec<&str> = raw
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            if words
                .first()
                .is_some_and(|w| w.eq_ignore_ascii_case("TABLE"))
            {
                sections.push((pos, f, start, lines[start..i].to_vec()));
                start = i;
                let name = words
                    .get(1)
                    .map(|s| s.to_ascii_uppercase())
                    .unwrap_or_default();
                if let Some(p) = TABLE_ORDER.iter().position(|&t| t == name) {
                    if p < order {
                        l.out.problems.push(Problem {
                            file: file.clone(),
                            line: i + 1,
                            table: TABLE_ORDER[p].into(),
                            field: String::new(),
                            message: format!(
                                "datafilled after {}: tables go in the order {}",
                                TABLE_ORDER[order],
                                TABLE_ORDER.join(" → ")
                            ),
                            warning: false,
                        });
                    }
                    order = order.max(p);
                    pos = p;
                }
            }
        }
        sections.push((pos, f, start, lines[start..].to_vec()));
    }
    sections.sort_by_key(|s| s.0);
    for (_, f, start, lines) in &sections {
        l.file(&sources[*f].0, *start, lines);
    }
    let mut loaded = l.finish();
    loaded.files = sources.iter().map(|s| s.0.clone()).collect();
    // Problems in the order of the files and their lines, whatever order the tables loaded in.
    let rank = |f: &PathBuf| sources.iter().position(|s| s.0 == *f).unwrap_or(usize::MAX);
    loaded.problems.sort_by_key(|p| (rank(&p.file), p.line));
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
            // A table whose rows were all refused has had its say; only a missing one is news.
            if empty
                && !self.rows_seen.contains(table)
                && !self.problems.iter().any(|p| p.table == table)
            {
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
    seen: BTreeSet<String>,
    /// Where a table's rows live, for messages about a whole table.
    any_one_digit: Option<(PathBuf, usize)>,
    /// Keys of rows refused for a fault already reported, and tables whose header was refused:
    /// a reference to one is not reported again (one typo, one message — not a cascade).
    refused_psaps: BTreeSet<String>,
    refused_esns: BTreeSet<u16>,
    refused_tables: BTreeSet<&'static str>,
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

    /// One table section of `file`: `lines`, the first of them at index `first`.
    fn file(&mut self, file: &Path, first: usize, lines: &[&str]) {
        let mut table: Option<String> = None;
        let mut header: Option<Vec<String>> = None;
        // The rows under a refused header: skipped, their table's fault already said.
        let mut skipping = false;
        for (i, raw) in lines.iter().enumerate() {
            let i = first + i;
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
                        if !self.seen.insert(name.clone()) {
                            // Its rows would each be "datafilled twice": one message is enough.
                            self.err(
                                &here,
                                "",
                                "table datafilled twice (its rows are not read)".to_string(),
                            );
                            skipping = true;
                            header = None;
                            table = None;
                            continue;
                        }
                        table = Some(name);
                    }
                }
                header = None;
                skipping = false;
                continue;
            }
            if skipping {
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
                        self.refused_tables.insert(tname);
                        skipping = true;
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
        let missing: Vec<&str> = need
            .iter()
            .copied()
            .filter(|n| !h.iter().any(|x| x == n))
            .collect();
        let unknown: Vec<&String> = h
            .iter()
            .filter(|x| {
                !(need.contains(&x.as_str())
                    || (c.table == "E911SRDB" && ["TN", "NPA", "DN"].contains(&x.as_str())))
            })
            .collect();
        let srdb_key = c.table != "E911SRDB"
            || h.iter().any(|x| x == "TN")
            || (h.iter().any(|x| x == "NPA") && h.iter().any(|x| x == "DN"));
        let incomplete = !missing.is_empty() || !srdb_key;
        if !unknown.is_empty() && incomplete {
            // A misspelt field: one message, naming what the header lacks.
            let mut lacks: Vec<&str> = missing.clone();
            if !srdb_key {
                lacks.push("TN (or NPA and DN)");
            }
            for x in &unknown {
                self.err(
                    c,
                    x,
                    format!("unknown field (the header lacks {})", lacks.join(" ")),
                );
            }
            return false;
        }
        for x in &unknown {
            self.err(c, x, "unknown field".to_string());
        }
        for n in &missing {
            self.err(
                c,
                n,
                format!("missing from the header (needs {})", need.join(" ")),
            );
        }
        if !srdb_key {
            self.err(
                c,
                "TN",
                "the header needs TN (10 digits) or NPA and DN".to_string(),
            );
        }
        unknown.is_empty() && missing.is_empty() && srdb_key
    }

    fn tuple(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        if let Some(t) = TABLE_ORDER.iter().find(|&&t| t == c.table) {
            self.out.rows_seen.insert(t);
        }
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
            // Refused for a fault already reported: not reported again here.
            if self.psap_refused(&n) {
                return None;
            }
            self.err(
                c,
                field,
                format!("{n} is not in E911PSAP (datafill E911PSAP first)"),
            );
            return None;
        }
        Some(Some(n))
    }

    /// Was PSAP `n` (or its whole table) refused for a fault already reported?
    fn psap_refused(&self, n: &str) -> bool {
        self.refused_psaps.contains(n) || self.refused_tables.contains("E911PSAP")
    }

    /// Was ESN `e` (or its whole table) refused for a fault already reported?
    fn esn_refused(&self, e: u16) -> bool {
        self.refused_esns.contains(&e) || self.refused_tables.contains("E911ESN")
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
                if !office.psaps.contains_key(o) && !self.psap_refused(o) {
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
        // An overflow chain that comes back on itself is legal (two PSAPs backing each other
        // up), but a call for which all are busy then queues at its primary: say so, once per loop.
        let mut reported: BTreeSet<String> = BTreeSet::new();
        for ps in office.psaps.values() {
            let mut chain = vec![ps.name.clone()];
            let mut at = ps;
            while let Some(next) = at.overflow.as_ref().and_then(|o| office.psaps.get(o)) {
                if let Some(i) = chain.iter().position(|n| *n == next.name) {
                    let mut cycle: Vec<String> = chain[i..].to_vec();
                    let mut key = cycle.clone();
                    key.sort();
                    if i == 0 && reported.insert(key.join(" ")) {
                        cycle.push(next.name.clone());
                        extra.push(p(
                            &ps.file,
                            ps.line,
                            "E911PSAP",
                            "OVFL",
                            format!(
                                "overflow loop {}: when every position in it is busy a call queues at its primary PSAP",
                                cycle.join(" → ")
                            ),
                            true,
                        ));
                    }
                    break;
                }
                chain.push(next.name.clone());
                at = next;
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
