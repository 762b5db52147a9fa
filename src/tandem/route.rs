//! The `e911 route` driver: runs the tandem over recorded end-office audio on one clock. Each
//! channel of the input is one trunk of the group; receivers (SF supervision + dial pulses, MF)
//! turn audio into events for [`IncomingTrunk`]; routes go through [`route`], [`Positions`] and a
//! [`PsapTrunk`] per position; what the tandem sends is synthesised on every leg it used.
//!
//! Single-threaded on purpose (the real-time engine will run the same machines). It takes and
//! returns sample buffers; files are the CLI's business.
//!
//! PSAPs with recorded audio (`psap_in`, one channel per position) are heard through SF supervision:
//! their wink, answer (off-hook) and hang-up drive the PSAP trunk machines. PSAPs without it are
//! modelled as an attentive attendant: wink 150 ms
//! after seizure for 200 ms, answer 500 ms after the spill, and hold the call (called-party hold).

use std::collections::BTreeMap;

use serde::Serialize;

use super::ani::{regenerate, route, spill_string, Ani};
use super::incoming::{Action, Event, IncomingTrunk};
use super::positions::{Placement, Positions};
use super::psap_trunk::{PsapAction, PsapEvent, PsapTrunk};
use super::tables::{Office, Supv};
use crate::generate::synth::{ChannelSynth, Impairments, MfParams};
use crate::line::notch::SfNotch;
use crate::line::supervision::{SfLine, SupervisionEvent};
use crate::register::mf::MfReceiver;
use crate::units::{ms_to_samples, samples_to_ms};

/// One call (`calls.jsonl`, contract).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallRecord {
    pub call: u64,
    pub trunk: String,
    pub channel: usize,
    pub seized_ms: f64,
    pub called: String,
    pub ani_spill: String,
    pub ani: Option<String>,
    pub ani_status: &'static str,
    pub esn: Option<u16>,
    pub esn_source: Option<&'static str>,
    pub psap: Option<String>,
    pub position: Option<u32>,
    pub outpulsed: Option<String>,
    pub answered_ms: Option<f64>,
    pub abandoned: bool,
    pub transfers: Vec<serde_json::Value>,
    pub released_ms: Option<f64>,
    pub logs: Vec<String>,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RouteRun {
    pub records: Vec<CallRecord>,
    /// Audio the tandem sent, per leg (`GRPKEY` or PSAP name), one channel per trunk/position.
    pub legs: BTreeMap<String, Vec<Vec<i16>>>,
}

struct Trunk {
    machine: IncomingTrunk,
    sf: Option<SfLine>,
    mf: MfReceiver,
    out: ChannelSynth,
    /// Index into `records` of the call in progress on this trunk.
    call: Option<usize>,
}

struct Leg {
    /// The PSAP's own audio for this position, heard through SF supervision.
    heard: Option<SfLine>,
    trunk: PsapTrunk,
    out: ChannelSynth,
    call: Option<usize>,
    /// Modelled attendant: pending (time, event).
    script: Vec<(u64, PsapEvent)>,
}

const IDLE_DBM0: f64 = -20.0;
/// Ringback level per tone (dBm0); the spec gives none, this is the usual North American −19.
const RINGBACK_DBM0: f64 = -19.0;

/// Put call `idx` on `position` of `psap` at `t`: seize the PSAP trunk, record the spill.
#[allow(clippy::too_many_arguments)]
fn deliver(
    office: &Office,
    tg: &super::tables::TrunkGroup,
    rec: &mut CallRecord,
    idx: usize,
    ani: &Ani,
    esn: u16,
    psap: &str,
    position: u32,
    t: u64,
    legs: &mut BTreeMap<String, Vec<Leg>>,
    used: &mut BTreeMap<String, bool>,
) {
    let p = &office.psaps[psap];
    let spill = regenerate(office, p, &office.esns[&esn], tg, ani, false);
    rec.psap = Some(psap.to_string());
    rec.position = Some(position);
    rec.outpulsed = Some(spill_string(&spill));
    used.insert(psap.to_string(), true);
    let Some(leg) = legs
        .get_mut(psap)
        .and_then(|l| l.get_mut(position as usize))
    else {
        return;
    };
    leg.call = Some(idx);
    let mut pa = Vec::new();
    leg.trunk.seize(t, spill, &mut pa);
    leg.out.cursor = t;
    leg.out.sf_off();
    // The modelled attendant winks 150 ms after the seizure.
    if leg.heard.is_none() {
        let wink = PsapEvent::Wink {
            len: ms_to_samples(200.0) as u64,
        };
        leg.script.push((t + ms_to_samples(350.0) as u64, wink));
    }
}

/// Run the tandem on `group`'s trunks (`audio[c]` = trunk `c`, 8 kHz) with modelled PSAPs.
pub fn run(office: &Office, group: &str, audio: &[Vec<i16>]) -> Result<RouteRun, String> {
    run_with_psaps(office, group, audio, &BTreeMap::new())
}

/// As [`run`], with what some PSAPs sent back (`psap_in[name][position]`, on the same clock):
/// their winks, answers and hang-ups come from that audio through the SF receiver.
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
    let len = audio.iter().map(|c| c.len()).max().unwrap_or(0) as u64;
    let mut trunks: Vec<Trunk> = audio
        .iter()
        .enumerate()
        .map(|(c, _)| {
            let mut out = ChannelSynth::new(c as u64 + 1);
            if tg.supv == Supv::Sf {
                out.sf_on(IDLE_DBM0);
            }
            Trunk {
                machine: IncomingTrunk::new(tg.clone()),
                sf: (tg.supv == Supv::Sf).then(SfLine::default),
                mf: MfReceiver::new(),
                out,
                call: None,
            }
        })
        .collect();
    let mut legs: BTreeMap<String, Vec<Leg>> = office
        .psaps
        .values()
        .map(|p| {
            let heard = psap_in.contains_key(&p.name);
            let v = (0..p.positions)
                .map(|k| {
                    let mut out = ChannelSynth::new(1000 + k as u64);
                    if p.supv == Supv::Sf {
                        out.sf_on(IDLE_DBM0);
                    }
                    Leg {
                        heard: heard.then(SfLine::default),
                        trunk: PsapTrunk::new(p.supv),
                        out,
                        call: None,
                        script: Vec::new(),
                    }
                })
                .collect();
            (p.name.clone(), v)
        })
        .collect();
    let mut positions = Positions::new(office);
    let mut records: Vec<CallRecord> = Vec::new();
    let mut used: BTreeMap<String, bool> = BTreeMap::new();
    // Queued calls: call id → (record, ANI, ESN, queued at); ringback spans to play to callers.
    let mut waiting: BTreeMap<u64, (usize, Ani, u16, u64)> = BTreeMap::new();
    let mut ringback: Vec<(usize, u64, u64)> = Vec::new();
    let chunk = ms_to_samples(10.0);
    // Run past the end of the audio long enough for every timer (ANI 10 s, wink 4 s, digits 5 s).
    let end = len + ms_to_samples(20_000.0) as u64;
    let mut pos = 0u64;
    while pos < end {
        let next = pos + chunk as u64;
        for (c, tr) in trunks.iter_mut().enumerate() {
            let mut events: Vec<(u64, Event)> = Vec::new();
            let a = &audio[c];
            let (s, e) = ((pos as usize).min(a.len()), (next as usize).min(a.len()));
            if s < e {
                let x = &a[s..e];
                tr.mf.process(x, &mut |ev| {
                    if ev.on {
                        events.push((ev.at, Event::Mf(ev.signal)));
                    }
                });
                if let Some(line) = &mut tr.sf {
                    let mut sv = Vec::new();
                    line.process(x, &mut |_| {}, &mut |v| sv.push(v));
                    for v in sv {
                        match v {
                            SupervisionEvent::Seize { at, .. } => events.push((at, Event::Seize)),
                            SupervisionEvent::Disconnect { at, .. } => {
                                events.push((at, Event::Disconnect))
                            }
                            SupervisionEvent::Digit { pulses, at, .. } => {
                                events.push((at, Event::Dp(pulses)))
                            }
                            _ => {}
                        }
                    }
                }
            }
            if tg.supv == Supv::None {
                if pos == 0 && !a.is_empty() {
                    events.push((0, Event::Seize));
                }
                if (pos..next).contains(&(a.len() as u64)) {
                    events.push((a.len() as u64, Event::Disconnect));
                }
            }
            events.sort_by_key(|(t, _)| *t);
            let mut actions: Vec<(u64, Action)> = Vec::new();
            for (t, ev) in events {
                let mut acts = Vec::new();
                tr.machine.on_event(t, ev, &mut acts);
                actions.extend(acts.into_iter().map(|x| (t, x)));
            }
            let mut acts = Vec::new();
            tr.machine.poll(next, &mut acts);
            actions.extend(acts.into_iter().map(|x| (next, x)));
            for (t, act) in actions {
                match act {
                    Action::Wink { len } => {
                        tr.out.cursor = t;
                        tr.out.sf_wink(samples_to_ms(len), &Default::default());
                    }
                    Action::OffHook => {
                        tr.out.cursor = t;
                        tr.out.sf_off();
                    }
                    Action::Release => {
                        tr.out.cursor = t;
                        if tg.supv == Supv::Sf {
                            tr.out.sf_on(IDLE_DBM0);
                        }
                        if let Some(i) = tr.call.take() {
                            records[i].released_ms.get_or_insert(samples_to_ms(t));
                        }
                    }
                    Action::Route(setup) => {
                        let r = route(office, &tg, &setup.ani);
                        let id = records.len() as u64 + 1;
                        let mut logs = setup.logs.clone();
                        logs.extend(r.logs.iter().cloned());
                        records.push(CallRecord {
                            call: id,
                            trunk: tg.key.clone(),
                            channel: c,
                            seized_ms: samples_to_ms(setup.seized),
                            called: setup.called.clone(),
                            ani_spill: setup.ani.spill.clone(),
                            // The caller's TN, or — after ANI trouble or from a non-ANI office —
                            // the substitute the PSAP is sent (NPA + 911-00EE).
                            ani: Some(setup.ani.tn.map_or_else(
                                || format!("{}91100{:02}", tg.npa, tg.esco),
                                |t| t.to_string(),
                            )),
                            ani_status: setup.ani.status.as_str(),
                            esn: Some(r.esn),
                            esn_source: Some(r.esn_source),
                            psap: None,
                            position: None,
                            outpulsed: None,
                            answered_ms: None,
                            abandoned: setup.abandoned,
                            transfers: Vec::new(),
                            released_ms: None,
                            logs,
                        });
                        let idx = records.len() - 1;
                        tr.call = Some(idx);
                        match positions.place(office, &r.psap, id) {
                            Placement::Position { psap, position, .. } => {
                                deliver(
                                    office,
                                    &tg,
                                    &mut records[idx],
                                    idx,
                                    &setup.ani,
                                    r.esn,
                                    &psap,
                                    position,
                                    t,
                                    &mut legs,
                                    &mut used,
                                );
                            }
                            Placement::Queued { psap, .. } => {
                                waiting.insert(id, (idx, setup.ani.clone(), r.esn, t));
                                records[idx].psap = Some(psap);
                                records[idx]
                                    .logs
                                    .push("QUEUED WITH RINGBACK: ALL POSITIONS BUSY".into());
                            }
                        }
                    }
                }
            }
        }
        // PSAP legs: the modelled attendants, and the trunk machines' timers.
        let mut freed: Vec<(String, u32, u64)> = Vec::new();
        for (name, legs) in legs.iter_mut() {
            for (k, leg) in legs.iter_mut().enumerate() {
                let mut due: Vec<(u64, PsapEvent)> = Vec::new();
                if let (Some(line), Some(chans)) = (&mut leg.heard, psap_in.get(name)) {
                    let a = &chans[k];
                    let (s, e) = ((pos as usize).min(a.len()), (next as usize).min(a.len()));
                    let mut sv = Vec::new();
                    line.process(&a[s..e], &mut |_| {}, &mut |v| sv.push(v));
                    for v in sv {
                        // Off-hook that stays (a "seizure" in the classifier's terms) answers; the
                        // trunk ignores it while it still waits for the wink.
                        match v {
                            SupervisionEvent::Wink { start, end, at } => {
                                due.push((at, PsapEvent::Wink { len: end - start }))
                            }
                            SupervisionEvent::Seize { at, .. } => due.push((at, PsapEvent::Answer)),
                            SupervisionEvent::Disconnect { at, .. } => {
                                due.push((at, PsapEvent::Disconnect))
                            }
                            _ => {}
                        }
                    }
                }
                leg.script.retain(|&(t, e)| {
                    if t < next {
                        due.push((t, e));
                        false
                    } else {
                        true
                    }
                });
                let mut acts: Vec<(u64, PsapAction)> = Vec::new();
                for (t, e) in due {
                    let mut a = Vec::new();
                    leg.trunk.on_event(t, e, &mut a);
                    acts.extend(a.into_iter().map(|x| (t, x)));
                }
                let mut a = Vec::new();
                leg.trunk.poll(next, &mut a);
                acts.extend(a.into_iter().map(|x| (next, x)));
                for (t, act) in acts {
                    match act {
                        PsapAction::Outpulse { spill, duration } => {
                            leg.out.cursor = t;
                            leg.out.mf(&spill, &MfParams::default());
                            if leg.heard.is_none() {
                                let at = t + duration + ms_to_samples(500.0) as u64;
                                leg.script.push((at, PsapEvent::Answer));
                            }
                        }
                        PsapAction::CutThrough => {
                            if let Some(i) = leg.call {
                                records[i].answered_ms = Some(samples_to_ms(t));
                            }
                        }
                        PsapAction::Release => {
                            leg.call = None;
                            freed.push((name.clone(), k as u32, t));
                        }
                        PsapAction::WinkTimeout | PsapAction::Seize => {}
                    }
                }
            }
        }
        // A freed position goes to the longest-waiting call at that PSAP.
        for (name, k, t) in freed {
            if let Some(call) = positions.release(&name, k) {
                if let Some((idx, ani, esn, queued_at)) = waiting.remove(&call) {
                    ringback.push((records[idx].channel, queued_at, t));
                    deliver(
                        office,
                        &tg,
                        &mut records[idx],
                        idx,
                        &ani,
                        esn,
                        &name,
                        k,
                        t,
                        &mut legs,
                        &mut used,
                    );
                }
            }
        }
        pos = next;
    }
    // Callers still waiting hear ringback to the end (or until they hang up).
    for (idx, _, _, queued_at) in waiting.values() {
        let r = &records[*idx];
        let to = r.released_ms.map_or(len, |m| ms_to_samples(m) as u64);
        ringback.push((r.channel, *queued_at, to));
    }
    // Audible ringback (signalling.md §4): 440 + 480 Hz, 2 s on / 4 s off.
    for (c, from, to) in ringback {
        let (on, period) = (ms_to_samples(2000.0) as u64, ms_to_samples(6000.0) as u64);
        let mut t0 = from;
        while t0 < to {
            let n = on.min(to - t0);
            trunks[c].out.tone(t0, n, 440.0, RINGBACK_DBM0);
            trunks[c].out.tone(t0, n, 480.0, RINGBACK_DBM0);
            t0 += period;
        }
    }
    // Voice: from answer until the caller releases, the caller's audio goes to the PSAP position
    // and the PSAP's (when recorded) back to the caller — through the 2600 Hz notch on SF trunks
    // (signalling.md §3), so supervision tone never reaches the other side.
    for r in &records {
        let (Some(answered), Some(psap), Some(position)) = (r.answered_ms, &r.psap, r.position)
        else {
            continue;
        };
        let from = ms_to_samples(answered);
        let to = r
            .released_ms
            .map_or(len as usize, ms_to_samples)
            .min(audio[r.channel].len());
        if from >= to {
            continue;
        }
        let mut caller = audio[r.channel][from..to].to_vec();
        if tg.supv == Supv::Sf {
            SfNotch::default().process(&mut caller);
        }
        if let Some(leg) = legs
            .get_mut(psap)
            .and_then(|l| l.get_mut(position as usize))
        {
            leg.out.cursor = from as u64;
            leg.out.mix(&caller, 0.0);
        }
        if let Some(chans) = psap_in.get(psap) {
            let a = &chans[position as usize];
            let mut back = a[from.min(a.len())..to.min(a.len())].to_vec();
            SfNotch::default().process(&mut back);
            let tr = &mut trunks[r.channel];
            tr.out.cursor = from as u64;
            tr.out.mix(&back, 0.0);
        }
    }
    let mut out = BTreeMap::new();
    let eo: Vec<Vec<i16>> = trunks
        .into_iter()
        .map(|tr| {
            let mut o = tr.out;
            o.pad_to(len);
            let (mut x, _) = o.finish(&Impairments::default());
            x.truncate(len as usize);
            x
        })
        .collect();
    out.insert(tg.key.clone(), eo);
    for (name, ls) in legs {
        if !used.contains_key(&name) {
            continue;
        }
        let chans = ls
            .into_iter()
            .map(|l| {
                let mut o = l.out;
                o.pad_to(len);
                o.finish(&Impairments::default()).0
            })
            .collect::<Vec<_>>();
        // One length for every channel of a leg.
        let n = chans.iter().map(|c| c.len()).max().unwrap_or(0);
        let chans = chans
            .into_iter()
            .map(|mut c| {
                c.resize(n, 0);
                c
            })
            .collect();
        out.insert(name, chans);
    }
    Ok(RouteRun { records, legs: out })
}
