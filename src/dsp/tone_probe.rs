//! One Hann-windowed correlator at one integer-Hz frequency, evaluated directly over the last `W`
//! samples once per hop: `X = Σ_{i<W} w[i]·x[m0+i]·e^{−j2πf(m0+i)/8000}`, phase referenced to
//! absolute stream time (`m0` = the window's first sample).
//!
//! Why not the sliding bank ([`super::correlator`])? The bank earns its keep when many
//! frequencies share one pass over the samples (MF, DTMF). A single tone needs three sliding
//! correlators (f and f ± 8000/W, combined into the Hann window) plus their per-block bookkeeping
//! — rotation, ring, re-sums — while the direct sum is one pass of `W` multiply-adds for each of
//! re, im and energy over a 16-bit history kept inline: for the SF receiver (W = 40, hop 8) about a
//! third of the instructions, no heap, a few cache lines. A tandem runs it on every trunk every
//! millisecond.
//!
//! Results depend only on the samples in the window and its absolute position, so any chunking of
//! the input gives identical bits. No allocation after construction; the kernel is shared.

use std::sync::Arc;

use super::phasor;

/// The longest window a probe takes (the history holds it and two hops more).
pub const MAX_WINDOW: usize = 64;
/// Samples of history kept inline.
const HIST: usize = 2 * MAX_WINDOW;
/// Lanes the dot products run in (two SSE registers; the window is a whole number of them).
const LANES: usize = 8;

/// The windowed kernel `w[i]·cos(ωi)` and `−w[i]·sin(ωi)` for a design, built once and shared.
fn shared_kernel(hz: u32, w: usize) -> Arc<[f32]> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Kernels = Mutex<HashMap<(u32, usize), Arc<[f32]>>>;
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    let map = KERNELS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.entry((hz, w))
        .or_insert_with(|| {
            let mut k = vec![0.0f32; 2 * w];
            for i in 0..w {
                // Periodic Hann, as the sliding bank's three-exponential combination gives.
                let win = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / w as f64).cos();
                let (c, s) = phasor::unit(phasor::phase_index(hz, i as u64));
                k[i] = (win * c) as f32;
                k[w + i] = (-win * s) as f32;
            }
            k.into()
        })
        .clone()
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct ToneProbe {
    /// `hist[pos−W..pos]` is the window, oldest first; samples land at `pos`. When a hop would not
    /// fit, the window moves to the start.
    hist: [i16; HIST],
    pos: usize,
    in_hop: usize,
    hop: usize,
    w: usize,
    /// Absolute index of the next sample.
    n: u64,
    /// Phase index of `f·m0` for the next evaluation, and its advance per hop.
    phase: u32,
    phase_step: u32,
    /// Results of the last evaluation: the correlator and the window's `Σx²`.
    x: (f32, f32),
    energy: f32,
    ker: Arc<[f32]>,
    table: &'static [(f64, f64)],
}

impl ToneProbe {
    /// # Panics
    /// If `w` is not a positive multiple of 8 up to [`MAX_WINDOW`], or `hop` is zero or longer
    /// than `w` (construction-time contract).
    pub fn new(hz: u32, w: usize, hop: usize) -> Self {
        assert!(w > 0 && w.is_multiple_of(LANES) && w <= MAX_WINDOW && hop > 0 && hop <= w);
        phasor::init();
        ToneProbe {
            hist: [0; HIST],
            pos: w,
            in_hop: 0,
            hop,
            w,
            n: 0,
            // The first evaluation's window starts at sample hop − W (before the stream: zeros).
            phase: phasor::phase_index(
                hz,
                (hop as i64 - w as i64).rem_euclid(crate::units::SAMPLE_RATE as i64) as u64,
            ),
            phase_step: phasor::phase_index(hz, hop as u64),
            x: (0.0, 0.0),
            energy: 0.0,
            ker: shared_kernel(hz, w),
            table: phasor::table(),
        }
    }

    pub fn window_len(&self) -> usize {
        self.w
    }

    /// Absolute index of the next sample (= samples consumed so far).
    pub fn now(&self) -> u64 {
        self.n
    }

    /// Take samples from the front of `rest` up to the end of the current hop. Returns true when
    /// they completed one: the window was evaluated ([`ToneProbe::x`], [`ToneProbe::mean_square`]);
    /// call again until `rest` is empty.
    #[inline]
    pub fn feed(&mut self, rest: &mut &[i16]) -> bool {
        let k = rest.len().min(self.hop - self.in_hop);
        let (now, later) = rest.split_at(k);
        *rest = later;
        self.hist[self.pos..self.pos + k].copy_from_slice(now);
        self.pos += k;
        self.in_hop += k;
        self.n += k as u64;
        if self.in_hop < self.hop {
            return false;
        }
        self.in_hop = 0;
        self.evaluate();
        if self.pos + self.hop > HIST {
            self.hist.copy_within(self.pos - self.w..self.pos, 0);
            self.pos = self.w;
        }
        true
    }

    #[inline]
    fn evaluate(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if avx2::available() {
            // SAFETY: the CPU has AVX2 (checked at run time, once).
            unsafe { self.evaluate_avx2() };
            return;
        }
        let w = self.w;
        let win = &self.hist[self.pos - w..self.pos];
        let (kre, kim) = self.ker.split_at(w);
        let sums = dot3(win, kre, kim);
        self.finish(sums);
    }

    /// [`ToneProbe::evaluate`] compiled for AVX2, its dot products inlined.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn evaluate_avx2(&mut self) {
        let w = self.w;
        let win = &self.hist[self.pos - w..self.pos];
        let (kre, kim) = self.ker.split_at(w);
        // SAFETY: this function runs only where the CPU has AVX2.
        let sums = unsafe { avx2::dot3(win, kre, kim) };
        self.finish(sums);
    }

    #[inline(always)]
    fn finish(&mut self, (re, im, e): ([f32; LANES], [f32; LANES], [f32; LANES])) {
        let x = (lane_sum(re), lane_sum(im));
        // To absolute phase: e^{−jω·m0}·X.
        let (c, s) = self.table[self.phase as usize];
        let (c, s) = (c as f32, -s as f32);
        self.x = (x.0 * c - x.1 * s, x.0 * s + x.1 * c);
        self.energy = lane_sum(e);
        self.phase = phasor::advance(self.phase, self.phase_step);
    }

    /// The Hann-windowed correlator of the window ending at the last completed hop.
    pub fn x(&self) -> (f64, f64) {
        (self.x.0 as f64, self.x.1 as f64)
    }

    /// Mean square of that window's samples.
    pub fn mean_square(&self) -> f64 {
        self.energy as f64 / self.w as f64
    }
}

/// `Σ x·kre`, `Σ x·kim` and `Σ x²` over whole groups of [`LANES`], lane `l` taking every
/// sample at a position ≡ l (mod 8), in order. x86-64 runs it in SSE2 (its baseline), lane for
/// lane the same additions as [`dot3_scalar`], so the bits are the same.
#[inline(always)]
fn dot3(x: &[i16], kre: &[f32], kim: &[f32]) -> ([f32; LANES], [f32; LANES], [f32; LANES]) {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2::available() {
            // SAFETY: the CPU has AVX2 (checked at run time, once).
            unsafe { avx2::dot3(x, kre, kim) }
        } else {
            sse2::dot3(x, kre, kim)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        dot3_scalar(x, kre, kim)
    }
}

/// The definition of [`dot3`].
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn dot3_scalar(x: &[i16], kre: &[f32], kim: &[f32]) -> ([f32; LANES], [f32; LANES], [f32; LANES]) {
    let (mut re, mut im, mut e) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
    for ((xs, cr), ci) in x
        .chunks_exact(LANES)
        .zip(kre.chunks_exact(LANES))
        .zip(kim.chunks_exact(LANES))
    {
        for l in 0..LANES {
            let v = xs[l] as f32;
            re[l] += v * cr[l];
            im[l] += v * ci[l];
            e[l] += v * v;
        }
    }
    (re, im, e)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::LANES;
    use std::arch::x86_64::*;

    #[inline(always)]
    pub fn dot3(x: &[i16], kre: &[f32], kim: &[f32]) -> ([f32; LANES], [f32; LANES], [f32; LANES]) {
        let groups = (x.len() / LANES)
            .min(kre.len() / LANES)
            .min(kim.len() / LANES);
        let (mut re, mut im, mut e) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
        // SAFETY: SSE2 is part of x86-64; every load is of 8 i16 or 4 f32 inside the first
        // `groups` groups of `x`, `kre` and `kim` (unaligned forms); every store is into the
        // 8-lane arrays above.
        unsafe {
            let z = _mm_setzero_ps();
            let (mut r0, mut r1, mut i0, mut i1, mut e0, mut e1) = (z, z, z, z, z, z);
            for g in 0..groups {
                let o = g * LANES;
                let raw = _mm_loadu_si128(x.as_ptr().add(o) as *const __m128i);
                // Sign-extend to i32, then f32: exact, as `v as f32`.
                let lo = _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(raw, raw), 16));
                let hi = _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(raw, raw), 16));
                let (cr, ci) = (kre.as_ptr().add(o), kim.as_ptr().add(o));
                r0 = _mm_add_ps(r0, _mm_mul_ps(lo, _mm_loadu_ps(cr)));
                r1 = _mm_add_ps(r1, _mm_mul_ps(hi, _mm_loadu_ps(cr.add(4))));
                i0 = _mm_add_ps(i0, _mm_mul_ps(lo, _mm_loadu_ps(ci)));
                i1 = _mm_add_ps(i1, _mm_mul_ps(hi, _mm_loadu_ps(ci.add(4))));
                e0 = _mm_add_ps(e0, _mm_mul_ps(lo, lo));
                e1 = _mm_add_ps(e1, _mm_mul_ps(hi, hi));
            }
            _mm_storeu_ps(re.as_mut_ptr(), r0);
            _mm_storeu_ps(re.as_mut_ptr().add(4), r1);
            _mm_storeu_ps(im.as_mut_ptr(), i0);
            _mm_storeu_ps(im.as_mut_ptr().add(4), i1);
            _mm_storeu_ps(e.as_mut_ptr(), e0);
            _mm_storeu_ps(e.as_mut_ptr().add(4), e1);
        }
        (re, im, e)
    }
}

/// The same eight lanes in one AVX2 register where the CPU has it: each lane's multiply and add
/// as SSE2 does them (no fused multiply-add), so the bits are the same, in half the instructions.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use std::arch::x86_64::*;

    pub use crate::dsp::cpu::has_avx2 as available;

    /// # Safety
    /// The CPU must have AVX2 ([`available`]).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot3(
        x: &[i16],
        kre: &[f32],
        kim: &[f32],
    ) -> ([f32; LANES], [f32; LANES], [f32; LANES]) {
        let groups = (x.len() / LANES)
            .min(kre.len() / LANES)
            .min(kim.len() / LANES);
        let (mut re, mut im, mut e) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
        // SAFETY: every load is of 8 i16 or 8 f32 inside the first `groups` groups of `x`,
        // `kre` and `kim` (unaligned forms); every store is into the 8-lane arrays above.
        unsafe {
            let z = _mm256_setzero_ps();
            let (mut r, mut i, mut en) = (z, z, z);
            for g in 0..groups {
                let o = g * LANES;
                let raw = _mm_loadu_si128(x.as_ptr().add(o) as *const __m128i);
                // Sign-extend to i32, then f32: exact, as `v as f32`.
                let v = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(raw));
                r = _mm256_add_ps(r, _mm256_mul_ps(v, _mm256_loadu_ps(kre.as_ptr().add(o))));
                i = _mm256_add_ps(i, _mm256_mul_ps(v, _mm256_loadu_ps(kim.as_ptr().add(o))));
                en = _mm256_add_ps(en, _mm256_mul_ps(v, v));
            }
            _mm256_storeu_ps(re.as_mut_ptr(), r);
            _mm256_storeu_ps(im.as_mut_ptr(), i);
            _mm256_storeu_ps(e.as_mut_ptr(), en);
        }
        (re, im, e)
    }
}

/// The eight lanes summed in a fixed order (pairs, then pairs of pairs).
#[inline]
fn lane_sum(a: [f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windowed DFT computed directly in f64 from the whole signal.
    fn naive(x: &[i16], end: usize, w: usize, hz: f64) -> ((f64, f64), f64) {
        let (mut re, mut im, mut e) = (0.0, 0.0, 0.0);
        for i in 0..w {
            let m = end as i64 - w as i64 + i as i64;
            let v = if m < 0 { 0.0 } else { x[m as usize] as f64 };
            let win = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / w as f64).cos();
            let a = -std::f64::consts::TAU * hz * m as f64 / 8000.0;
            re += win * v * a.cos();
            im += win * v * a.sin();
            e += v * v;
        }
        ((re, im), e / w as f64)
    }

    fn signal(n: usize) -> Vec<i16> {
        let mut state = 99u32;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let noise = ((state >> 8) as f64 / (1u32 << 24) as f64 - 0.5) * 4000.0;
                let tone = 9000.0 * (std::f64::consts::TAU * 2610.0 * i as f64 / 8000.0).sin();
                (tone + noise).round() as i16
            })
            .collect()
    }

    #[test]
    fn every_hop_equals_the_windowed_dft_at_absolute_phase() {
        let x = signal(20_000);
        let mut p = ToneProbe::new(2600, 40, 8);
        let mut rest = &x[..];
        let mut hops = 0;
        while !rest.is_empty() {
            if p.feed(&mut rest) {
                let end = p.now() as usize;
                let ((re, im), ms) = naive(&x, end, 40, 2600.0);
                let (gr, gi) = p.x();
                let scale = re.hypot(im).max(1e3);
                assert!(
                    (gr - re).abs() / scale < 1e-5 && (gi - im).abs() / scale < 1e-5,
                    "sample {end}: {gr},{gi} vs {re},{im}"
                );
                assert!((p.mean_square() - ms).abs() / ms.max(1.0) < 1e-5);
                hops += 1;
            }
        }
        assert_eq!(hops, 20_000 / 8);
    }

    #[test]
    fn the_dot_products_equal_their_scalar_definition_bit_for_bit() {
        let x = signal(64);
        let mut xs = x.clone();
        xs[3] = i16::MIN;
        xs[17] = i16::MAX;
        let ker = shared_kernel(2600, 64);
        let (kre, kim) = ker.split_at(64);
        for w in [8, 16, 40, 64] {
            let bits = |t: ([f32; 8], [f32; 8], [f32; 8])| {
                (
                    t.0.map(f32::to_bits),
                    t.1.map(f32::to_bits),
                    t.2.map(f32::to_bits),
                )
            };
            let got = dot3(&xs[..w], &kre[..w], &kim[..w]);
            let want = dot3_scalar(&xs[..w], &kre[..w], &kim[..w]);
            #[cfg(target_arch = "x86_64")]
            {
                let sse = sse2::dot3(&xs[..w], &kre[..w], &kim[..w]);
                assert_eq!(bits(sse), bits(want), "SSE2, w {w}");
            }
            let bits = |t: ([f32; 8], [f32; 8], [f32; 8])| {
                (
                    t.0.map(f32::to_bits),
                    t.1.map(f32::to_bits),
                    t.2.map(f32::to_bits),
                )
            };
            assert_eq!(bits(got), bits(want), "w {w}");
        }
    }

    #[test]
    fn any_chunking_gives_the_same_bits() {
        let x = signal(4000);
        let run = |chunk: usize| {
            let mut p = ToneProbe::new(2600, 40, 8);
            let mut out = Vec::new();
            for c in x.chunks(chunk) {
                let mut rest = c;
                while !rest.is_empty() {
                    if p.feed(&mut rest) {
                        out.push((p.x(), p.mean_square()));
                    }
                }
            }
            out
        };
        let whole = run(4000);
        for chunk in [1, 3, 7, 8, 13, 80, 333] {
            assert_eq!(run(chunk), whole, "chunk {chunk}");
        }
    }
}
