//! `live eo SCENARIO`: the card is an end office (or a PBX's CAMA trunk) facing a real tandem or
//! gateway. The scenario's trunks are the card's channels in its port order, and its calls are
//! placed in real time by the simulator's end-office model: seize, wait for the wink, send the
//! called digits, wait for off-hook, spill the ANI, carry the voice, hang up — each step logged
//! as it happens. Everything the scenario says of PSAPs is the real tandem's business now.

use super::session::Session;
use super::EoArgs;
use crate::engine::{LineSignal, BLOCK};
use crate::sim::world::World;
use crate::tandem::switch::PortInfo;
use crate::tandem::tables::Supv;
use crate::units::samples_to_ms;

pub fn run(a: EoArgs) -> anyhow::Result<()> {
    let sc = crate::files::scenario(&a.scenario).map_err(anyhow::Error::msg)?;
    let mut ports = Vec::new();
    for (key, n) in &sc.trunks {
        let tg = &sc.office.trunk_groups[key];
        if tg.supv != Supv::Sf {
            anyhow::bail!(
                "{}: trunk group {key} has SUPV NONE: its seizure and hang-up travel on E&M leads, which a sound card cannot carry; use SUPV SF groups on the card",
                a.scenario.display()
            );
        }
        for c in 0..*n {
            ports.push(PortInfo {
                leg: key.clone(),
                channel: c,
                psap: false,
            });
        }
    }
    if ports.is_empty() {
        anyhow::bail!("{}: [trunks] lists no trunk", a.scenario.display());
    }
    let mut world = World::new(&sc, &ports);
    world.trace();
    let n = ports.len();
    let mut s = Session::open(&a.card, &a.run, n, &sc.inputs)?;
    if a.run.seconds.is_none() {
        s.end_by(sc.duration);
    }
    let names: Vec<String> = ports
        .iter()
        .map(|p| format!("{} {}", p.leg, p.channel))
        .collect();
    eprintln!(
        "the card: end office trunks {}; {} call(s) to place",
        names.join(", "),
        sc.calls.len()
    );
    let mut out = vec![vec![0i16; BLOCK]; n];
    let mut line: Vec<LineSignal> = Vec::new();
    let mut finished_at = None;
    while s.read() {
        let now = s.now;
        {
            let ins: Vec<&[i16]> = s.heard.iter().map(|v| v.as_slice()).collect();
            let mut outs: Vec<&mut [i16]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
            line.clear();
            world.step(now, &ins, &mut outs, &mut line);
        }
        let sent: Vec<&[i16]> = out.iter().map(|v| v.as_slice()).collect();
        s.write(&sent);
        for note in world.take_trace() {
            let p = world.started[note.call].map_or(0, |x| x.0);
            let t = format!(
                "{:.1} s {}: {}",
                samples_to_ms(note.at) / 1000.0,
                names[p],
                note.text
            );
            s.log(
                &t,
                &serde_json::json!({"event": "eo", "at_ms": samples_to_ms(note.at),
                    "call": sc.calls[note.call].n, "trunk": ports[p].leg, "channel": ports[p].channel,
                    "did": note.text}),
            );
        }
        for note in std::mem::take(&mut world.notes) {
            let t = format!(
                "{:.1} s call {}: {}",
                samples_to_ms(note.at) / 1000.0,
                sc.calls[note.call].n,
                note.text
            );
            s.log(
                &t,
                &serde_json::json!({"event": "eo note", "at_ms": samples_to_ms(note.at),
                "call": sc.calls[note.call].n, "note": note.text}),
            );
        }
        // Every call placed and hung up: two more seconds of idle tone (the tandem needs 1.3 s
        // of it to recognise the disconnect), then done — unless `--seconds` says how long the
        // trunks stay connected (idle tone until then).
        if a.run.seconds.is_none() && world.done() && finished_at.is_none() {
            finished_at = Some(now);
        }
        if finished_at.is_some_and(|t| now >= t + crate::units::s_to_samples(2.0)) {
            s.done();
        }
    }
    let placed = world.started.iter().filter(|x| x.is_some()).count();
    let tally = s.close()?;
    eprintln!("{tally}; {placed} of {} call(s) placed", sc.calls.len());
    Ok(())
}
