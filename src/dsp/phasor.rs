//! Exact phase for integer-Hz frequencies at 8 kHz.
//!
//! `e^{−j·2π·f·m/8000}` depends only on `(f·m) mod 8000`, so one 8000-entry table gives the phasor
//! for any integer frequency at any absolute sample index with no accumulated rounding — the
//! correlators can reference phase to absolute stream time for hours, as the MF receiver's
//! phase-advance frequency measurement needs (`docs/signalling.md`).

use std::sync::OnceLock;

use crate::units::SAMPLE_RATE;

const N: usize = SAMPLE_RATE as usize;

/// The whole table: `table()[k] = (cos, sin)(2πk/8000)`; hold on to it in hot loops.
pub fn table() -> &'static [(f64, f64)] {
    static TABLE: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..N)
            .map(|k| {
                let a = 2.0 * std::f64::consts::PI * k as f64 / N as f64;
                (a.cos(), a.sin())
            })
            .collect()
    })
}

/// Table length (one second at 8 kHz).
pub const LEN: u32 = N as u32;

/// Advance a phase index by `step` (both < [`LEN`]).
#[inline]
pub fn advance(index: u32, step: u32) -> u32 {
    let i = index + step;
    if i >= LEN {
        i - LEN
    } else {
        i
    }
}

/// Index into the table for frequency `hz` at absolute sample `m`.
#[inline]
pub fn phase_index(hz: u32, m: u64) -> u32 {
    // The remainders only where needed (the same index: `x mod N = x` for `x < N`).
    let n = N as u64;
    let hz = hz as u64;
    let hz = if hz < n { hz } else { hz % n };
    let m = if m < n { m } else { m % n };
    (hz * m % n) as u32
}

/// An absolute sample index reduced once, for the phase index of many frequencies at it.
#[derive(Debug, Clone, Copy)]
pub struct Time(u64);

impl Time {
    pub fn of(m: u64) -> Time {
        Time(m % N as u64)
    }

    /// [`phase_index`]`(hz, m)`, with `m`'s remainder already taken.
    #[inline]
    pub fn index(self, hz: u32) -> u32 {
        phase_index(hz, self.0)
    }
}

/// `(cos θ, sin θ)` with θ = 2π·index/8000.
pub fn unit(index: u32) -> (f64, f64) {
    table()[index as usize % N]
}

/// Warm the table outside any real-time path.
pub fn init() {
    let _ = table();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_direct_computation_far_into_a_stream() {
        let m = 3_600u64 * 8000 * 24 + 12_345; // one day in
        for hz in [697u32, 1209, 1700, 2600] {
            let (c, s) = unit(phase_index(hz, m));
            let exact = 2.0 * std::f64::consts::PI * ((hz as u64 * m) % 8000) as f64 / 8000.0;
            assert!((c - exact.cos()).abs() < 1e-12);
            assert!((s - exact.sin()).abs() < 1e-12);
            assert_eq!(Time::of(m).index(hz), phase_index(hz, m));
        }
    }
}
