//! `e911 simulate`: a whole office in closed loop — end offices, the tandem, PSAPs — with every
//! signal generated, carried as audio and detected. [`scenario`] reads the scenario, [`eo`] and
//! [`psap`] are the models, [`world`] holds them, [`report`] prints the call log. The engine
//! ([`crate::engine`]) runs the tandem and the world on their own threads with rings between
//! them; [`run_inline`] runs the same loop on one thread (tests, and the reference).

pub mod attendant;
pub mod blocks;
pub mod enterprise;
pub mod eo;
pub mod on_engine;
pub mod psap;
pub mod report;
pub mod scenario;
pub mod world;

use serde::Serialize;

pub use on_engine::run_sim;

use crate::tandem::switch::{CallRecord, PortInfo, Tandem};
use psap::Screen;
use scenario::Scenario;
use world::World;

/// A call of a simulation: the tandem's record, the scenario call it came from, and what the
/// PSAPs showed.
#[derive(Debug, Clone, Serialize)]
pub struct SimCall {
    /// `trunk`, `enterprise` or `sip` (docs/simulate.md, "Call records").
    pub kind: &'static str,
    #[serde(flatten)]
    pub record: CallRecord,
    /// 1-based call number in the scenario file.
    pub scenario_call: Option<usize>,
    /// How the call came to be (enterprise ELIN, SIP provider ESQK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub screens: Vec<Screen>,
}

/// A call of the log that has no tandem record: a SIP call the provider sent to the ECRC
/// (`sip_ecrc`), a PSAP calling an ELIN back (`callback`), or a scenario call that never got
/// routed (`unrouted`: not placed before the run ended, seized but still in setup, or never seen).
#[derive(Debug, Clone, Serialize)]
pub struct OtherCall {
    pub kind: &'static str,
    pub call: u64,
    pub at_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario_call: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elin: Option<String>,
    /// Callback: the enterprise user the ELIN gateway rings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaches: Option<String>,
    /// ECRC: why the location was not used; unrouted: what happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The log line.
    pub text: String,
}

/// What a simulation produced. Every call has one number (`call`) in every section of the log:
/// tandem calls in seizure order and the others at their time, numbered together.
#[derive(Debug, Clone)]
pub struct SimRun {
    pub calls: Vec<SimCall>,
    pub others: Vec<OtherCall>,
    /// Enterprise events, time-stamped, with the log's call numbers.
    pub enterprise: Vec<String>,
    /// End-office notes (hang-ups, missing winks) and anything left over, with the log's numbers.
    pub notes: Vec<String>,
    /// Samples simulated.
    pub duration: u64,
    /// The run was interrupted (SIGINT) before its end.
    pub interrupted: bool,
    /// What the tandem's MF receiver pool went through (set by [`run_sim`]).
    pub mf_pool: crate::tandem::switch::PoolStats,
}

impl SimRun {
    /// Every call as a JSON object, in call-number order (`calls.jsonl`, `--format jsonl`).
    pub fn json_lines(&self) -> Vec<String> {
        let mut v: Vec<(u64, String)> = self
            .calls
            .iter()
            .map(|c| {
                (
                    c.record.call,
                    serde_json::to_string(c).expect("records serialise"),
                )
            })
            .chain(
                self.others
                    .iter()
                    .map(|o| (o.call, serde_json::to_string(o).expect("records serialise"))),
            )
            .collect();
        v.sort_by_key(|x| x.0);
        v.into_iter().map(|x| x.1).collect()
    }
}

/// Block size of the closed loop: the engine's 10 ms. The world hears the tandem one block late
/// (a 10 ms transmission delay each way at most).
pub const BLOCK: usize = crate::engine::BLOCK;

/// Something that receives every block of every port: `(ports, now, tandem_sent, world_sent)`.
pub type Tap<'a> = dyn FnMut(&[PortInfo], u64, &[Vec<i16>], &[Vec<i16>]) + 'a;

/// Run a scenario on one thread (the reference for the engine, [`run_sim`]).
pub fn run_inline(sc: &Scenario, tap: &mut Tap<'_>) -> Result<SimRun, String> {
    let (tandem, world) = build(sc)?;
    let ports = tandem.ports().to_vec();
    let mut each = |now: u64, sent: &[Vec<i16>], heard: &[Vec<i16>]| tap(&ports, now, sent, heard);
    let (tandem, world) =
        crate::engine::run_inline(tandem, world, sc.duration, BLOCK, Some(&mut each));
    let samples = sc.duration.div_ceil(BLOCK as u64) * BLOCK as u64;
    let in_setup = tandem.in_setup();
    let pool = tandem.pool_stats();
    let mut run = finish(
        sc,
        &ports,
        tandem.into_records(),
        in_setup,
        world,
        samples,
        false,
    );
    run.mf_pool = pool;
    Ok(run)
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
    let tandem = Tandem::new(&sc.office, &sc.trunks, &heard).map_err(|e| e.to_string())?;
    let world = World::new(sc, tandem.ports());
    Ok((tandem, world))
}

fn secs(t: u64) -> f64 {
    crate::units::samples_to_ms(t) / 1000.0
}

/// Tie records, scenario calls, screens and notes together and number every call.
pub fn finish(
    sc: &Scenario,
    ports: &[PortInfo],
    records: Vec<CallRecord>,
    in_setup: Vec<(String, usize)>,
    world: World,
    duration: u64,
    interrupted: bool,
) -> SimRun {
    use enterprise::NoteEvent;
    // What ended the run, for the calls it did not reach.
    let ended_by = if interrupted {
        format!("interrupted: {}", crate::stop::cause())
    } else {
        "the scenario's duration_ms".to_string()
    };
    let mut calls: Vec<SimCall> = records
        .into_iter()
        .map(|r| {
            let seized = crate::units::ms_to_samples(r.seized_ms) as u64;
            let k = world
                .started
                .iter()
                .enumerate()
                .filter_map(|(k, s)| s.map(|(p, t)| (k, p, t)))
                .filter(|&(_, p, t)| {
                    ports[p].leg == r.trunk && ports[p].channel == r.channel && t <= seized
                })
                .max_by_key(|&(_, _, t)| t)
                .map(|(k, _, _)| k);
            SimCall {
                kind: k.map_or("trunk", |k| sc.calls[k].kind),
                record: r,
                scenario_call: k.map(|k| sc.calls[k].n),
                origin: k.and_then(|k| sc.calls[k].label.clone()),
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
    // Blocks in seizure order.
    calls.sort_by(|a, b| {
        a.record
            .seized_ms
            .total_cmp(&b.record.seized_ms)
            .then_with(|| a.record.trunk.cmp(&b.record.trunk))
            .then_with(|| a.record.channel.cmp(&b.record.channel))
    });
    // Calls without a tandem record: ECRC, callbacks, and scenario calls never routed.
    let mut others: Vec<(u64, OtherCall)> = Vec::new();
    let other = |kind, at: u64, text: String| OtherCall {
        kind,
        call: 0,
        at_ms: crate::units::samples_to_ms(at),
        scenario_call: None,
        user: None,
        callback: None,
        elin: None,
        reaches: None,
        reason: None,
        text,
    };
    // What the scenario resolved for times the run never reached did not happen.
    let notes: Vec<&enterprise::Note> = sc.notes.iter().filter(|n| n.at < duration).collect();
    // Note k's call without a tandem record: its index in `others`.
    let mut other_of_note: Vec<Option<usize>> = vec![None; notes.len()];
    for (k, n) in notes.iter().enumerate() {
        match &n.event {
            NoteEvent::Info => {}
            NoteEvent::Ecrc {
                user,
                callback,
                reason,
            } => {
                let mut o = other("sip_ecrc", n.at, n.text.clone());
                o.user = Some(user.clone());
                o.callback = Some(callback.clone());
                o.reason = Some(reason.clone());
                other_of_note[k] = Some(others.len());
                others.push((n.at, o));
            }
            NoteEvent::Callback { elin, reaches } => {
                let mut o = other("callback", n.at, n.text.clone());
                o.elin = Some(elin.clone());
                o.reaches = reaches.clone();
                other_of_note[k] = Some(others.len());
                others.push((n.at, o));
            }
        }
    }
    let end_s = secs(duration);
    // The scenario's own calls past the end (a SIP call to the ECRC, a PSAP's callback): not
    // reached, listed at their time as every call the run did not reach is.
    for n in sc.notes.iter().filter(|n| n.at >= duration) {
        let what = match &n.event {
            NoteEvent::Info => continue,
            NoteEvent::Ecrc { user, .. } => format!("the SIP call from {user}"),
            NoteEvent::Callback { elin, .. } => format!("the PSAP's callback to ELIN {elin}"),
        };
        let why = format!("NOT PLACED: the run ended at {end_s:.2} s before {what} ({ended_by})");
        let mut o = other("unrouted", n.at, why.clone());
        o.scenario_call = n.call;
        o.reason = Some(why);
        others.push((n.at, o));
    }
    let mut in_setup = in_setup;
    for (k, c) in sc.calls.iter().enumerate() {
        if calls.iter().any(|x| x.scenario_call == Some(c.n)) {
            continue;
        }
        let (at, why) = match world.started[k] {
            None => (
                c.at,
                format!("NOT PLACED: the run ended at {end_s:.2} s first ({ended_by})"),
            ),
            Some((p, t)) => {
                let port = (ports[p].leg.clone(), ports[p].channel);
                if let Some(i) = in_setup.iter().position(|x| *x == port) {
                    in_setup.remove(i);
                    (
                        t,
                        format!(
                            "SEIZED ON {}/{} BUT NOT YET ROUTED WHEN THE RUN ENDED AT {end_s:.2} s ({ended_by})",
                            port.0, port.1
                        ),
                    )
                } else if duration.saturating_sub(t) < crate::units::SECOND {
                    // Too late for the tandem to recognise it (the seizure time, the receivers'
                    // delay): the end cut it off, not a fault of the tandem.
                    (
                        t,
                        format!(
                            "PLACED ON {}/{} BUT THE RUN ENDED AT {end_s:.2} s BEFORE THE TANDEM SAW THE SEIZURE ({ended_by})",
                            port.0, port.1
                        ),
                    )
                } else {
                    (
                        t,
                        format!(
                            "PLACED ON {}/{} BUT THE TANDEM SAW NO SEIZURE",
                            port.0, port.1
                        ),
                    )
                }
            }
        };
        let mut o = other("unrouted", at, why.clone());
        o.scenario_call = Some(c.n);
        o.reason = Some(why);
        others.push((at, o));
    }
    // One numbering: tandem calls at their seizure, the others at their time.
    let mut order: Vec<(f64, usize, usize)> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| (c.record.seized_ms, 0, i))
        .chain(
            others
                .iter()
                .enumerate()
                .map(|(i, o)| (crate::units::samples_to_ms(o.0), 1, i)),
        )
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut number_of_scenario_call = std::collections::BTreeMap::new();
    for (num, &(_, which, i)) in order.iter().enumerate() {
        let num = num as u64 + 1;
        if which == 0 {
            calls[i].record.call = num;
            if let Some(n) = calls[i].scenario_call {
                number_of_scenario_call.insert(n, num);
            }
        } else {
            others[i].1.call = num;
            if let Some(n) = others[i].1.scenario_call {
                number_of_scenario_call.insert(n, num);
            }
        }
    }
    let others: Vec<OtherCall> = others.into_iter().map(|o| o.1).collect();
    let label = |n: usize| match number_of_scenario_call.get(&n) {
        Some(num) => format!("call {num}"),
        None => format!("scenario call {n}"),
    };
    let mut enterprise = Vec::new();
    for (n, other) in notes.iter().zip(&other_of_note) {
        let who = match (other, n.call) {
            (Some(i), _) => format!("call {}: ", others[*i].call),
            (None, Some(c)) => format!("{}: ", label(c)),
            (None, None) => String::new(),
        };
        enterprise.push(format!("{:>9.3} s  {who}{}", secs(n.at), n.text));
    }
    let mut notes: Vec<String> = world
        .notes
        .iter()
        .map(|n| {
            format!(
                "{:>9.3} s  {}: {}",
                secs(n.at),
                label(sc.calls[n.call].n),
                n.text
            )
        })
        .collect();
    for (group, ch) in in_setup {
        notes.push(format!(
            "{end_s:>9.3} s  {group}/{ch}: SEIZED BUT NOT YET ROUTED WHEN THE RUN ENDED ({ended_by})"
        ));
    }
    SimRun {
        calls,
        others,
        enterprise,
        notes,
        duration,
        interrupted,
        mf_pool: Default::default(),
    }
}
