//! One tuple of each table, checked field by field against its rules (docs/datafill.md):
//! E911PSAP, E911NPD, E911ESN, E911SRDB, TRKGRP and OFCENG.

use super::*;

impl Loader {
    pub(super) fn psap(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        let name = self.name(c, "PSAPNAME", r["PSAPNAME"]);
        if name.as_deref() == Some("NONE") {
            self.err(
                c,
                "PSAPNAME",
                "NONE is reserved, not a PSAP name".to_string(),
            );
            return;
        }
        let fmt = self.choice(
            c,
            "ANIFMT",
            r["ANIFMT"],
            &[
                ("1DIGIT", AniFormat::OneDigit),
                ("3DIGIT", AniFormat::ThreeDigit),
            ],
        );
        let supv = self.choice(
            c,
            "SUPV",
            r["SUPV"],
            &[("SF", Supv::Sf), ("NONE", Supv::None)],
        );
        let pos = self.number(c, "POSITIONS", r["POSITIONS"], 1u32, 99);
        let ovfl = r["OVFL"];
        let overflow = if ovfl.eq_ignore_ascii_case("NONE") {
            Some(None)
        } else {
            self.name(c, "OVFL", ovfl).map(Some)
        };
        let agency = r["AGENCY"].to_ascii_uppercase();
        let (Some(name), Some(ani_format), Some(supv), Some(positions), Some(overflow)) =
            (name.clone(), fmt, supv, pos, overflow)
        else {
            // A name already loaded stays good (a second, faulty row of it is its own error).
            if let Some(n) = name.filter(|n| !self.out.office.psaps.contains_key(n)) {
                self.refused_psaps.insert(n);
            }
            return;
        };
        if overflow.as_deref() == Some(name.as_str()) {
            self.err(c, "OVFL", format!("{name} cannot overflow to itself"));
            return;
        }
        if self.out.office.psaps.contains_key(&name) {
            self.err(c, "PSAPNAME", format!("{name} datafilled twice"));
            return;
        }
        if ani_format == AniFormat::OneDigit && self.any_one_digit.is_none() {
            self.any_one_digit = Some((c.file.to_path_buf(), c.line));
        }
        self.out.office.psaps.insert(
            name.clone(),
            Psap {
                name,
                ani_format,
                supv,
                positions,
                overflow,
                agency,
                file: c.file.to_path_buf(),
                line: c.line,
            },
        );
    }

    pub(super) fn npd(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        let npd = self.number(c, "NPD", r["NPD"], 0u8, 3);
        let snpa = self.area_code(c, "SNPA", r["SNPA"]);
        let (Some(npd), Some(snpa)) = (npd, snpa) else {
            return;
        };
        if self.out.office.npd.contains_key(&npd) {
            self.err(c, "NPD", format!("NPD {npd} datafilled twice"));
        } else if let Some(other) = self.out.office.npd_of(snpa) {
            self.err(
                c,
                "SNPA",
                format!("{snpa} already has NPD {other} (one NPD per SNPA)"),
            );
        } else {
            self.out.office.npd.insert(npd, snpa);
        }
    }

    pub(super) fn area_code(&mut self, c: &Ctx, field: &str, v: &str) -> Option<u16> {
        let ok = v.len() == 3
            && v.chars().all(|ch| ch.is_ascii_digit())
            && !v.starts_with('0')
            && !v.starts_with('1');
        if !ok {
            self.err(
                c,
                field,
                format!("`{v}` is not an area code (3 digits, NXX)"),
            );
            return None;
        }
        v.parse().ok()
    }

    pub(super) fn esn(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        let esn = self.number(c, "ESN", r["ESN"], 0u16, 15_999);
        let flash = self.choice(c, "FLASH", r["FLASH"], &[("Y", true), ("N", false)]);
        let primary = self.psap_ref(c, "PRIMPSAP", r["PRIMPSAP"], false);
        let mut secondary: [Option<String>; 6] = Default::default();
        let mut ok = true;
        for (k, slot) in secondary.iter_mut().enumerate() {
            let f = format!("PSAP{}", k + 1);
            match self.psap_ref(c, &f, r[f.as_str()], true) {
                Some(v) => *slot = v,
                None => ok = false,
            }
        }
        let (Some(esn), Some(flash), Some(Some(primary)), true) = (esn, flash, primary, ok) else {
            if let Some(e) = esn.filter(|e| !self.out.office.esns.contains_key(e)) {
                self.refused_esns.insert(e);
            }
            return;
        };
        if self.out.office.esns.contains_key(&esn) {
            self.err(c, "ESN", format!("ESN {esn} datafilled twice"));
            return;
        }
        if self.out.office.esns.len() == MAX_ESN_ROWS {
            self.err(
                c,
                "ESN",
                format!(
                    "more than {MAX_ESN_ROWS} rows (an office serves at most {MAX_ESN_ROWS} ESZs)"
                ),
            );
            return;
        }
        self.out.office.esns.insert(
            esn,
            Esn {
                esn,
                flash,
                primary,
                secondary,
                file: c.file.to_path_buf(),
                line: c.line,
            },
        );
    }

    pub(super) fn srdb(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        let tn = match (r.get("TN"), r.get("NPA"), r.get("DN")) {
            (Some(tn), _, _) => {
                let ok = tn.len() == 10 && tn.chars().all(|ch| ch.is_ascii_digit());
                if !ok {
                    self.err(c, "TN", format!("`{tn}` is not a 10-digit TN"));
                    None
                } else {
                    self.area_code(c, "TN", &tn[..3])
                        .and_then(|_| tn.parse::<u64>().ok())
                }
            }
            (None, Some(npa), Some(dn)) => {
                let a = self.area_code(c, "NPA", npa);
                let ok = dn.len() == 7 && dn.chars().all(|ch| ch.is_ascii_digit());
                if !ok {
                    self.err(c, "DN", format!("`{dn}` is not a 7-digit DN"));
                }
                match (a, ok) {
                    (Some(a), true) => dn.parse::<u64>().ok().map(|d| a as u64 * 10_000_000 + d),
                    _ => None,
                }
            }
            _ => None,
        };
        let esn = self.number(c, "ESN", r["ESN"], 0u16, 15_999);
        let (Some(tn), Some(esn)) = (tn, esn) else {
            return;
        };
        if !self.out.office.esns.contains_key(&esn) {
            if !self.esn_refused(esn) {
                self.err(c, "ESN", format!("ESN {esn} is not in E911ESN"));
            }
            return;
        }
        if self.out.office.srdb.insert(tn, esn).is_some() {
            self.err(c, "TN", format!("{tn} datafilled twice"));
        }
    }

    pub(super) fn trkgrp(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        let key = self.name(c, "GRPKEY", r["GRPKEY"]);
        let typ = self.choice(c, "GRPTYP", r["GRPTYP"], &[("E911", ())]);
        let sig = self.choice(c, "SIG", r["SIG"], &[("MF", Sig::Mf), ("DP", Sig::Dp)]);
        let supv = self.choice(
            c,
            "SUPV",
            r["SUPV"],
            &[("SF", Supv::Sf), ("NONE", Supv::None)],
        );
        let called = self.choice(
            c,
            "CALLED",
            r["CALLED"],
            &[
                ("911", Called::D911),
                ("11", Called::D11),
                ("1", Called::D1),
                ("NONE", Called::None),
            ],
        );
        let ani = self.choice(c, "ANI", r["ANI"], &[("Y", true), ("N", false)]);
        let npa = self.area_code(c, "NPA", r["NPA"]);
        let defesn = self.number(c, "DEFESN", r["DEFESN"], 0u16, 15_999);
        let esco = {
            let v = r["ESCO"];
            if v.len() == 2 && v.chars().all(|ch| ch.is_ascii_digit()) {
                v.parse::<u8>().ok()
            } else {
                self.err(c, "ESCO", format!("`{v}` is not a two-digit ESCO"));
                None
            }
        };
        let delay = self.number(c, "ANIDELAY", r["ANIDELAY"], 0u32, 10_000);
        if let Some(d) = defesn {
            if !self.out.office.esns.contains_key(&d) && !self.esn_refused(d) {
                self.err(
                    c,
                    "DEFESN",
                    format!("ESN {d} is not in E911ESN (a trunk group's default ESN must exist)"),
                );
            }
        }
        if let (Some(n), Some(_)) = (npa, self.any_one_digit.as_ref()) {
            if self.out.office.npd_of(n).is_none() {
                self.err(c, "NPA", format!("{n} is not in E911NPD, and a PSAP takes 1DIGIT ANI (the NPD encodes the NPA)"));
            }
        }
        if sig == Some(Sig::Dp) && supv == Some(Supv::None) {
            self.err(
                c,
                "SIG",
                "dial pulses need SF supervision (SUPV NONE carries no pulses)".to_string(),
            );
        }
        let (
            Some(key),
            Some(()),
            Some(sig),
            Some(supv),
            Some(called),
            Some(ani),
            Some(npa),
            Some(default_esn),
            Some(esco),
            Some(ani_delay_ms),
        ) = (key, typ, sig, supv, called, ani, npa, defesn, esco, delay)
        else {
            return;
        };
        if !self.out.office.esns.contains_key(&default_esn) {
            return;
        }
        if self.out.office.trunk_groups.contains_key(&key) {
            self.err(c, "GRPKEY", format!("{key} datafilled twice"));
            return;
        }
        self.out.office.trunk_groups.insert(
            key.clone(),
            TrunkGroup {
                key,
                sig,
                supv,
                called,
                ani,
                npa,
                default_esn,
                esco,
                ani_delay_ms,
                line: c.line,
            },
        );
    }

    /// An office parameter. The one read: `MF_RECEIVERS`, the size of the MF receiver pool.
    pub(super) fn ofceng(&mut self, c: &Ctx, r: &BTreeMap<&str, &str>) {
        let name = r["PARMNAME"].to_ascii_uppercase();
        match name.as_str() {
            "MF_RECEIVERS" => {
                if let Some(n) = self.number(c, "PARMVAL", r["PARMVAL"], 1u32, MAX_MF_RECEIVERS) {
                    if self.out.office.mf_receivers.replace(n).is_some() {
                        self.err(c, "PARMNAME", "MF_RECEIVERS datafilled twice".to_string());
                    }
                }
            }
            _ => self.err(
                c,
                "PARMNAME",
                format!("unknown parameter `{name}` (parameters: MF_RECEIVERS)"),
            ),
        }
    }
}
