//! The two enterprise paths of Lync Server 2013 E9-1-1 (seed 000; location.md §Enterprise):
//!
//! - [`ElinGateway`]: picks an ELIN of the caller's ERL for the call (an unused one first; else the
//!   one with the fewest active calls; ties → longest since last use), sends it as the calling
//!   number on the CAMA/PSTN trunk — the tandem sees it as ANI — and remembers ELIN → caller so a
//!   PSAP callback to the ELIN within the window (default 30 min, 0–60) reaches the caller.
//! - [`SipProvider`]: validates the PIDF-LO civic address against the MSAG; a validated location
//!   routes to the PSAP of its ESN with an ESQK (NPA-211-XXXX) that the PSAP's ALI query resolves
//!   to the caller's ERL; a missing, manual or unvalidated location goes to the ECRC.
//!
//! Times are in samples; no I/O.

use std::collections::BTreeMap;

use super::ali::AliRecord;
use super::lis::{Civic, Erl};
use super::msag::Msag;
use super::pidf::PidfLo;

#[derive(Debug, Clone)]
struct ElinState {
    active: u32,
    last_used: Option<u64>,
}

/// The ELIN gateway.
#[derive(Debug, Clone)]
pub struct ElinGateway {
    elins: BTreeMap<u64, ElinState>,
    /// ELIN → (caller, when the call started).
    callers: BTreeMap<u64, (String, u64)>,
    /// Callback window in samples.
    pub window: u64,
}

impl ElinGateway {
    /// `minutes`: the callback window (0–60).
    pub fn new(minutes: u32) -> Result<Self, String> {
        if minutes > 60 {
            return Err(format!("callback window {minutes} min: 0–60"));
        }
        Ok(ElinGateway {
            elins: BTreeMap::new(),
            callers: BTreeMap::new(),
            window: minutes as u64 * 60 * crate::units::SECOND,
        })
    }

    /// Pick the ELIN for a call from `caller` at `erl`, at `now`. `None` if the ERL has no ELIN.
    pub fn place(&mut self, erl: &Erl, caller: &str, now: u64) -> Option<u64> {
        let cands = erl.elins();
        let pick = cands.iter().copied().min_by_key(|e| {
            let s = self.elins.get(e);
            let active = s.map_or(0, |s| s.active);
            // Never used sorts before any use; then the oldest use.
            let last = s.and_then(|s| s.last_used).map_or(0, |t| t + 1);
            (active, last)
        })?;
        let s = self.elins.entry(pick).or_insert(ElinState {
            active: 0,
            last_used: None,
        });
        s.active += 1;
        s.last_used = Some(now);
        self.callers.insert(pick, (caller.to_string(), now));
        Some(pick)
    }

    /// The call on `elin` ended.
    pub fn release(&mut self, elin: u64) {
        if let Some(s) = self.elins.get_mut(&elin) {
            s.active = s.active.saturating_sub(1);
        }
    }

    /// A PSAP calls `elin` back at `now`: the caller, if the mapping is still within the window.
    pub fn callback(&self, elin: u64, now: u64) -> Option<(&str, u64)> {
        let (c, at) = self.callers.get(&elin)?;
        (now >= *at && now - at <= self.window).then_some((c.as_str(), *at))
    }
}

/// How the SIP-trunk provider routed a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipRoute {
    /// To the PSAP of `esn`, with `esqk` for its ALI query.
    Psap { esn: u16, esqk: u64 },
    /// To the emergency call relay center, and why.
    Ecrc(String),
}

/// The SIP-trunk E9-1-1 provider.
#[derive(Debug, Clone)]
pub struct SipProvider {
    msag: Msag,
    /// ESN → its ESQK pool.
    pools: BTreeMap<u16, Vec<u64>>,
    next: BTreeMap<u16, usize>,
    /// Keys of calls still up ([`SipProvider::route_held`]).
    held: std::collections::BTreeSet<u64>,
    /// ESQK → the ALI record the PSAP gets for it.
    pub ali: BTreeMap<u64, AliRecord>,
    /// Addresses registered for callback numbers (calls that bring no location).
    pub registered: super::registered::Registered,
}

impl SipProvider {
    /// ESQK pools of `per_esn` keys for each ESN: `NPA-211-BBKK` with BB the ESN's index.
    pub fn new(msag: Msag, npa: u16, esns: &[u16], per_esn: u32) -> Self {
        let pools = esns
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                let base = npa as u64 * 10_000_000 + 2_110_000 + i as u64 * 100;
                (e, (0..per_esn.min(100) as u64).map(|k| base + k).collect())
            })
            .collect();
        SipProvider {
            msag,
            pools,
            next: BTreeMap::new(),
            held: Default::default(),
            ali: BTreeMap::new(),
            registered: Default::default(),
        }
    }

    /// Every ESQK with its ESN (E911SRDB rows the provider has the carrier provision).
    pub fn srdb_rows(&self) -> Vec<(u64, u16)> {
        self.pools
            .iter()
            .flat_map(|(&e, v)| v.iter().map(move |&k| (k, e)))
            .collect()
    }

    /// Validate a PIDF-LO's civic address against the MSAG: its ESN, or why it goes to the ECRC.
    pub fn validate(&self, pidf: Option<&PidfLo>) -> Result<u16, String> {
        let Some(p) = pidf.filter(|p| p.has_location()) else {
            return Err("NO LOCATION IN THE INVITE".into());
        };
        if p.method.eq_ignore_ascii_case("manual") {
            return Err("MANUAL LOCATION (NOT VALIDATED)".into());
        }
        let a = p.civic_address().msag_address();
        if let Err(why) = super::msag::house_number(&a.house_number) {
            return Err(format!("LOCATION NOT IN THE MSAG: {why}"));
        }
        match self.msag.validate(&a) {
            Ok(r) => Ok(r.esn),
            Err(f) => Err(format!("LOCATION NOT IN THE MSAG: {f}")),
        }
    }

    /// Route a call with this PIDF-LO and callback number (the pool is used round robin, as
    /// `simulate` models it).
    pub fn route(&mut self, pidf: Option<&PidfLo>, callback: u64) -> SipRoute {
        let esn = match self.validate(pidf) {
            Ok(e) => e,
            Err(why) => return SipRoute::Ecrc(why),
        };
        let Some(pool) = self.pools.get(&esn).filter(|p| !p.is_empty()) else {
            return SipRoute::Ecrc(format!("NO ESQK FOR ESN {esn}"));
        };
        let k = self.next.entry(esn).or_insert(0);
        let esqk = pool[*k % pool.len()];
        *k += 1;
        let p = pidf.expect("validated");
        self.ali.insert(
            esqk,
            esqk_record(esqk, &p.civic_address(), &p.location(), callback, esn),
        );
        SipRoute::Psap { esn, esqk }
    }

    /// Route a live call: like [`SipProvider::route`], but an ESQK is held until
    /// [`SipProvider::release`] — never two calls on one key; a pool with every key in use sends
    /// the call to the ECRC.
    pub fn route_held(&mut self, pidf: Option<&PidfLo>, callback: u64) -> SipRoute {
        let esn = match self.validate(pidf) {
            Ok(e) => e,
            Err(why) => return SipRoute::Ecrc(why),
        };
        let Some(pool) = self.pools.get(&esn).filter(|p| !p.is_empty()) else {
            return SipRoute::Ecrc(format!("NO ESQK FOR ESN {esn}"));
        };
        let start = *self.next.get(&esn).unwrap_or(&0);
        let Some(i) = (0..pool.len())
            .map(|d| (start + d) % pool.len())
            .find(|&i| !self.held.contains(&pool[i]))
        else {
            return SipRoute::Ecrc(format!(
                "ESQK POOL OF ESN {esn} EXHAUSTED ({} CALLS UP)",
                pool.len()
            ));
        };
        let esqk = pool[i];
        self.next.insert(esn, i + 1);
        self.held.insert(esqk);
        let p = pidf.expect("validated");
        self.ali.insert(
            esqk,
            esqk_record(esqk, &p.civic_address(), &p.location(), callback, esn),
        );
        SipRoute::Psap { esn, esqk }
    }

    /// The call holding `esqk` ended: the key is free again.
    pub fn release(&mut self, esqk: u64) {
        self.held.remove(&esqk);
    }
}

/// An ALI record for `tn` at civic address `c`.
fn civic_record(
    tn: u64,
    c: &Civic,
    location: &str,
    customer: String,
    class_of_service: char,
    esn: Option<u16>,
) -> AliRecord {
    AliRecord {
        function: 'I',
        npa: format!("{:03}", tn / 10_000_000),
        number: format!("{:07}", tn % 10_000_000),
        house_number: c.house_number.clone(),
        house_suffix: c.house_suffix.clone(),
        prefix_dir: c.prd.clone(),
        street: c.street.clone(),
        street_suffix: c.sts.clone(),
        post_dir: c.pod.clone(),
        community: c.city.clone(),
        state: c.state.clone(),
        location: location.to_string(),
        customer,
        class_of_service,
        type_of_service: '0',
        esn,
        zip: c.postal_code.clone(),
        ..Default::default()
    }
}

/// The ALI record the provider returns for an ESQK: the caller's civic address and location
/// label, the callback number as the customer (class of service V, VoIP).
pub fn esqk_record(esqk: u64, c: &Civic, location: &str, callback: u64, esn: u16) -> AliRecord {
    civic_record(
        esqk,
        c,
        location,
        format!("VOIP CBN {callback}"),
        'V',
        Some(esn),
    )
}

/// The ALI record the carrier loads for an ELIN: the ERL's address and label (class of service
/// 4, business PBX).
pub fn elin_record(elin: u64, erl: &Erl, esn: Option<u16>) -> AliRecord {
    civic_record(
        elin,
        &erl.civic,
        &erl.location,
        erl.description.to_ascii_uppercase(),
        '4',
        esn,
    )
}
