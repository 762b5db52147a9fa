//! The enterprise side of a scenario (docs/simulate.md §Enterprise, docs/location.md): a Lync
//! location service and ELIN gateway in front of an end office, and a SIP-trunk E9-1-1 provider
//! with its ESGW trunk into the tandem. Resolved when the scenario loads, in time order: each
//! enterprise call gets its ERL and ELIN (its ANI), each SIP call its ESQK (its ANI) or the ECRC,
//! each PSAP callback the caller it reaches; the carrier's ALI and E911SRDB are provisioned the
//! way location.md says (ELIN → ERL address, ESN from the MSAG; ESQK pools → ESN).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::scenario::{ms, AniSpec, CallSpec, ReadFile};
use crate::location::ali::Ali;
use crate::location::enterprise::{elin_record, ElinGateway, SipProvider, SipRoute};
use crate::location::lis::{Client, Lis, Table};
use crate::location::msag::Msag;
use crate::location::pidf::{self, PidfLo};
use crate::tandem::tables::Office;
use crate::text::tn_dashed;
use crate::units::samples_to_ms;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseFile {
    pub name: String,
    pub lis_wap: Option<String>,
    pub lis_port: Option<String>,
    pub lis_switch: Option<String>,
    pub lis_subnet: Option<String>,
    pub lis_mac: Option<String>,
    /// ELIN → caller mapping kept this long for callbacks (0–60, default 30).
    pub callback_minutes: Option<u32>,
    /// `no` (default), `yes`, `disclaimer`: what the client does without a location.
    pub location_required: Option<String>,
    /// The SIP-trunk provider's trunk group into the tandem (its ESGW).
    pub sip_trunk: Option<String>,
    /// NPA of the provider's ESQKs (default: the SIP trunk group's NPA).
    pub sip_npa: Option<u16>,
    pub esqk_per_esn: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    pub bssid: Option<String>,
    pub chassis: Option<String>,
    pub port: Option<String>,
    pub ip: Option<String>,
    pub mac: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipCallFile {
    pub at_ms: f64,
    pub user: String,
    /// A PIDF-LO file; else the client's ERL from the location service (written as PIDF-LO).
    pub pidf: Option<String>,
    pub client: Option<ClientFile>,
    pub callback: String,
    pub hold_ms: Option<f64>,
    pub voice: Option<String>,
    #[serde(default)]
    pub psap: Vec<super::scenario::ActionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackFile {
    pub at_ms: f64,
    pub elin: String,
}

impl ClientFile {
    pub fn client(&self) -> Result<Client, String> {
        Ok(Client {
            bssid: self.bssid.clone(),
            chassis: self.chassis.clone(),
            port: self.port.clone(),
            ip: match &self.ip {
                Some(s) => Some(
                    s.parse()
                        .map_err(|_| format!("ip: `{s}` is not an IPv4 address"))?,
                ),
                None => None,
            },
            mac: self.mac.clone(),
        })
    }
}

fn tn10(s: &str, what: &str) -> Result<u64, String> {
    let d: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    if d.len() != 10 {
        return Err(format!("{what}: `{s}` is not a 10-digit number"));
    }
    Ok(d.parse().unwrap())
}

/// Something the enterprise side did, for the log: provisioning (no call), a step of a scenario
/// call, or a call that never reaches the tandem (a SIP call sent to the ECRC, a PSAP callback).
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Samples.
    pub at: u64,
    /// The scenario call (1-based, file order) this note is about.
    pub call: Option<usize>,
    pub text: String,
    pub event: NoteEvent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NoteEvent {
    /// Provisioning or a step of a tandem call.
    Info,
    /// A SIP call the provider sent to the ECRC (it never reaches the tandem).
    Ecrc {
        user: String,
        callback: String,
        reason: String,
    },
    /// A PSAP calling an ELIN back through the gateway.
    Callback {
        elin: String,
        /// The enterprise user the gateway rings (None: the ELIN's default destination).
        reaches: Option<String>,
    },
}

impl Note {
    fn info(at: u64, text: String) -> Note {
        Note {
            at,
            call: None,
            text,
            event: NoteEvent::Info,
        }
    }

    fn call(at: u64, call: usize, text: String) -> Note {
        Note {
            at,
            call: Some(call),
            text,
            event: NoteEvent::Info,
        }
    }
}

/// Builds the tandem call of a routed SIP call: `(call number, the SIP call, trunk, ESQK)`.
pub type MakeSipCall<'a> = dyn Fn(usize, &SipCallFile, &str, u64) -> Result<CallSpec, String> + 'a;

/// What the enterprise pass needs from the scenario.
pub struct Inputs<'a> {
    pub name: &'a str,
    pub ent: Option<&'a EnterpriseFile>,
    pub msag: Option<&'a Msag>,
    pub sip_calls: &'a [SipCallFile],
    pub callbacks: &'a [CallbackFile],
    pub trunks: &'a BTreeMap<String, usize>,
    pub read: &'a ReadFile<'a>,
}

/// Resolve the enterprise calls (in `calls`, those with a client), add the SIP calls, answer the
/// callbacks; provision `office` (E911SRDB) and `ali`. Returns time-stamped notes for the log.
pub fn apply(
    inp: Inputs<'_>,
    office: &mut Office,
    ali: &mut Ali,
    calls: &mut Vec<CallSpec>,
    make_sip_call: &MakeSipCall<'_>,
) -> Result<Vec<Note>, String> {
    let name = inp.name;
    let needs = calls.iter().any(|c| c.client.is_some())
        || !inp.sip_calls.is_empty()
        || !inp.callbacks.is_empty();
    let Some(ent) = inp.ent else {
        if needs {
            return Err(format!(
                "{name}: enterprise calls, SIP calls and callbacks need an [enterprise] section"
            ));
        }
        return Ok(Vec::new());
    };
    let mut notes: Vec<Note> = Vec::new();
    // The location service.
    let mut lis = Lis::default();
    for (t, f) in [
        (Table::Wap, &ent.lis_wap),
        (Table::Port, &ent.lis_port),
        (Table::Switch, &ent.lis_switch),
        (Table::Subnet, &ent.lis_subnet),
        (Table::Mac, &ent.lis_mac),
    ] {
        if let Some(rel) = f {
            let (p, text) = (inp.read)(rel).map_err(|e| format!("{name}: enterprise: {e}"))?;
            lis.load(t, &text).map_err(|e| {
                let v: Vec<String> = e.iter().map(|l| format!("{}:{l}", p.display())).collect();
                super::scenario::first_of(&v, "each is on its own line of the file")
            })?;
        }
    }
    // The carrier loads each ELIN's ERL into ALI, and E911SRDB gets its ESN from the MSAG.
    for erl in lis.erls() {
        for elin in erl.elins() {
            let esn = match inp.msag.map(|m| m.validate(&erl.civic.msag_address())) {
                Some(Ok(r)) => {
                    office.srdb.entry(elin).or_insert(r.esn);
                    notes.push(Note::info(
                        0,
                        format!(
                            "ELIN {} → ERL `{}` ({}): MSAG line {}, ESN {}",
                            tn_dashed(elin),
                            erl.location,
                            erl.civic.one_line(),
                            r.line,
                            r.esn
                        ),
                    ));
                    Some(r.esn)
                }
                Some(Err(f)) => {
                    notes.push(Note::info(
                        0,
                        format!(
                            "ELIN {} → ERL `{}` ({}): MSAG {f}: no E911SRDB row (DEFESN)",
                            tn_dashed(elin),
                            erl.location,
                            erl.civic.one_line()
                        ),
                    ));
                    None
                }
                None => None,
            };
            ali.records.insert(elin, elin_record(elin, erl, esn));
        }
    }
    let mut gw = ElinGateway::new(ent.callback_minutes.unwrap_or(30))
        .map_err(|e| format!("{name}: enterprise.callback_minutes: {e}"))?;
    let policy = ent.location_required.as_deref().unwrap_or("no");
    if !matches!(policy, "no" | "yes" | "disclaimer") {
        return Err(format!(
            "{name}: enterprise.location_required: `{policy}`: no, yes or disclaimer"
        ));
    }
    // Enterprise calls and callbacks in time order (releases before placements at one instant).
    #[derive(Clone, Copy)]
    enum Ev {
        Release(usize),
        Place(usize),
        Callback(usize),
    }
    let mut evs: Vec<(u64, u8, Ev)> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        if c.client.is_some() {
            evs.push((c.at, 1, Ev::Place(i)));
            evs.push((c.at + c.hold, 0, Ev::Release(i)));
        }
    }
    for (k, cb) in inp.callbacks.iter().enumerate() {
        let at = ms(cb.at_ms, &format!("{name}: callback {}: at_ms", k + 1))?;
        evs.push((at, 2, Ev::Callback(k)));
    }
    evs.sort_by_key(|e| (e.0, e.1));
    let mut elin_of: BTreeMap<usize, u64> = BTreeMap::new();
    for (t, _, ev) in evs {
        match ev {
            Ev::Place(i) => {
                let c = &mut calls[i];
                let (user, client) = c.client.clone().unwrap();
                match lis.locate(&client) {
                    Some((erl, via)) => match gw.place(erl, &user, t) {
                        Some(elin) => {
                            c.ani = AniSpec::Tn(elin);
                            c.label = Some(format!(
                                "{} {user} @ `{}` (by {via}), ELIN {}",
                                ent.name,
                                erl.location,
                                tn_dashed(elin)
                            ));
                            elin_of.insert(i, elin);
                            notes.push(Note::call(
                                t,
                                c.n,
                                format!(
                                    "{user} at `{}` (found by {via}): the ELIN gateway sends ELIN {}",
                                    erl.location,
                                    tn_dashed(elin)
                                ),
                            ));
                        }
                        None => {
                            return Err(format!(
                                "{name}: call {}: ERL `{}` has no ELIN in CompanyName",
                                c.n, erl.location
                            ))
                        }
                    },
                    None => {
                        if c.ani == AniSpec::Fail {
                            return Err(format!(
                                "{name}: call {}: client: no ERL for this client in the location service and no `ani` to fall back on",
                                c.n
                            ));
                        }
                        notes.push(Note::call(
                            t,
                            c.n,
                            format!(
                                "{user} has no location (policy `{policy}`{}): the gateway sends the user's number",
                                if policy == "no" { "" } else { ": the user was warned" }
                            ),
                        ));
                    }
                }
            }
            Ev::Release(i) => {
                if let Some(e) = elin_of.get(&i) {
                    gw.release(*e);
                }
            }
            Ev::Callback(k) => {
                let cb = &inp.callbacks[k];
                let elin = tn10(&cb.elin, &format!("{name}: callback {}: elin", k + 1))?;
                let found = gw.callback(elin, t);
                let text = match &found {
                    Some((who, at)) => format!(
                        "a PSAP calls back ELIN {}: the gateway rings {who} (the caller at {:.2} s, {:.1} min ago)",
                        tn_dashed(elin),
                        samples_to_ms(*at) / 1000.0,
                        samples_to_ms(t - at) / 60_000.0
                    ),
                    None => format!(
                        "a PSAP calls back ELIN {}: no caller on it within {} min — the ELIN's default destination answers",
                        tn_dashed(elin),
                        gw.window / crate::units::SECOND / 60
                    ),
                };
                notes.push(Note {
                    at: t,
                    call: None,
                    text,
                    event: NoteEvent::Callback {
                        elin: tn_dashed(elin),
                        reaches: found.map(|(who, _)| who.to_string()),
                    },
                });
            }
        }
    }
    // The SIP-trunk provider.
    if !inp.sip_calls.is_empty() {
        let trunk = ent
            .sip_trunk
            .as_deref()
            .ok_or_else(|| format!("{name}: SIP calls need enterprise.sip_trunk"))?;
        let tg = office
            .trunk_groups
            .get(trunk)
            .ok_or_else(|| format!("{name}: enterprise.sip_trunk: {trunk} is not in TRKGRP"))?
            .clone();
        if !inp.trunks.contains_key(trunk) {
            return Err(format!(
                "{name}: enterprise.sip_trunk: {trunk} has no trunks (add it under [trunks])"
            ));
        }
        let msag = inp.msag.ok_or_else(|| {
            format!("{name}: SIP calls need an msag (the provider validates against it)")
        })?;
        let esns: Vec<u16> = office.esns.keys().copied().collect();
        let npa = ent.sip_npa.unwrap_or(tg.npa);
        if !(200..=999).contains(&npa) {
            return Err(format!(
                "{name}: enterprise.sip_npa: {npa} is not an NPA (200–999)"
            ));
        }
        // ESQKs are NPA-211-BBKK: a block of 100 per ESN.
        let per_esn = ent.esqk_per_esn.unwrap_or(10);
        if !(1..=100).contains(&per_esn) {
            return Err(format!(
                "{name}: enterprise.esqk_per_esn: {per_esn} (1–100: NPA-211-BBKK gives each ESN a block of 100)"
            ));
        }
        if esns.len() > 100 {
            return Err(format!(
                "{name}: SIP calls: {} ESNs, but the provider's ESQK blocks (NPA-211-BBKK) cover 100",
                esns.len()
            ));
        }
        let mut sp = SipProvider::new(msag.clone(), npa, &esns, per_esn);
        for (k, e) in sp.srdb_rows() {
            office.srdb.entry(k).or_insert(e);
        }
        let mut order: Vec<usize> = (0..inp.sip_calls.len()).collect();
        order.sort_by(|&a, &b| inp.sip_calls[a].at_ms.total_cmp(&inp.sip_calls[b].at_ms));
        for k in order {
            let s = &inp.sip_calls[k];
            let what = format!("{name}: sip_call {}", k + 1);
            let cbn = tn10(&s.callback, &format!("{what}: callback"))?;
            let doc = match (&s.pidf, &s.client) {
                (Some(rel), _) => {
                    let (p, text) = (inp.read)(rel).map_err(|e| format!("{what}: pidf: {e}"))?;
                    Some(PidfLo::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?)
                }
                (None, Some(cf)) => {
                    let client = cf.client().map_err(|e| format!("{what}: client: {e}"))?;
                    lis.locate(&client).map(|(erl, _)| {
                        PidfLo::parse(&pidf::write(erl, &format!("sip:{}", s.user), "LLDP-MED"))
                            .expect("our own PIDF-LO parses")
                    })
                }
                (None, None) => None,
            };
            let at = ms(s.at_ms, &format!("{what}: at_ms"))?;
            match sp.route(doc.as_ref(), cbn) {
                SipRoute::Psap { esn, esqk } => {
                    ali.records.insert(esqk, sp.ali[&esqk].clone());
                    let n = calls.len() + 1;
                    let mut c = make_sip_call(n, s, trunk, esqk)?;
                    c.kind = "sip";
                    c.label = Some(format!(
                        "SIP {} via the provider: ESQK {} (ESN {esn}), callback {}",
                        s.user,
                        tn_dashed(esqk),
                        tn_dashed(cbn)
                    ));
                    notes.push(Note::call(
                        at,
                        n,
                        format!(
                            "SIP call from {}: location validated, ESN {esn}, ESQK {} on {trunk}",
                            s.user,
                            tn_dashed(esqk)
                        ),
                    ));
                    calls.push(c);
                }
                SipRoute::Ecrc(why) => notes.push(Note {
                    at,
                    call: None,
                    text: format!(
                        "SIP call from {} (callback {}) → ECRC: {why}",
                        s.user,
                        tn_dashed(cbn)
                    ),
                    event: NoteEvent::Ecrc {
                        user: s.user.clone(),
                        callback: tn_dashed(cbn),
                        reason: why.to_string(),
                    },
                }),
            }
        }
    }
    notes.sort_by_key(|n| n.at);
    Ok(notes)
}
