//! Delivering calls to PSAP positions (docs/call-processing.md): the lowest idle position of the
//! PSAP asked for, else along its overflow chain ([`Positions`]), else a FIFO queue at that PSAP
//! (the caller hears ringback meanwhile); and the release guard — a position a PSAP released is
//! not seized again for [`RELEASE_GUARD`], so the PSAP hears the idle tone long enough (1.3 s) to
//! see a disconnect before the next seizure. Then it goes to the longest-waiting queued delivery,
//! or back to the pool.
//!
//! `R` is what the switch delivers (a call, or a transfer of one); time is injected in samples.

use std::collections::BTreeMap;

use super::positions::{Placement, Positions};
use super::tables::Office;

/// A released PSAP position is not seized again for this long (samples): the PSAP must hear the
/// idle tone for the 1 300 ms that make a disconnect before the next seizure.
pub const RELEASE_GUARD: u64 = 1500 * 8;

/// Where a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// Seize `position` of `psap` now; `overflowed` when `psap` is not the one asked for.
    Position {
        psap: String,
        position: u32,
        overflowed: bool,
    },
    /// Queued at `psap` (every position of the chain busy).
    Queued { psap: String },
}

/// Positions, the queues and the release guards.
#[derive(Debug, Clone)]
pub struct Delivery<R> {
    positions: Positions,
    queued: BTreeMap<u64, R>,
    /// Released positions in their guard: `(until, psap, position)`.
    guard: Vec<(u64, String, u32)>,
    next_id: u64,
}

impl<R: Copy> Delivery<R> {
    pub fn new(office: &Office) -> Self {
        Delivery {
            positions: Positions::new(office),
            queued: BTreeMap::new(),
            guard: Vec::new(),
            next_id: 1,
        }
    }

    /// Find a position at `psap` (or along its overflow chain) for `req`, else queue it there.
    pub fn place(&mut self, office: &Office, psap: &str, req: R) -> Placed {
        let id = self.next_id;
        self.next_id += 1;
        match self.positions.place(office, psap, id) {
            Placement::Position {
                psap,
                position,
                overflowed,
            } => Placed::Position {
                psap,
                position,
                overflowed,
            },
            Placement::Queued { psap, .. } => {
                self.queued.insert(id, req);
                Placed::Queued { psap }
            }
        }
    }

    /// An idle position of `psap` itself, if any (selective transfer to a primary elsewhere).
    pub fn take(&mut self, psap: &str) -> Option<u32> {
        self.positions.take(psap)
    }

    /// When the next release guard ends.
    /// Deliveries waiting for a position.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.guard.iter().map(|g| g.0).min()
    }

    /// `psap`'s `position` released at `t`: it starts its guard.
    pub fn release(&mut self, t: u64, psap: String, position: u32) {
        self.guard.push((t + RELEASE_GUARD, psap, position));
    }

    /// Guards ending before `next`: each position goes to the longest-waiting delivery queued at
    /// its PSAP — returned as `(req, psap, position, when)` to be seized — or back to the pool.
    pub fn guards_ended(&mut self, next: u64, out: &mut Vec<(R, String, u32, u64)>) {
        let mut k = 0;
        while k < self.guard.len() {
            if self.guard[k].0 < next {
                let (t, psap, position) = self.guard.swap_remove(k);
                if let Some(id) = self.positions.release(&psap, position) {
                    if let Some(req) = self.queued.remove(&id) {
                        out.push((req, psap, position, t));
                    }
                }
            } else {
                k += 1;
            }
        }
    }
}
