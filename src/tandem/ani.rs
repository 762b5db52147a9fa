//! ANI: what the end office spilled, where it routes, and what the tandem outpulses to the PSAP
//! (`docs/call-processing.md`; seed `003`). Pure functions over the datafill.

use super::tables::{AniFormat, Esn, Office, Psap, TrunkGroup};
use crate::register::mf::MfSignal;

/// What became of the ANI spill (`calls.jsonl` `ani_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AniStatus {
    Ok,
    /// `KP 1 ST` (attendant), `KP 2 ST` (ANI failure), or a garbled spill.
    Failure,
    /// No ST before the timer (`KP I` alone: crossbar ANI-B failure).
    Timeout,
    /// A non-ANI office: no spill expected.
    None,
}

impl AniStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AniStatus::Ok => "ok",
            AniStatus::Failure => "failure",
            AniStatus::Timeout => "timeout",
            AniStatus::None => "none",
        }
    }
}

/// The caller's identity as the tandem understood it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ani {
    pub status: AniStatus,
    /// 10-digit TN when `status` is `Ok`.
    pub tn: Option<u64>,
    /// The information digit(s) received (discarded for outpulsing, kept for the record).
    pub info: Vec<u8>,
    /// The spill as received, e.g. `KP 0 5551234 ST`.
    pub spill: String,
}

fn digits(sigs: &[MfSignal]) -> Option<Vec<u8>> {
    sigs.iter()
        .map(|s| match s {
            MfSignal::Digit(d) => Some(*d),
            _ => None,
        })
        .collect()
}

fn spill_text(sigs: &[MfSignal]) -> String {
    // `KP 0 5551234 ST`: KP, information digit(s), the number, terminator.
    let mut out: Vec<String> = Vec::new();
    let mut run = String::new();
    for s in sigs {
        match s {
            MfSignal::Digit(d) => run.push((b'0' + d) as char),
            other => {
                if !run.is_empty() {
                    out.push(std::mem::take(&mut run));
                }
                out.push(other.name().to_string());
            }
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    // Split the information digit(s) from the number for the usual forms.
    if out.len() >= 2 && out[0] == "KP" {
        let body = out[1].clone();
        let split = match body.len() {
            8 => Some(1),
            10 => Some(3),
            12 => Some(2),
            _ => None,
        };
        if let Some(k) = split {
            out.splice(1..2, [body[..k].to_string(), body[k..].to_string()]);
        }
    }
    out.join(" ")
}

/// Interpret a spill (`signals` as received; `terminated` = an ST/STP/ST2P/ST3P ended it, not
/// the timer) on trunk group `tg`. Forms accepted (§1): `KP I NXXXXXX ST`, `KP II NPANXXXXXX ST`;
/// `KP 1 ST`, `KP 2 ST` and anything else are failures; no terminator is a timeout.
pub fn parse_spill(signals: &[MfSignal], terminated: bool, tg: &TrunkGroup) -> Ani {
    let spill = spill_text(signals);
    let fail = |status| Ani {
        status,
        tn: None,
        info: Vec::new(),
        spill: spill.clone(),
    };
    if !tg.ani {
        return fail(AniStatus::None);
    }
    if !terminated {
        return fail(AniStatus::Timeout);
    }
    let is_st = |s: &MfSignal| {
        matches!(
            s,
            MfSignal::ST | MfSignal::STP | MfSignal::ST2P | MfSignal::ST3P
        )
    };
    let (Some(MfSignal::KP), Some(last)) = (signals.first(), signals.last()) else {
        return fail(AniStatus::Failure);
    };
    if !is_st(last) {
        return fail(AniStatus::Failure);
    }
    let Some(d) = digits(&signals[1..signals.len() - 1]) else {
        return fail(AniStatus::Failure);
    };
    let num = |ds: &[u8]| ds.iter().fold(0u64, |a, &x| a * 10 + x as u64);
    let (info, tn) = match d.len() {
        8 => (d[..1].to_vec(), tg.npa as u64 * 10_000_000 + num(&d[1..])),
        12 => (d[..2].to_vec(), num(&d[2..])),
        _ => return fail(AniStatus::Failure),
    };
    Ani {
        status: AniStatus::Ok,
        tn: Some(tn),
        info,
        spill,
    }
}

/// Where the selective router sends a call (§3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub esn: u16,
    /// `srdb` or `default`.
    pub esn_source: &'static str,
    pub psap: String,
    /// DMS-style logs (§6).
    pub logs: Vec<String>,
}

/// ANI → ESN → primary PSAP. ESN from E911SRDB; else the trunk group's DEFESN with E911203 (no
/// row) or E911202 (ANI trouble, with the digits received). Never fails: DEFESN exists (the
/// datafill guarantees it).
pub fn route(office: &Office, tg: &TrunkGroup, ani: &Ani) -> Route {
    let mut logs = Vec::new();
    let (esn, source) = match (ani.status, ani.tn) {
        (AniStatus::Ok, Some(tn)) => match office.srdb.get(&tn) {
            Some(&esn) => (esn, "srdb"),
            None => {
                logs.push(format!(
                    "E911203 NO E911SRDB ENTRY FOR TN {tn} ON {}: DEFESN {}",
                    tg.key, tg.default_esn
                ));
                (tg.default_esn, "default")
            }
        },
        _ => {
            logs.push(format!(
                "E911202 ANI {} ON {} ({}): DEFESN {}",
                ani.status.as_str().to_ascii_uppercase(),
                tg.key,
                if ani.spill.is_empty() {
                    "NO SPILL"
                } else {
                    ani.spill.as_str()
                },
                tg.default_esn
            ));
            (tg.default_esn, "default")
        }
    };
    let psap = office
        .esns
        .get(&esn)
        .map(|e| e.primary.clone())
        .unwrap_or_default();
    Route {
        esn,
        esn_source: source,
        psap,
        logs,
    }
}

/// The substitute ANI of a trunk group (docs/call-processing.md): after ANI trouble or from a
/// non-ANI office the PSAP is sent the group's NPA + `911-00EE`, EE its ESCO — the one rule the
/// tandem, the records and the models share.
pub fn substitute_tn(tg: &TrunkGroup) -> u64 {
    tg.npa as u64 * 10_000_000 + 9_110_000 + tg.esco as u64
}

/// The regenerated ANI towards `psap` (§4): `KP + information digit(s) + NXX-XXXX + ST`.
/// `1DIGIT`: the caller's NPD, +4 when the ESN's FLASH is Y, 8 for a test call; `3DIGIT`: the
/// caller's NPA. ANI failure or a non-ANI office: substitute ANI `911-00EE` (EE = ESCO) with the
/// trunk group's NPA. The incoming information digits are always discarded.
pub fn regenerate(
    office: &Office,
    psap: &Psap,
    esn: &Esn,
    tg: &TrunkGroup,
    ani: &Ani,
    test_call: bool,
) -> Vec<MfSignal> {
    let (npa, nxxxxxx) = match (ani.status, ani.tn) {
        (AniStatus::Ok, Some(tn)) => ((tn / 10_000_000) as u16, tn % 10_000_000),
        _ => {
            let sub = substitute_tn(tg);
            ((sub / 10_000_000) as u16, sub % 10_000_000)
        }
    };
    let mut out = vec![MfSignal::KP];
    match psap.ani_format {
        AniFormat::OneDigit => {
            let d = if test_call {
                8
            } else {
                // An NPA outside E911NPD cannot be encoded; NPD 0 is the office's home NPD.
                office.npd_of(npa).unwrap_or(0) + if esn.flash { 4 } else { 0 }
            };
            out.push(MfSignal::Digit(d));
        }
        AniFormat::ThreeDigit => {
            for c in format!("{npa:03}").bytes() {
                out.push(MfSignal::Digit(c - b'0'));
            }
        }
    }
    for c in format!("{nxxxxxx:07}").bytes() {
        out.push(MfSignal::Digit(c - b'0'));
    }
    out.push(MfSignal::ST);
    out
}

/// `KP 0 5551234 ST` form of a regenerated spill.
pub fn spill_string(sigs: &[MfSignal]) -> String {
    spill_text(sigs)
}
