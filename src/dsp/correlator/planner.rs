//! Plans the banks' block kernels (built once per design, shared by every bank of a planner).

use std::collections::HashMap;
use std::sync::Arc;

use super::{padded, phasor};

/// Plans correlator banks, in the manner of RustFFT's `FftPlanner`: the block kernel of each
/// distinct design (frequencies, hop) is built once and shared by every bank planned from the same
/// planner — thousands of ports' MF and DTMF banks hold one kernel each between them. Whoever
/// builds many receivers (the engine, the tandem, `detect`) keeps one planner; a bank built with
/// [`super::CorrelatorBank::new`] gets a planner of its own.
#[derive(Debug, Default)]
pub struct KernelPlanner {
    kernels: HashMap<(Vec<u32>, usize), Arc<[f32]>>,
}

impl KernelPlanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The kernel for `freqs` at `hop` (built on first use).
    pub(super) fn kernel(&mut self, freqs: &[u32], hop: usize, lanes: usize) -> Arc<[f32]> {
        self.kernels
            .entry((freqs.to_vec(), hop))
            .or_insert_with(|| build_kernel(freqs, hop, lanes))
            .clone()
    }

    /// Distinct kernels built so far.
    pub fn len(&self) -> usize {
        self.kernels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kernels.is_empty()
    }
}

/// The block kernel for `freqs` at `hop`.
fn build_kernel(freqs: &[u32], hop: usize, lanes: usize) -> Arc<[f32]> {
    // Sample-major: row `i` holds cos(ωᵢ·i) for every frequency, then (from the padded width on)
    // −sin(ωᵢ·i), padded to whole SIMD groups.
    let f = padded(freqs.len());
    let mut ker = vec![0.0f32; hop * lanes];
    for i in 0..hop {
        for (k, &hz) in freqs.iter().enumerate() {
            let (c, s) = phasor::unit(phasor::phase_index(hz, i as u64));
            ker[i * lanes + k] = c as f32;
            ker[i * lanes + f + k] = -s as f32;
        }
    }
    ker.into()
}
