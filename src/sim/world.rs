//! Everything outside the tandem in a simulation: the end offices (one [`EoLine`] per trunk) and
//! the PSAP positions ([`PsapPosition`], for every PSAP on SF supervision; `SUPV NONE` PSAPs are
//! modelled inside the tandem). It is stepped block by block like the tandem, on the same port
//! order: it hears what the tandem sent and says what the tandem will hear.

use std::collections::VecDeque;

use super::eo::{EoLine, EoNote};
use super::psap::{PsapPosition, Screen};
use super::scenario::{Act, Scenario};
use crate::tandem::switch::PortInfo;
use crate::tandem::tables::Supv;

use crate::engine::Lead;
pub use crate::engine::LineSignal;

/// A call's voice carried from elsewhere (a SIP call's RTP): what the caller says, and what the
/// caller hears. Called on the world's thread, once per block; must not block.
pub trait CallAudio: Send {
    /// The caller's next `out.len()` samples (sent on the trunk once the spill is out).
    fn say(&mut self, out: &mut [i16]);
    /// What the tandem sent toward the caller in the same block.
    fn hear(&mut self, from_tandem: &[i16]);
}

pub struct World {
    sc: Scenario,
    /// Per port (tandem order): an end-office trunk.
    eo: Vec<Option<EoLine>>,
    /// Per port: a PSAP position model.
    psap: Vec<Option<PsapPosition>>,
    /// First port of each group, by group key.
    group_ports: Vec<(String, usize, usize)>,
    /// Calls not yet started (indices into `sc.calls`, in time order).
    pending: VecDeque<usize>,
    /// Calls waiting for an idle trunk.
    blocked: Vec<usize>,
    claimed: Vec<bool>,
    pub screens: Vec<Screen>,
    pub notes: Vec<EoNote>,
    /// Call index → (port, started at).
    pub started: Vec<Option<(usize, u64)>>,
    /// The attendants of the positions the tandem signals out of band (`SUPV NONE` PSAPs).
    pub attendants: super::attendant::Attendants,
    /// Calls whose voice comes from elsewhere, by call index.
    audio: std::collections::BTreeMap<usize, Box<dyn CallAudio>>,
    scratch: Vec<i16>,
    /// Call slots given back by [`World::recycle`], for [`World::add_call`] to reuse.
    free: Vec<usize>,
}

impl World {
    pub fn new(sc: &Scenario, ports: &[PortInfo]) -> World {
        let mut eo = Vec::new();
        let mut psap = Vec::new();
        let mut group_ports: Vec<(String, usize, usize)> = Vec::new();
        let mut planner = crate::dsp::correlator::KernelPlanner::new();
        for (i, p) in ports.iter().enumerate() {
            if p.psap {
                let ps = &sc.office.psaps[&p.leg];
                eo.push(None);
                psap.push(
                    (ps.supv == Supv::Sf)
                        .then(|| PsapPosition::new(ps, p.channel as u32, &mut planner)),
                );
            } else {
                let tg = &sc.office.trunk_groups[&p.leg];
                eo.push(Some(EoLine::new(tg, 7 + i as u64)));
                psap.push(None);
                match group_ports.last_mut() {
                    Some(g) if g.0 == p.leg => g.2 += 1,
                    _ => group_ports.push((p.leg.clone(), i, 1)),
                }
            }
        }
        World {
            sc: sc.clone(),
            eo,
            psap,
            group_ports,
            pending: (0..sc.calls.len()).collect(),
            blocked: Vec::new(),
            claimed: vec![false; sc.calls.len()],
            screens: Vec::new(),
            notes: Vec::new(),
            started: vec![None; sc.calls.len()],
            attendants: super::attendant::Attendants::new(crate::units::ms_to_samples(
                sc.attendant.hold_ms,
            ) as u64),
            audio: Default::default(),
            scratch: Vec::new(),
            free: Vec::new(),
        }
    }

    /// A call placed while running (a SIP call): started with the next block that reaches
    /// `spec.at`. Returns its index.
    pub fn add_call(&mut self, spec: super::scenario::CallSpec) -> usize {
        if let Some(k) = self.free.pop() {
            self.sc.calls[k] = spec;
            self.claimed[k] = false;
            self.started[k] = None;
            self.pending.push_back(k);
            return k;
        }
        let k = self.sc.calls.len();
        self.sc.calls.push(spec);
        self.pending.push_back(k);
        self.claimed.push(false);
        self.started.push(None);
        k
    }

    /// Call `call` (added by [`World::add_call`]) is over and off its trunk: its slot may be
    /// reused, so a server's world stays the size of its busiest moment. False (and nothing
    /// done) while the call is still queued or on a trunk.
    pub fn recycle(&mut self, call: usize) -> bool {
        if self.pending.contains(&call)
            || self.blocked.contains(&call)
            || self.on_trunk(call).is_some()
            || self.free.contains(&call)
        {
            return false;
        }
        self.audio.remove(&call);
        self.free.push(call);
        true
    }

    /// An ALI record the PSAP models will find (an ESQK routed while running).
    pub fn add_ali(&mut self, tn: u64, r: crate::location::ali::AliRecord) {
        self.sc.ali.records.insert(tn, r);
    }

    /// Carry call `call`'s voice from `a` (instead of the scenario's voice).
    pub fn attach_audio(&mut self, call: usize, a: Box<dyn CallAudio>) {
        self.audio.insert(call, a);
    }

    /// The caller of call `call` hangs up at `t`: a call not yet on a trunk is dropped from the
    /// queue (false), one on a trunk is released there.
    pub fn hang_up(&mut self, call: usize, t: u64) -> bool {
        self.audio.remove(&call);
        self.claimed[call] = true;
        self.pending.retain(|&c| c != call);
        self.blocked.retain(|&c| c != call);
        let Some((p, _)) = self.started[call] else {
            return false;
        };
        if let Some(eo) = self.eo[p].as_mut() {
            if eo.current() == Some(call) {
                eo.hang_up_at(t);
            }
        }
        true
    }

    /// The PSAP position model on port `p`, if one is modelled there.
    pub fn position(&mut self, p: usize) -> Option<&mut PsapPosition> {
        self.psap.get_mut(p).and_then(|x| x.as_mut())
    }

    /// Is call `call` still on its trunk?
    pub fn on_trunk(&self, call: usize) -> Option<usize> {
        let (p, _) = self.started[call]?;
        self.eo[p]
            .as_ref()
            .filter(|e| e.current() == Some(call))
            .map(|_| p)
    }

    /// Port `p` is carried elsewhere (a sound card's line): nothing is modelled on it.
    pub fn detach(&mut self, p: usize) {
        self.eo[p] = None;
        self.psap[p] = None;
    }

    /// Keep every end office's steps for [`World::take_trace`] (a live end office logs them).
    pub fn trace(&mut self) {
        for e in self.eo.iter_mut().flatten() {
            e.trace = Some(Vec::new());
        }
    }

    /// The end offices' steps since the last call, in time order.
    pub fn take_trace(&mut self) -> Vec<EoNote> {
        let mut v: Vec<EoNote> = self
            .eo
            .iter_mut()
            .flatten()
            .filter_map(|e| e.trace.as_mut().map(std::mem::take))
            .flatten()
            .collect();
        v.sort_by_key(|n| n.at);
        v
    }

    /// Are all calls started and every end office idle?
    pub fn done(&self) -> bool {
        self.pending.is_empty()
            && self.blocked.is_empty()
            && self.eo.iter().flatten().all(|e| e.is_idle())
    }

    /// One block of `n` samples from `now`: `from_tandem[p]` is what the tandem sent on port `p`
    /// (one block earlier), `out[p]` receives what the world sends. Out-of-band seizures and
    /// disconnects of `SUPV NONE` trunks are appended to `line`.
    pub fn step(
        &mut self,
        now: u64,
        from_tandem: &[&[i16]],
        out: &mut [&mut [i16]],
        line: &mut Vec<LineSignal>,
    ) {
        let n = out.first().map_or(0, |o| o.len()) as u64;
        let next = now + n;
        // Calls that start in this block, on their trunk (or the lowest idle one).
        while let Some(&c) = self.pending.front() {
            if self.sc.calls[c].at >= next {
                break;
            }
            self.pending.pop_front();
            self.blocked.push(c);
        }
        let mut still = Vec::new();
        for c in std::mem::take(&mut self.blocked) {
            let spec = &self.sc.calls[c];
            let Some(&(_, first, count)) = self.group_ports.iter().find(|g| g.0 == spec.group)
            else {
                continue;
            };
            let free = |p: usize| self.eo[p].as_ref().unwrap().available(now);
            let port = match spec.channel {
                Some(ch) => Some(first + ch).filter(|&p| free(p)),
                None => (first..first + count).find(|&p| free(p)),
            };
            match port {
                Some(p) => {
                    let t = spec.at.max(now);
                    let eo = self.eo[p].as_mut().unwrap();
                    if eo.start(t, c, spec) {
                        line.push((p, t, Lead::OffHook));
                    }
                    self.started[c] = Some((p, t));
                }
                None => still.push(c),
            }
        }
        self.blocked = still;
        let calls = &self.sc.calls;
        let claimed = &mut self.claimed;
        let groups = &self.sc.office.trunk_groups;
        let mut claim = |ani: u64| -> Option<Vec<(u64, Act)>> {
            let k = (0..calls.len())
                .find(|&k| !claimed[k] && calls[k].psap_ani(&groups[&calls[k].group]) == ani)?;
            claimed[k] = true;
            Some(calls[k].actions.clone())
        };
        for (p, o) in out.iter_mut().enumerate() {
            let x = from_tandem.get(p).copied().unwrap_or(&[]);
            if let Some(eo) = &mut self.eo[p] {
                if let Some(t) = eo.step(now, x, o, calls) {
                    line.push((p, t, Lead::OnHook));
                }
                if let Some((c, from)) = eo.voice_from() {
                    if let Some(a) = self.audio.get_mut(&c).filter(|_| from < next) {
                        let k = from.saturating_sub(now) as usize;
                        self.scratch.resize(o.len() - k, 0);
                        a.say(&mut self.scratch);
                        for (y, v) in o[k..].iter_mut().zip(&self.scratch) {
                            *y = y.saturating_add(*v);
                        }
                        a.hear(x);
                    }
                }
                self.notes.append(&mut eo.notes);
            } else if let Some(ps) = &mut self.psap[p] {
                ps.step(
                    now,
                    x,
                    o,
                    &self.sc.office,
                    &self.sc.ali,
                    &self.sc.attendant,
                    &mut claim,
                    &mut self.screens,
                );
            } else {
                o.fill(0);
            }
        }
    }
}
