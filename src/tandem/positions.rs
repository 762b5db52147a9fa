//! PSAP positions, overflow and queueing (`docs/call-processing.md`): the lowest idle
//! position of the primary PSAP; if all are busy, its OVFL PSAP (following the overflow chain,
//! never looping); if none has an idle position, the call queues at the primary PSAP with audible
//! ringback until a position frees. No call is ever dropped.

use std::collections::{BTreeMap, VecDeque};

use super::tables::Office;

/// Where a call goes now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Position `position` (0-based) of `psap`; `overflowed` when it is not the primary.
    Position {
        psap: String,
        position: u32,
        overflowed: bool,
    },
    /// Queued at `psap` (the primary), `depth` calls ahead; play ringback.
    Queued { psap: String, depth: usize },
}

/// Busy positions of every PSAP, and the calls waiting.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    busy: BTreeMap<String, Vec<bool>>,
    queues: BTreeMap<String, VecDeque<u64>>,
}

impl Positions {
    pub fn new(office: &Office) -> Self {
        Positions {
            busy: office
                .psaps
                .values()
                .map(|p| (p.name.clone(), vec![false; p.positions as usize]))
                .collect(),
            queues: BTreeMap::new(),
        }
    }

    fn take_idle(&mut self, psap: &str) -> Option<u32> {
        let slots = self.busy.get_mut(psap)?;
        let i = slots.iter().position(|b| !b)?;
        slots[i] = true;
        Some(i as u32)
    }

    /// Place call `call` for primary PSAP `primary`.
    pub fn place(&mut self, office: &Office, primary: &str, call: u64) -> Placement {
        let mut name = primary.to_string();
        let mut seen = vec![];
        loop {
            if let Some(position) = self.take_idle(&name) {
                return Placement::Position {
                    overflowed: name != primary,
                    psap: name,
                    position,
                };
            }
            seen.push(name.clone());
            match office.psaps.get(&name).and_then(|p| p.overflow.clone()) {
                Some(next) if !seen.contains(&next) => name = next,
                _ => break,
            }
        }
        let q = self.queues.entry(primary.to_string()).or_default();
        q.push_back(call);
        Placement::Queued {
            psap: primary.to_string(),
            depth: q.len() - 1,
        }
    }

    /// Position `position` of `psap` frees. Returns the queued call that takes it, if any.
    pub fn release(&mut self, psap: &str, position: u32) -> Option<u64> {
        if let Some(q) = self.queues.get_mut(psap) {
            if let Some(call) = q.pop_front() {
                // The position goes straight to the longest-waiting call.
                return Some(call);
            }
        }
        if let Some(slot) = self
            .busy
            .get_mut(psap)
            .and_then(|s| s.get_mut(position as usize))
        {
            *slot = false;
        }
        None
    }

    /// Take a specific idle position (selective transfer *10 to another position).
    pub fn take(&mut self, psap: &str) -> Option<u32> {
        self.take_idle(psap)
    }

    pub fn queued(&self, psap: &str) -> usize {
        self.queues.get(psap).map_or(0, |q| q.len())
    }
}
