//! The `e911 route` driver: runs the [`Tandem`] over recorded end-office audio (and, optionally,
//! recorded PSAP audio) on one clock, block by block, and collects what it sent on every leg.
//!
//! Each channel of the input is one trunk of the group. PSAPs with recorded audio (`psap_in`, one
//! channel per position) are heard: their wink, answer, hook flash, DTMF transfer codes and hang-up
//! drive the tandem. PSAPs without it are modelled (see [`crate::tandem::switch`]).
//!
//! It takes and returns sample buffers; files are the CLI's business.

use std::collections::{BTreeMap, BTreeSet};

use super::switch::Tandem;
pub use super::switch::{CallRecord, TransferRecord};
use super::tables::{Office, Supv};
use crate::units::ms_to_samples;

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RouteRun {
    pub records: Vec<CallRecord>,
    /// Audio the tandem sent, per leg (`GRPKEY` or PSAP name), one channel per trunk/position.
    pub legs: BTreeMap<String, Vec<Vec<i16>>>,
}

/// Block size of the driver (10 ms).
const BLOCK: usize = 80;

/// Run the tandem on `group`'s trunks (`audio[c]` = trunk `c`, 8 kHz) with modelled PSAPs.
pub fn run(office: &Office, group: &str, audio: &[Vec<i16>]) -> Result<RouteRun, String> {
    run_with_psaps(office, group, audio, &BTreeMap::new())
}

/// As [`run`], with what some PSAPs sent back (`psap_in[name][position]`, on the same clock).
pub fn run_with_psaps(
    office: &Office,
    group: &str,
    audio: &[Vec<i16>],
    psap_in: &BTreeMap<String, Vec<Vec<i16>>>,
) -> Result<RouteRun, String> {
    for (name, chans) in psap_in {
        let p = office
            .psaps
            .get(name)
            .ok_or_else(|| format!("--psap-in: {name} is not in E911PSAP"))?;
        if chans.len() != p.positions as usize {
            return Err(format!(
                "--psap-in {name}: {} channel(s), but {name} has {} position(s) (one channel per position)",
                chans.len(),
                p.positions
            ));
        }
        if p.supv != Supv::Sf {
            return Err(format!(
                "--psap-in {name}: SUPV NONE carries no supervision in its audio"
            ));
        }
    }
    let tg = office
        .trunk_groups
        .get(group)
        .ok_or_else(|| format!("--trunk: trunk group {group} is not in TRKGRP"))?
        .clone();
    let heard: BTreeSet<String> = psap_in.keys().cloned().collect();
    let mut sw = Tandem::new(office, &[(group.to_string(), audio.len())], &heard)
        .map_err(|e| format!("--psap-in: {e}"))?;
    let ports = sw.ports().to_vec();
    // Where each port's input comes from.
    let sources: Vec<&[i16]> = ports
        .iter()
        .map(|p| {
            if p.psap {
                psap_in
                    .get(&p.leg)
                    .map_or(&[][..], |c| c[p.channel].as_slice())
            } else {
                audio[p.channel].as_slice()
            }
        })
        .collect();
    if tg.supv == Supv::None {
        // No supervision in the audio: the stream's start seizes, its end disconnects.
        for (c, a) in audio.iter().enumerate() {
            if !a.is_empty() {
                sw.line_event(c, 0, true);
                sw.line_event(c, a.len() as u64, false);
            }
        }
    }
    let len = sources.iter().map(|c| c.len()).max().unwrap_or(0) as u64;
    // Run past the end of the audio long enough for every timer (ANI 10 s, wink 4 s, digits 5 s).
    let end = len + ms_to_samples(20_000.0) as u64;
    let mut outs: Vec<Vec<i16>> = vec![Vec::with_capacity(end as usize); ports.len()];
    let mut block: Vec<Vec<i16>> = vec![vec![0; BLOCK]; ports.len()];
    let mut pos = 0u64;
    while pos < end {
        let n = BLOCK.min((end - pos) as usize);
        let ins: Vec<&[i16]> = sources
            .iter()
            .map(|a| {
                let s = (pos as usize).min(a.len());
                let e = (pos as usize + n).min(a.len());
                &a[s..e]
            })
            .collect();
        let mut o: Vec<&mut [i16]> = block.iter_mut().map(|b| &mut b[..n]).collect();
        sw.step(&ins, &mut o);
        for (d, b) in outs.iter_mut().zip(&block) {
            d.extend_from_slice(&b[..n]);
        }
        pos += n as u64;
    }
    // The trunk group's leg is as long as its input; PSAP legs run on while there was activity.
    let psap_len = len
        .max(sw.last_activity() + ms_to_samples(2000.0) as u64)
        .min(end) as usize;
    let used = sw.used_psaps().clone();
    let mut legs: BTreeMap<String, Vec<Vec<i16>>> = BTreeMap::new();
    for (p, mut o) in ports.iter().zip(outs) {
        if p.psap && !used.contains(&p.leg) {
            continue;
        }
        o.truncate(if p.psap { psap_len } else { len as usize });
        legs.entry(p.leg.clone()).or_default().push(o);
    }
    Ok(RouteRun {
        records: sw.into_records(),
        legs,
    })
}
