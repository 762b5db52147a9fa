//! The provider's side of the selective router in real time: the tandem, its PSAPs modelled as in
//! `simulate`, and the provider's ESGW trunk group, whose trunks the SIP calls seize. One thread,
//! paced by the clock in 10 ms blocks; the SIP side talks to it only through channels
//! ([`Cmd`] in, [`Ev`] out) and each call's voice through its [`CallAudio`] (lock-free rings).
//!
//! A routed SIP call becomes an ESGW trunk call: the provider's line seizes, sends `KP 911 ST`
//! when winked and the ESQK as its ANI spill when asked, then carries the caller's voice. The
//! tandem routes the ESQK → ESN → primary PSAP as it routes any call, so the PSAP gets the ESQK
//! and its ALI query returns the caller's PIDF-LO location and callback number.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::engine::BLOCK;
use crate::location::ali::AliRecord;
use crate::sim::blocks::Blocks;
use crate::sim::psap::Screen;
use crate::sim::scenario::{AniSpec, CallSpec, Scenario};
use crate::sim::world::CallAudio;
use crate::tandem::event::SwitchEvent;
use crate::tandem::record::CallRecord;
use crate::units::{samples_to_ms, SECOND};

/// What the SIP side asks of the office.
pub enum Cmd {
    /// Seize an ESGW trunk for SIP call `id` and send `esqk` as its ANI; `ali` is the ESQK's
    /// record for the PSAP's query.
    Place {
        id: u64,
        esqk: u64,
        ali: Box<AliRecord>,
        audio: Box<dyn CallAudio>,
    },
    /// The caller left (BYE, CANCEL, RTP timeout): release the trunk.
    Hangup { id: u64 },
    /// End the run (every call still up is released first).
    Stop,
}

/// What happened to a SIP call in the office.
#[derive(Debug, Clone)]
pub enum Ev {
    /// The tandem routed the call but every position of its PSAPs is busy: it waits, hearing
    /// ringback, for the next to free.
    Queued { id: u64 },
    /// The tandem delivered the call to a PSAP position (it rings there).
    Delivered {
        id: u64,
        psap: String,
        position: u32,
    },
    /// The PSAP answered.
    Answered { id: u64 },
    /// The PSAP hung up (every position on the call).
    PsapReleased { id: u64 },
    /// The trunk is idle again: the call's tandem record (None: it never reached a trunk) and
    /// what the PSAPs' screens showed; the PSAP leg's audio when asked for. `key_free`: its
    /// ESQK can go back to the pool; else a PSAP still has the (abandoned) call, and
    /// [`Ev::KeyFree`] comes when its position releases it.
    Done {
        id: u64,
        record: Option<Box<CallRecord>>,
        screens: Vec<Screen>,
        psap_leg: Vec<i16>,
        key_free: bool,
    },
    /// An abandoned call's ESQK is free: the PSAP position that had the call released it (or
    /// never did, within the give-up time).
    KeyFree { esqk: u64 },
    /// The office fell behind the clock by more than a block (ms).
    Late { ms: f64 },
}

#[derive(Default)]
struct Live {
    call: usize,
    esqk: u64,
    record: Option<usize>,
    delivered: bool,
    queued: bool,
    answered: bool,
    psap_released: bool,
    /// The tandem released the call's trunk (`abandoned`: before any answer).
    caller_released: bool,
    abandoned: bool,
    /// Its own delivery's position released.
    position_released: bool,
    hung_up: Option<u64>,
    /// The PSAP position's port, once delivered.
    position_port: Option<usize>,
    psap_leg: Vec<i16>,
    /// What the PSAPs showed for this call (at the positions it was delivered to).
    screens: Vec<Screen>,
}

/// How the office runs.
pub struct Opts {
    pub esgw: String,
    /// The PSAP attendant hangs up this long after the caller has gone (samples): the tandem
    /// leaves release to the PSAP (called-party hold), so a position stays busy until then.
    pub psap_release: u64,
    /// Keep each call's PSAP-leg audio (for `--out`).
    pub keep_audio: bool,
    /// The server's start: records and screens are given on its clock (ms since then), the
    /// clock of the SIP records they belong to.
    pub started: Instant,
}

/// Run the office until [`Cmd::Stop`] (or the command channel closes). `sc` is the office, its
/// ALI, its trunk groups (with the ESGW's trunk count) and the PSAP attendants' defaults.
pub fn run(sc: Scenario, opts: Opts, cmds: Receiver<Cmd>, evs: Sender<Ev>) -> Result<(), String> {
    let (mut tandem, mut world) = crate::sim::build(&sc)?;
    let ports = tandem.ports().to_vec();
    let np = ports.len();
    let mut blocks = Blocks::new(np);
    let mut live: BTreeMap<u64, Live> = BTreeMap::new();
    // What the switch tells: its calls' events, the tandem's call id → the SIP call, and each
    // PSAP position's port → the SIP call last delivered there.
    tandem.tell_events();
    let mut events: Vec<SwitchEvent> = Vec::with_capacity(64);
    let mut by_call: BTreeMap<usize, u64> = BTreeMap::new();
    let mut at_position: Vec<Option<u64>> = vec![None; np];
    // Abandoned calls already recorded whose ESQK a PSAP still holds: (tandem call, ESQK, give
    // up at).
    let mut held_keys: Vec<(usize, u64, u64)> = Vec::new();
    let mut stopping = false;
    // Positions whose caller has gone: (port, hang up at, give up at).
    let mut to_release: Vec<(usize, u64, u64)> = Vec::new();
    let start = Instant::now();
    // The office's clock is zero at `start`; the SIP records' at the server's start.
    let offset_ms = start.saturating_duration_since(opts.started).as_secs_f64() * 1000.0;
    let mut now = 0u64;
    loop {
        // Commands.
        loop {
            let c = match cmds.try_recv() {
                Ok(c) => c,
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    stopping = true;
                    break;
                }
            };
            match c {
                Cmd::Place {
                    id,
                    esqk,
                    ali,
                    audio,
                } => {
                    world.add_ali(esqk, *ali);
                    let call = world.add_call(CallSpec {
                        n: id as usize,
                        at: now,
                        group: opts.esgw.clone(),
                        channel: None,
                        ani: AniSpec::Tn(esqk),
                        called: "911".into(),
                        hold: 24 * 3600 * SECOND,
                        voice: None,
                        noise_dbm0: None,
                        g711: None,
                        mf: Default::default(),
                        actions: Vec::new(),
                        client: None,
                        label: None,
                        kind: "sip",
                    });
                    world.attach_audio(call, audio);
                    live.insert(
                        id,
                        Live {
                            call,
                            esqk,
                            ..Default::default()
                        },
                    );
                }
                Cmd::Hangup { id } => {
                    if let Some(l) = live.get_mut(&id) {
                        if l.hung_up.is_none() {
                            l.hung_up = Some(now);
                            world.hang_up(l.call, now);
                            if let Some(p) = l.position_port.filter(|_| !l.psap_released) {
                                to_release.push((p, now + opts.psap_release, now + 60 * SECOND));
                            }
                        }
                    }
                }
                Cmd::Stop => stopping = true,
            }
        }
        if stopping {
            for l in live.values_mut() {
                if l.hung_up.is_none() {
                    l.hung_up = Some(now);
                    world.hang_up(l.call, now);
                }
            }
        }
        // Attendants whose caller has gone hang up (once their position is talking: a call
        // still ringing there is answered first, as the tandem delivers abandoned calls).
        to_release.retain(|&(p, at, give_up)| {
            if now < at {
                return true;
            }
            match world.position(p) {
                Some(pos) if pos.talking() => {
                    pos.act_at(now, crate::sim::scenario::Act::Hangup);
                    false
                }
                Some(_) => now < give_up,
                None => false,
            }
        });
        // One block: the world (provider lines, PSAP models), then the tandem.
        blocks.step(&mut tandem, &mut world, now, |_| {});
        now += BLOCK as u64;
        // What the switch says happened, call by call.
        tandem.take_events(&mut events);
        for e in events.drain(..) {
            if let SwitchEvent::PositionReleased {
                call,
                transfer: None,
                ..
            } = e
            {
                if let Some(k) = held_keys.iter().position(|h| h.0 == call) {
                    let (_, esqk, _) = held_keys.swap_remove(k);
                    let _ = evs.send(Ev::KeyFree { esqk });
                }
            }
            if let SwitchEvent::Routed { call, port } = e {
                // The SIP call whose line seized that trunk (the latest to, if two did).
                let hit = live
                    .iter_mut()
                    .filter(|(_, l)| l.record.is_none())
                    .filter_map(|(id, l)| match world.started[l.call] {
                        Some((p, t)) if p == port => Some((t, *id, l)),
                        _ => None,
                    })
                    .max_by_key(|x| x.0);
                if let Some((_, id, l)) = hit {
                    l.record = Some(call);
                    by_call.insert(call, id);
                }
                continue;
            }
            let Some(&id) = by_call.get(&e.call()) else {
                continue;
            };
            let Some(l) = live.get_mut(&id) else {
                continue;
            };
            match e {
                SwitchEvent::Queued { .. } if !l.delivered && !l.queued => {
                    l.queued = true;
                    let _ = evs.send(Ev::Queued { id });
                }
                SwitchEvent::Delivered {
                    call,
                    transfer,
                    port,
                } => {
                    at_position[port] = Some(id);
                    // Its own delivery — again after a position that never winked.
                    if transfer.is_none() {
                        l.delivered = true;
                        l.position_port = Some(port);
                        if let Some(t) = l.hung_up {
                            // Delivered after the caller left (it waited for a position).
                            to_release.push((
                                port,
                                t.max(now) + opts.psap_release,
                                now + 60 * SECOND,
                            ));
                        }
                        let r = tandem.record(call);
                        let _ = evs.send(Ev::Delivered {
                            id,
                            psap: r.and_then(|r| r.psap.clone()).unwrap_or_default(),
                            position: r.and_then(|r| r.position).unwrap_or(0),
                        });
                    }
                }
                SwitchEvent::Answered { transfer: None, .. } if !l.answered => {
                    l.answered = true;
                    let _ = evs.send(Ev::Answered { id });
                }
                SwitchEvent::PsapGone { .. } if l.answered && !l.psap_released => {
                    l.psap_released = true;
                    let _ = evs.send(Ev::PsapReleased { id });
                }
                SwitchEvent::CallerReleased { abandoned, .. } => {
                    l.caller_released = true;
                    l.abandoned |= abandoned;
                }
                SwitchEvent::PositionReleased { transfer: None, .. } => {
                    l.position_released = true;
                }
                _ => {}
            }
        }
        held_keys.retain(|&(_, esqk, give_up)| {
            if now < give_up {
                return true;
            }
            let _ = evs.send(Ev::KeyFree { esqk });
            false
        });
        // Each call's PSAP leg, and whether it is over.
        let mut done = Vec::new();
        for (&id, l) in live.iter_mut() {
            if opts.keep_audio && l.hung_up.is_none() {
                if let Some(p) = l.position_port {
                    l.psap_leg.extend_from_slice(&blocks.t_out[p]);
                }
            }
            // Done once the trunk is idle and the tandem has closed the call (or never saw it).
            let off_trunk = world.on_trunk(l.call).is_none();
            let started = world.started[l.call].is_some();
            // Closed: the trunk released, and the PSAP position too (the ESQK stays the call's
            // while a PSAP may still query ALI with it).
            // A call abandoned before the answer stays the PSAP's to answer and release (it
            // may call back); its record closes with the trunk.
            // A line whose call the tandem has not routed yet (the caller left during the
            // trunk's setup: the tandem routes it as abandoned once it sees the disconnect) is
            // not closed while that trunk is still in setup.
            let setting_up = l.record.is_none()
                && world.started[l.call].is_some_and(|(p, _)| tandem.trunk_in_setup(p));
            let closed = (l.record.is_none() && !setting_up)
                || (l.caller_released && (!l.delivered || l.abandoned || l.position_released));
            let wait = if stopping {
                3 * SECOND
            } else {
                opts.psap_release + 65 * SECOND
            };
            let grace = l.hung_up.is_some_and(|t| now > t + wait);
            if l.hung_up.is_some() && (!started || (off_trunk && (closed || grace))) {
                done.push(id);
            }
        }
        for id in done {
            let l = live.remove(&id).expect("listed");
            if let Some(c) = l.record {
                by_call.remove(&c);
            }
            let record = l
                .record
                .and_then(|i| tandem.record(i))
                .map(|r| Box::new(r.clone()));
            world.recycle(l.call);
            // An abandoned call a PSAP still has (ringing, queued or talking to the attendant
            // who may call back): its ESQK stays its own until that position releases it.
            let key_free = match l.record {
                Some(c) if l.abandoned && !l.position_released && !stopping => {
                    held_keys.push((c, l.esqk, now + opts.psap_release + 120 * SECOND));
                    false
                }
                _ => true,
            };
            let mut record = record;
            if let Some(r) = &mut record {
                r.shift(offset_ms);
            }
            let mut screens = l.screens;
            for sc in &mut screens {
                sc.at_ms += offset_ms;
            }
            let _ = evs.send(Ev::Done {
                id,
                record,
                screens,
                psap_leg: l.psap_leg,
                key_free,
            });
        }
        // Keep nothing per call beyond the calls up: screens go to their calls, the world's
        // notes are not used here, finished tandem calls are forgotten.
        for sc in world.screens.drain(..) {
            let at = tandem
                .port(&sc.psap, sc.position as usize)
                .and_then(|p| at_position[p]);
            if let Some(l) = at.and_then(|id| live.get_mut(&id)) {
                l.screens.push(sc);
            }
        }
        world.notes.clear();
        if now.is_multiple_of(SECOND) {
            let keep_from = live
                .values()
                .map(|l| l.record.unwrap_or(usize::MAX))
                .min()
                .unwrap_or(usize::MAX)
                .min(tandem.next_call_id());
            tandem.forget_finished(keep_from);
        }
        if stopping && live.is_empty() {
            return Ok(());
        }
        // Pace: the block that starts at `now` is due at start + now.
        let due = start + Duration::from_secs_f64(samples_to_ms(now) / 1000.0);
        let t = Instant::now();
        if due > t {
            std::thread::sleep(due - t);
        } else if t - due > Duration::from_millis(20) {
            let _ = evs.send(Ev::Late {
                ms: (t - due).as_secs_f64() * 1000.0,
            });
        }
    }
}
