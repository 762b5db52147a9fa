//! Receivers attached when a call needs them, as a DMS-100 attaches them from its pools: MF on an
//! incoming trunk from its seizure until its digits and ANI are in (and a guard after), DTMF on a
//! heard PSAP position from its hook flash until the code ends or times out, SF wherever a port
//! has SF supervision, nothing on positions signalled out of band (`SUPV NONE`, modelled).
//!
//! The switch decides; whoever runs the receivers (the engine's workers, or [`Tandem::step`]
//! itself) applies the changes from its next block.

use super::*;

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

    /// After a block: attach or detach MF and DTMF where the calls' states changed.
    pub(super) fn update_receivers(&mut self) {
        let next = self.next;
        let guard = ms_to_samples(MF_GUARD_MS) as u64;
        for (i, t) in self.trunks.iter().enumerate() {
            let want = if t.machine.wants_mf() {
                self.mf_until[i] = next + guard;
                true
            } else {
                next < self.mf_until[i]
            };
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

    /// The receivers each port runs now.
    pub fn receivers_now(&self) -> &[RxSet] {
        &self.rx_now
    }
}
