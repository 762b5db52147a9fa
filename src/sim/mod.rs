//! `e911 simulate`: a whole office in closed loop — end offices, the tandem, PSAPs — with every
//! signal generated, carried as audio and detected. [`scenario`] reads the scenario, [`eo`] and
//! [`psap`] are the models, [`world`] holds them, [`report`] prints the call log. The engine
//! ([`crate::engine`]) runs the tandem and the world on their own threads with rings between
//! them; [`run_inline`] runs the same loop on one thread (tests, and the reference).

pub mod enterprise;
pub mod eo;
pub mod psap;
pub mod report;
pub mod scenario;
pub mod world;

use serde::Serialize;

use crate::tandem::switch::{CallRecord, PortInfo, Tandem};
use psap::Screen;
use scenario::Scenario;
use world::World;

/// A call of a simulation: the tandem's record, the scenario call it came from, and what the
/// PSAPs showed.
#[derive(Debug, Clone, Serialize)]
pub struct SimCall {
    #[serde(flatten)]
    pub record: CallRecord,
    /// 1-based call number in the scenario file.
    pub scenario_call: Option<usize>,
    /// How the call came to be (enterprise ELIN, SIP provider ESQK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub screens: Vec<Screen>,
}

/// What a simulation produced.
#[derive(Debug, Clone)]
pub struct SimRun {
    pub calls: Vec<SimCall>,
    /// End-office notes (hang-ups, missing winks).
    pub notes: Vec<String>,
    /// Samples simulated.
    pub duration: u64,
}

/// Block size of the closed loop: 10 ms. The world hears the tandem one block late (a 10 ms
/// transmission delay each way at most).
pub const BLOCK: usize = 80;

/// Something that receives every block of every port: `(ports, now, tandem_sent, world_sent)`.
pub type Tap<'a> = dyn FnMut(&[PortInfo], u64, &[Vec<i16>], &[Vec<i16>]) + 'a;

/// Run a scenario on one thread (the reference for the engine, [`crate::engine::run_sim`]).
pub fn run_inline(sc: &Scenario, tap: &mut Tap<'_>) -> Result<SimRun, String> {
    let (tandem, world) = build(sc)?;
    let ports = tandem.ports().to_vec();
    let (tandem, world) = crate::engine::run_inline(tandem, world, sc.duration, BLOCK, Some(tap));
    let samples = sc.duration.div_ceil(BLOCK as u64) * BLOCK as u64;
    let in_setup = tandem.in_setup();
    Ok(finish(
        sc,
        &ports,
        tandem.into_records(),
        in_setup,
        world,
        samples,
    ))
}

/// The tandem (hearing every SF PSAP) and the world for a scenario.
pub fn build(sc: &Scenario) -> Result<(Tandem, World), String> {
    let heard = sc
        .office
        .psaps
        .values()
        .filter(|p| p.supv == crate::tandem::tables::Supv::Sf)
        .map(|p| p.name.clone())
        .collect();
    let tandem = Tandem::new(&sc.office, &sc.trunks, &heard)?;
    let world = World::new(sc, tandem.ports());
    Ok((tandem, world))
}

/// Tie records, scenario calls and screens together.
pub fn finish(
    sc: &Scenario,
    ports: &[PortInfo],
    records: Vec<CallRecord>,
    in_setup: Vec<(String, usize)>,
    world: World,
    duration: u64,
) -> SimRun {
    let mut calls: Vec<SimCall> = records
        .into_iter()
        .map(|r| {
            let seized = crate::units::ms_to_samples(r.seized_ms) as u64;
            let scenario_call = world
                .started
                .iter()
                .enumerate()
                .filter_map(|(k, s)| s.map(|(p, t)| (k, p, t)))
                .filter(|&(_, p, t)| {
                    ports[p].leg == r.trunk && ports[p].channel == r.channel && t <= seized
                })
                .max_by_key(|&(_, _, t)| t)
                .map(|(k, _, _)| sc.calls[k].n);
            let origin = scenario_call
                .and_then(|n| sc.calls.iter().find(|c| c.n == n))
                .and_then(|c| c.label.clone());
            SimCall {
                record: r,
                scenario_call,
                origin,
                screens: Vec::new(),
            }
        })
        .collect();
    for s in &world.screens {
        let hit = calls
            .iter_mut()
            .filter(|c| c.record.seized_ms <= s.at_ms)
            .filter(|c| {
                let r = &c.record;
                let primary = r.psap.as_deref() == Some(&s.psap)
                    && r.position == Some(s.position)
                    && r.outpulsed.as_deref() == Some(&s.spill);
                primary
                    || r.transfers.iter().any(|x| {
                        x.target.as_deref() == Some(&s.psap)
                            && x.position == Some(s.position)
                            && x.outpulsed.as_deref() == Some(&s.spill)
                    })
            })
            .max_by(|a, b| a.record.seized_ms.total_cmp(&b.record.seized_ms));
        if let Some(c) = hit {
            c.screens.push(s.clone());
        }
    }
    let mut notes: Vec<String> = world
        .notes
        .iter()
        .map(|n| {
            format!(
                "{:>9.3} s  call {}: {}",
                crate::units::samples_to_ms(n.at) / 1000.0,
                sc.calls[n.call].n,
                n.text
            )
        })
        .collect();
    // Nothing goes unaccounted for: calls the run ended before, and seizures not yet routed.
    let end_s = crate::units::samples_to_ms(duration) / 1000.0;
    for (k, c) in sc.calls.iter().enumerate() {
        if world.started[k].is_none() {
            notes.push(format!(
                "{end_s:>9.3} s  call {}: NOT PLACED: the run ended first (duration_ms)",
                c.n
            ));
        }
    }
    for (k, c) in sc.calls.iter().enumerate() {
        let Some((p, t)) = world.started[k] else {
            continue;
        };
        if !calls.iter().any(|x| x.scenario_call == Some(c.n))
            && !in_setup.contains(&(ports[p].leg.clone(), ports[p].channel))
        {
            notes.push(format!(
                "{:>9.3} s  call {}: PLACED ON {}/{} BUT THE TANDEM SAW NO SEIZURE",
                crate::units::samples_to_ms(t) / 1000.0,
                c.n,
                ports[p].leg,
                ports[p].channel
            ));
        }
    }
    for (group, ch) in in_setup {
        notes.push(format!(
            "{end_s:>9.3} s  {group}/{ch}: SEIZED BUT NOT YET ROUTED WHEN THE RUN ENDED (duration_ms)"
        ));
    }
    SimRun {
        calls,
        notes,
        duration,
    }
}
