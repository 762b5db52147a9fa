//! Receivers attached when a call needs them, as a DMS-100 attaches them from its pools: MF on an
//! incoming trunk from its seizure until its digits and ANI are in (and a guard after), DTMF on a
//! heard PSAP position from its hook flash until the code ends or times out, SF wherever a port
//! has SF supervision, nothing on positions signalled out of band (`SUPV NONE`, modelled).
//!
//! The switch decides; whoever runs the receivers (the engine's workers, or [`Tandem::step`]
//! itself) applies the changes from its next block.

use std::collections::VecDeque;

use super::*;

/// How long a seizure waits for an MF receiver before the call is routed on what is known (the
/// trunk group's default ESN, log E911200): less than an end office waits for its wink (4–5 s),
/// so the call is routed rather than abandoned by the far end.
pub const MF_WAIT_MS: f64 = 3000.0;

/// What the MF receiver pool went through in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// The pool's size (`None`: one per trunk).
    pub size: Option<usize>,
    /// Most receivers attached at once.
    pub peak_busy: usize,
    /// Seizures that found every receiver busy and waited.
    pub waits: u64,
    /// Of those, how many gave up after [`MF_WAIT_MS`] (routed to the default ESN).
    pub timeouts: u64,
    /// The longest wait (samples).
    pub max_wait: u64,
}

impl PoolStats {
    /// One line for a log, when a pool is datafilled: its size, the most attached at once, the
    /// seizures that waited (the longest wait) and those that gave up.
    pub fn summary(&self) -> Option<String> {
        let n = self.size?;
        Some(format!(
            "MF receiver pool (OFCENG MF_RECEIVERS {n}): at most {} attached at once; {} seizure(s) waited for one (longest {:.1} ms), {} routed without one after {:.0} s (E911200)",
            self.peak_busy,
            self.waits,
            crate::units::samples_to_ms(self.max_wait),
            self.timeouts,
            MF_WAIT_MS / 1000.0
        ))
    }
}

/// The DMS's MF receiver pool: a seizure takes a receiver if one is free, else waits in turn
/// (its wink withheld) until one is released.
#[derive(Debug, Clone, Default)]
pub(super) struct Pool {
    busy: usize,
    /// Trunks waiting, with their seizure times, in seizure order.
    waiting: VecDeque<(usize, u64)>,
    /// Trunks given a receiver whose seizure is still to reach their machine.
    granted: BTreeSet<usize>,
    stats: PoolStats,
}

impl Pool {
    pub(super) fn new(size: Option<usize>) -> Self {
        Pool {
            stats: PoolStats {
                size,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    pub(super) fn size(&self) -> Option<usize> {
        self.stats.size
    }

    pub(super) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub(super) fn next_deadline(&self) -> Option<u64> {
        self.waiting
            .front()
            .map(|&(_, since)| since + ms_to_samples(MF_WAIT_MS) as u64)
    }

    fn take(&mut self) {
        self.busy += 1;
        self.stats.peak_busy = self.stats.peak_busy.max(self.busy);
    }

    fn free(&self) -> bool {
        self.stats.size.is_none_or(|n| self.busy < n)
    }
}

/// MF stays attached this long after a trunk stops needing it (its ST is reported ~13 ms into
/// the tone; the rest of the tone and its gap are heard out).
pub const MF_GUARD_MS: f64 = 100.0;

impl Tandem {
    /// What each port runs at the start: SF on SF-supervised trunks and on heard positions;
    /// MF and DTMF only when a call asks for them.
    pub fn receiver_sets(&self) -> Vec<RxSet> {
        self.rx_now.clone()
    }

    pub(super) fn initial_receivers(
        groups: &[TrunkGroup],
        trunks: &[TrunkPort],
        psaps: &[PsapPort],
    ) -> Vec<RxSet> {
        let mut v: Vec<RxSet> = trunks
            .iter()
            .map(|t| RxSet {
                sf: groups[t.group].supv == Supv::Sf,
                ..RxSet::NONE
            })
            .collect();
        v.extend(psaps.iter().map(|p| RxSet {
            sf: p.heard,
            ..RxSet::NONE
        }));
        v
    }

    /// What the MF receiver pool went through so far.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats
    }

    /// A trunk that takes MF digits or ANI needs a receiver at its seizure.
    fn needs_mf(&self, i: usize) -> bool {
        let g = &self.groups[self.trunks[i].group];
        g.sig == super::super::tables::Sig::Mf || g.ani
    }

    /// The pool's say on trunk `i`'s events of this block (in time order): a seizure takes a
    /// receiver, or waits for one (its wink withheld: the machine does not see it yet); a
    /// disconnect while waiting is an abandoned call (seized and released at once, so it is
    /// routed and recorded); anything else heard while waiting has no receiver to hear it.
    pub(super) fn receiver_gate(&mut self, i: usize, events: &mut Vec<(u64, Event)>) {
        if !self.needs_mf(i) {
            return;
        }
        let mut out = Vec::with_capacity(events.len());
        for &(t, ev) in events.iter() {
            let waiting = self.pool.waiting.iter().position(|w| w.0 == i);
            match (ev, waiting) {
                (Event::Disconnect, Some(k)) => {
                    self.pool.waiting.remove(k);
                    out.push((t, Event::Seize));
                    out.push((t, Event::Disconnect));
                }
                (_, Some(_)) => {}
                (Event::Seize, None) if self.trunks[i].machine.is_idle() => {
                    if self.pool.granted.remove(&i) {
                        self.trunks[i].held = true;
                        out.push((t, ev));
                    } else if self.pool.free() {
                        self.pool.take();
                        self.trunks[i].held = true;
                        out.push((t, ev));
                    } else {
                        self.pool.waiting.push_back((i, t));
                        self.pool.stats.waits += 1;
                        self.trunks[i].waited_from = Some(t);
                    }
                }
                _ => out.push((t, ev)),
            }
        }
        *events = out;
    }

    /// Seizures that have waited [`MF_WAIT_MS`] for a receiver are routed without one.
    pub(super) fn receiver_waits(&mut self, next: u64) {
        let max = ms_to_samples(MF_WAIT_MS) as u64;
        while let Some(&(i, since)) = self.pool.waiting.front() {
            let due = since + max;
            if due >= next {
                break;
            }
            self.pool.waiting.pop_front();
            self.pool.stats.timeouts += 1;
            self.pool.stats.max_wait = self.pool.stats.max_wait.max(due - since);
            let mut acts = Vec::new();
            let m = &mut self.trunks[i].machine;
            m.on_event(due, Event::Seize, &mut acts);
            m.on_event(due, Event::NoReceiver, &mut acts);
            for a in acts {
                self.trunk_action(i, due, a);
            }
        }
    }

    /// After a block: attach or detach MF and DTMF where the calls' states changed; a released
    /// MF receiver goes to the longest-waiting seizure.
    pub(super) fn update_receivers(&mut self) {
        let next = self.next;
        let guard = ms_to_samples(MF_GUARD_MS) as u64;
        for i in 0..self.trunks.len() {
            let t = &self.trunks[i];
            let want = t.held
                && if t.machine.wants_mf() {
                    self.mf_until[i] = next + guard;
                    true
                } else {
                    next < self.mf_until[i]
                };
            if !want && t.held {
                self.trunks[i].held = false;
                self.pool.busy -= 1;
                while self.pool.free() {
                    let Some((j, since)) = self.pool.waiting.pop_front() else {
                        break;
                    };
                    self.pool.take();
                    self.pool.granted.insert(j);
                    self.pool.stats.max_wait = self.pool.stats.max_wait.max(next - since);
                    self.trunks[j].oob.push((next, Event::Seize));
                }
            }
            if want != self.rx_now[i].mf {
                self.rx_now[i].mf = want;
                self.rx_changes.push((i, self.rx_now[i]));
            }
        }
        let nt = self.trunks.len();
        for (i, p) in self.psaps.iter().enumerate().filter(|(_, p)| p.heard) {
            let want = p.collector.is_collecting();
            if want != self.rx_now[nt + i].dtmf {
                self.rx_now[nt + i].dtmf = want;
                self.rx_changes.push((nt + i, self.rx_now[nt + i]));
            }
        }
    }

    /// Receivers attached or detached since the last call: `(port, its whole new set)`, for
    /// whoever runs them (from their next block).
    pub fn receiver_changes(&mut self, out: &mut Vec<(usize, RxSet)>) {
        out.append(&mut self.rx_changes);
    }
}
