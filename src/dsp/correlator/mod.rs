//! A bank of sliding complex correlators (a sliding DFT at chosen integer-Hz frequencies).
//!
//! For each frequency `f` the bank keeps `S_f(n) = Σ_{m=n−W}^{n−1} x[m]·e^{−j2πfm/8000}` over the last
//! `W = blocks × hop` samples, phase referenced to absolute stream time, updated once per `hop`
//! samples. Per sample it does one complex multiply-accumulate per frequency against a tiny
//! block-relative kernel (vectorised across frequencies); at each block end the partial sum is
//! rotated to absolute phase with an exact table lookup and slid into the window sum.
//!
//! A Hann window is the sum of three complex exponentials, so a Hann-windowed correlator at `f`
//! is a combination of the rectangular ones at `f` and `f ± 8000/W` (see [`CorrelatorBank::hann`]);
//! for the Bell MF tones with `W = 80` all of those lie on the 100 Hz grid 600 … 1800 Hz.
//!
//! Cost: `2·F` multiply-adds per sample plus `O(F)` per hop; no allocation after construction.

use super::phasor;

use std::sync::Arc;

mod planner;
mod slide;
pub use planner::KernelPlanner;
use slide::{slide_block, SlideIn};

/// SIMD width the kernel rows are padded to (f32 lanes of one AVX register, two SSE ones).
const LANES: usize = 8;

/// Per-frequency arrays (sums, rotations, the ring's rows, each half of a kernel row) are padded
/// to a multiple of 4 lanes, so the per-block complex arithmetic runs in whole SSE registers; a
/// padding lane's kernel is 0 and its rotation stays 1, so it sums nothing.
fn padded(f: usize) -> usize {
    f.div_ceil(4) * 4
}

/// Windows of samples the history buffer holds beyond the current one. Small on purpose: a
/// tandem visits thousands of ports' banks in turn, and the fewer cache lines each one owns, the
/// more of them stay in the last-level cache between visits (16 windows was 40 % of a trunk's
/// memory; the copy it saves is one window per `HIST_WINDOWS` windows, noise).
const HIST_WINDOWS: usize = 2;

/// The sums ([`CorrelatorBank::sums`]) are padded to a multiple of this many lanes (one AVX
/// register): whoever copies them copies one of a few fixed lengths (whole registers, no call).
pub const SUM_LANES: usize = 8;

/// Complex number as `(re, im)`; kept simple on purpose (no extra crate for 6 operations).
pub type C64 = (f64, f64);

pub fn cmul(a: C64, b: C64) -> C64 {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

pub fn cconj(a: C64) -> C64 {
    (a.0, -a.1)
}

pub fn cabs2(a: C64) -> f64 {
    a.0 * a.0 + a.1 * a.1
}

/// `(s0 + s1) + (s2 + s3)`: the fixed order four partial sums combine in.
#[inline]
fn quad_sum([s0, s1, s2, s3]: [f32; 4]) -> f32 {
    (s0 + s1) + (s2 + s3)
}

#[derive(Debug, Clone)]
// In declaration order (`repr(C)`): what every hop touches first, in as few cache lines as
// possible — a tandem visits thousands of banks in turn, each cold.
#[repr(C)]
pub struct CorrelatorBank {
    /// Sliding sample buffer (16-bit, as heard: half the cache lines of f32, and the
    /// correlators convert as they read): `hist[hpos−W..hpos]` is the window, oldest first; the current
    /// block grows at `hpos`. When the buffer is full the last `W` samples move to its start
    /// (one copy per [`HIST_WINDOWS`] windows instead of a copy per sample).
    hist: Vec<i16>,
    hpos: usize,
    /// Hops of samples kept before the window when the buffer is compacted (see
    /// [`CorrelatorBank::with_lookback`]).
    lookback: usize,
    in_block: usize,
    hop: usize,
    /// Absolute index of the next sample.
    n: u64,
    /// The current block's `Σx²` and `Σ(x[n]−x[n−1])²` so far, in four partial sums by position
    /// in the block mod 4 (a fixed order, so any chunking gives the same bits), taken while the
    /// samples are converted: reading them back from `hist` right after storing them stalls on
    /// store forwarding.
    epart: [f32; 4],
    dpart: [f32; 4],
    /// The last sample pushed (the first difference of a block starts from it).
    last: f32,
    /// The completed block's `Σx²` and first-difference energy, combined from the partial sums
    /// in registers (a scalar each, so reading them back forwards from the store).
    block_e: f32,
    block_d: f32,
    /// Per block: `[energy, first-difference energy]` (the second only with a spectral gate),
    /// side by side so a block's bookkeeping touches one cache line; and their window sums.
    /// (f32: a block's sums are f32 to begin with, so nothing is lost, and the ring is half
    /// the cache lines).
    power_ring: Vec<[f32; 2]>,
    energy_sum: f64,
    diff_sum: f64,
    /// Skip windows whose first-difference energy exceeds this many times their energy.
    max_hf: f64,
    /// `gate × W`, so the per-block test needs no division.
    gate_energy: f64,
    ring_pos: usize,
    blocks: usize,
    /// Phase index of `Δ·n` for the Hann combination (`Δ·W = 8000`, so `e^{−jΔm0} = e^{−jΔn}`).
    delta_phase: u32,
    delta_step: u32,
    valid: bool,
    /// Block-relative kernel, one row per sample of a block: for sample `i`, `cos(2πf·i/8000)`
    /// for every f, then `−sin(…)`, the row padded to a multiple of [`LANES`] so the block loop
    /// is whole SIMD vectors.
    /// Shared by every bank with the same frequencies and hop (one copy for thousands of ports
    /// keeps it in cache).
    ker: Arc<[f32]>,
    /// Lanes per kernel row (2F rounded up to [`LANES`]).
    lanes: usize,
    /// The block's partial sums, same layout as a kernel row.
    acc: Vec<f32>,
    /// Absolute-phase partial sums of the last `blocks` blocks, `[b·F + f]`, and their total.
    ring_re: Vec<f32>,
    ring_im: Vec<f32>,
    sum_re: Vec<f32>,
    sum_im: Vec<f32>,
    /// `e^{−jωm}` at the next block's start `m`, and its advance per block `e^{−jωH}`.
    rot_re: Vec<f32>,
    rot_im: Vec<f32>,
    step_re: Vec<f32>,
    step_im: Vec<f32>,
    table: &'static [(f64, f64)],
    freqs: Vec<u32>,
    /// `padded(freqs.len())`: the lanes of the per-frequency arrays the block work runs over.
    sum_lanes: usize,
    /// Below this window mean square the sums are not maintained (see `with_gate`).
    gate: f64,
    inv_w: f64,
}

impl CorrelatorBank {
    /// # Panics
    /// If `freqs` is empty or `hop`/`blocks` is zero (construction-time contract).
    pub fn new(freqs: &[u32], hop: usize, blocks: usize) -> Self {
        Self::new_in(&mut KernelPlanner::new(), freqs, hop, blocks)
    }

    /// A bank whose kernel comes from (and is shared through) `planner`.
    ///
    /// # Panics
    /// As [`CorrelatorBank::new`].
    pub fn new_in(planner: &mut KernelPlanner, freqs: &[u32], hop: usize, blocks: usize) -> Self {
        assert!(!freqs.is_empty() && hop > 0 && blocks > 0);
        phasor::init();
        let f = padded(freqs.len());
        let lanes = (2 * f).div_ceil(LANES) * LANES;
        let ker = planner.kernel(freqs, hop, lanes);
        let step = |k: usize| match freqs.get(k) {
            Some(&hz) => phasor::unit(phasor::phase_index(hz, hop as u64)),
            None => (1.0, 0.0),
        };
        CorrelatorBank {
            freqs: freqs.to_vec(),
            sum_lanes: f,
            hop,
            blocks,
            ker,
            lanes,
            acc: vec![0.0; lanes],
            ring_re: vec![0.0; blocks * f],
            ring_im: vec![0.0; blocks * f],
            // A multiple of SUM_LANES long (the lanes past `f` stay 0), so a copy of the sums
            // is a copy of fixed length.
            sum_re: vec![0.0; f.next_multiple_of(SUM_LANES)],
            sum_im: vec![0.0; f.next_multiple_of(SUM_LANES)],
            rot_re: vec![1.0; f],
            rot_im: vec![0.0; f],
            step_re: (0..f).map(|k| step(k).0 as f32).collect(),
            step_im: (0..f).map(|k| -step(k).1 as f32).collect(),
            epart: [0.0; 4],
            dpart: [0.0; 4],
            last: 0.0,
            block_e: 0.0,
            block_d: 0.0,
            power_ring: vec![[0.0; 2]; blocks],
            energy_sum: 0.0,
            diff_sum: 0.0,
            max_hf: 0.0,
            hist: vec![0; (HIST_WINDOWS + 1) * hop * blocks],
            hpos: hop * blocks,
            lookback: 0,
            gate: 0.0,
            gate_energy: 0.0,
            valid: true,
            inv_w: 1.0 / (hop * blocks) as f64,
            ring_pos: 0,
            in_block: 0,
            n: 0,
            delta_phase: 0,
            delta_step: phasor::phase_index(
                crate::units::SAMPLE_RATE / (hop * blocks) as u32,
                hop as u64,
            ),
            table: phasor::table(),
        }
    }

    /// Maintain the sums only while the window's mean square is at least `gate` (16-bit units²):
    /// a receiver that ignores quieter windows anyway saves the whole correlator cost there, and
    /// the window is rebuilt from the history when the level comes back. Results are identical for
    /// any chunking, because the decision is taken on block boundaries of absolute time.
    pub fn with_gate(mut self, gate: f64) -> Self {
        self.gate = gate;
        self.gate_energy = gate * self.window_len() as f64;
        self.valid = gate <= 0.0;
        self
    }

    /// Also skip windows whose energy sits mostly above the bank's band: `Σ(x[n]−x[n−1])²` is
    /// `2(1 − cos ω)` times the energy of a tone at ω (0.3 at 700 Hz, 2 for white noise, 2.9 at
    /// 2600 Hz, 4 at 4 kHz), so a receiver whose signals keep this ratio under `max` can ignore
    /// windows above it — a 2600 Hz idle tone, for the MF and DTMF receivers.
    pub fn with_spectral_gate(mut self, max: f64) -> Self {
        self.max_hf = max;
        self
    }

    /// Keep the samples of the last `hops` windows before the current one readable through
    /// [`CorrelatorBank::window_back`] (a receiver that judges a frame after later ones).
    pub fn with_lookback(mut self, hops: usize) -> Self {
        self.lookback = hops;
        let keep = self.window_len() + hops * self.hop;
        self.hist = vec![0; HIST_WINDOWS * self.window_len() + keep];
        self.hpos = keep;
        self
    }

    pub fn window_len(&self) -> usize {
        self.hop * self.blocks
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    pub fn freqs(&self) -> &[u32] {
        &self.freqs
    }

    /// Absolute index of the next sample to be pushed (= samples consumed so far).
    pub fn now(&self) -> u64 {
        self.n
    }

    /// Push one sample. Returns true when a hop ends (new window sums are ready).
    #[inline]
    pub fn push(&mut self, x: i16) -> bool {
        self.push_i16(&[x])
    }

    /// Samples that still fit in the current block.
    pub fn room(&self) -> usize {
        self.hop - self.in_block
    }

    /// Push up to [`CorrelatorBank::room`] samples. Returns true when they complete a block (new
    /// window sums are ready).
    ///
    /// # Panics
    /// If `xs` is longer than the room left in the block.
    #[inline(always)]
    pub fn push_i16(&mut self, xs: &[i16]) -> bool {
        self.take(xs);
        self.commit(xs.len())
    }

    /// Store `xs` at `hist[hpos..]` and add them to the block's energy partial sums.
    #[inline(always)]
    fn take(&mut self, xs: &[i16]) {
        // The first-difference sums only for a bank with a spectral gate (a separate copy of
        // the loop, so a bank without one does not pay for them).
        if self.max_hf > 0.0 {
            self.take_with::<true>(xs)
        } else {
            self.take_with::<false>(xs)
        }
    }

    #[inline(always)]
    fn take_with<const DIFF: bool>(&mut self, xs: &[i16]) {
        let conv = |s: i16| s as f32;
        assert!(xs.len() <= self.room());
        let start = self.hpos;
        let dst = &mut self.hist[start..start + xs.len()];
        let mut prev = self.last;
        if self.in_block == 0 {
            // The usual case: a block from its start (see `block_energy`).
            let (mut e, mut d) = ([0.0f32; 4], [0.0f32; 4]);
            prev = super::block_energy::take::<DIFF>(xs, dst, prev, &mut e, &mut d);
            if xs.len() == self.hop {
                self.block_e = quad_sum(e);
                self.block_d = quad_sum(d);
            } else {
                self.epart = e;
                self.dpart = d;
            }
        } else {
            let mut lane = self.in_block & 3;
            for (q, &s) in dst.iter_mut().zip(xs) {
                *q = s;
                let v = conv(s);
                self.epart[lane] += v * v;
                if DIFF {
                    let dv = v - prev;
                    self.dpart[lane] += dv * dv;
                }
                prev = v;
                lane = (lane + 1) & 3;
            }
            if self.in_block + xs.len() == self.hop {
                self.block_e = quad_sum(std::mem::take(&mut self.epart));
                self.block_d = quad_sum(std::mem::take(&mut self.dpart));
            }
        }
        self.last = prev;
    }

    /// Feed any number of samples, calling `frame` with the bank each time a hop ends (new
    /// window sums are ready). The whole per-block path, `frame` included, is compiled twice:
    /// for AVX where the CPU has it and for SSE2 (the same IEEE operations in the same order
    /// either way, no fused multiply-add: the same bits). `frame` is an [`OnFrame`] forced
    /// inline, not a closure: the compiler left a closure out of line, so without AVX (5 % more
    /// instructions for the receivers).
    #[inline(always)]
    pub fn run(&mut self, samples: &[i16], frame: &mut impl OnFrame) {
        #[cfg(target_arch = "x86_64")]
        if super::cpu::has_avx() {
            // SAFETY: the CPU has AVX (checked above).
            unsafe { self.run_avx(samples, frame) };
            return;
        }
        self.run_any(samples, frame)
    }

    /// # Safety
    /// The CPU must have AVX.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn run_avx(&mut self, samples: &[i16], frame: &mut impl OnFrame) {
        self.run_any(samples, frame)
    }

    #[inline(always)]
    fn run_any(&mut self, samples: &[i16], frame: &mut impl OnFrame) {
        let mut rest = samples;
        while !rest.is_empty() {
            if self.feed(&mut rest) {
                frame.frame(self);
            }
        }
    }

    /// Take samples from the front of `rest` up to the end of the current block and advance it.
    /// Returns true when they completed a block: the caller evaluates a frame, then calls again
    /// until `rest` is empty ([`CorrelatorBank::run`] is this loop, for the receivers).
    #[inline(always)]
    pub fn feed(&mut self, rest: &mut &[i16]) -> bool {
        let n = rest.len().min(self.room());
        let (now, later) = rest.split_at(n);
        *rest = later;
        self.push_i16(now)
    }

    #[inline(always)]
    fn commit(&mut self, n: usize) -> bool {
        self.hpos += n;
        self.in_block += n;
        self.n += n as u64;
        if self.in_block < self.hop {
            return false;
        }
        self.end_block();
        // Keep room for a whole block after the window.
        let keep = self.window_len() + self.lookback * self.hop;
        if self.hpos + self.hop > self.hist.len() {
            self.hist.copy_within(self.hpos - keep..self.hpos, 0);
            self.hpos = keep;
        }
        true
    }

    /// The last `W` samples, oldest first.
    pub fn window(&self) -> &[i16] {
        self.window_back(0)
    }

    /// The window of `back` hops ago (`back` ≤ the lookback asked for), oldest first.
    pub fn window_back(&self, back: usize) -> &[i16] {
        let end = self.hpos - back * self.hop;
        &self.hist[end - self.window_len()..end]
    }

    /// The rectangular window sums as they stand, `(re, im)`, each padded with zeros to a
    /// multiple of [`SUM_LANES`] (what [`hann_from`] and
    /// [`CorrelatorBank::rect`] read).
    pub fn sums(&self) -> (&[f32], &[f32]) {
        (&self.sum_re, &self.sum_im)
    }

    /// Phase index of `Δ·m0` for the Hann combination of the current window.
    pub fn delta_phase(&self) -> u32 {
        self.delta_phase
    }

    /// Whether the correlator sums describe the current window (see [`CorrelatorBank::with_gate`]).
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// One block's partial sums into `acc`: the groups of [`LANES`] accumulators stay in
    /// registers for the whole block (kernel row `i` times sample `i`), so they never touch
    /// memory between samples. All groups advance together, sample by sample: C independent
    /// chains keep the adder busy. Compiled twice: for AVX where the CPU has it (a group is one
    /// register, and 7–8 groups still fit the 16 registers), else for SSE2; each lane's multiply
    /// and add are the same IEEE operations either way (no fused multiply-add), so the bits are
    /// the same on every x86-64.
    fn accumulate(ker: &[f32], block: &[i16], acc: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if super::cpu::has_avx() {
            // SAFETY: the CPU has AVX (checked above).
            unsafe { Self::accumulate_avx(ker, block, acc) };
            return;
        }
        Self::accumulate_any(ker, block, acc)
    }

    /// # Safety
    /// The CPU must have AVX.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn accumulate_avx(ker: &[f32], block: &[i16], acc: &mut [f32]) {
        Self::accumulate_any(ker, block, acc)
    }

    #[inline(always)]
    fn accumulate_any(ker: &[f32], block: &[i16], acc: &mut [f32]) {
        match acc.len() / LANES {
            1 => Self::accumulate_n::<1>(ker, block, acc),
            2 => Self::accumulate_n::<2>(ker, block, acc),
            3 => Self::accumulate_n::<3>(ker, block, acc),
            4 => Self::accumulate_n::<4>(ker, block, acc),
            5 => Self::accumulate_n::<5>(ker, block, acc),
            6 => Self::accumulate_n::<6>(ker, block, acc),
            7 => Self::accumulate_n::<7>(ker, block, acc),
            8 => Self::accumulate_n::<8>(ker, block, acc),
            groups => {
                let (rows, _) = ker.as_chunks::<LANES>();
                for (g, out) in acc.chunks_exact_mut(LANES).enumerate() {
                    let mut a = [0.0f32; LANES];
                    for (row, &x) in rows.iter().skip(g).step_by(groups).zip(block) {
                        let x = x as f32;
                        for l in 0..LANES {
                            a[l] += x * row[l];
                        }
                    }
                    out.copy_from_slice(&a);
                }
            }
        }
    }

    #[inline(always)]
    fn accumulate_n<const C: usize>(ker: &[f32], block: &[i16], acc: &mut [f32]) {
        let mut a = [[0.0f32; LANES]; C];
        let (rows, _) = ker.as_chunks::<LANES>();
        for (row, &x) in rows.chunks_exact(C).zip(block) {
            let x = x as f32;
            // A fixed-size row, indexed: the loops unroll into whole-register multiply-adds.
            let row: &[[f32; LANES]; C] = row.try_into().expect("C groups per row");
            for c in 0..C {
                for l in 0..LANES {
                    a[c][l] += x * row[c][l];
                }
            }
        }
        for (out, ac) in acc.chunks_exact_mut(LANES).zip(&a) {
            out.copy_from_slice(ac);
        }
    }

    #[inline(always)]
    fn end_block(&mut self) {
        // Energy from the whole block in one fixed order, so chunking cannot change a bit of it.
        let slot = &mut self.power_ring[self.ring_pos];
        self.energy_sum += self.block_e as f64 - slot[0] as f64;
        slot[0] = self.block_e;
        if self.max_hf > 0.0 {
            self.diff_sum += self.block_d as f64 - slot[1] as f64;
            slot[1] = self.block_d;
        }
        let slot = self.ring_pos;
        self.ring_pos = if self.ring_pos + 1 == self.blocks {
            0
        } else {
            self.ring_pos + 1
        };
        self.in_block = 0;
        self.delta_phase = phasor::advance(self.delta_phase, self.delta_step);
        if self.ring_pos == 0 {
            self.energy_sum = self.power_ring.iter().map(|p| p[0] as f64).sum();
            self.diff_sum = self.power_ring.iter().map(|p| p[1] as f64).sum();
        }
        if self.energy_sum < self.gate_energy
            || (self.max_hf > 0.0 && self.diff_sum > self.max_hf * self.energy_sum)
        {
            // Nobody will read the sums for this window: skip the work, rebuild when needed.
            self.valid = false;
            return;
        }
        if !self.valid {
            self.rebuild();
            return;
        }
        self.slide(self.hpos - self.hop, slot);
        // Once per window: re-add the sums from the ring and re-take each rotation from the exact
        // table, so f32 rounding never accumulates, however long the stream.
        if self.ring_pos == 0 {
            self.resum();
            self.reset_rotation();
        }
    }

    /// Accumulate the block of `hop` samples at `hist[from..]` and slide it into ring slot `slot`
    /// and the window sums, advancing the rotation by one block.
    #[inline(always)]
    fn slide(&mut self, from: usize, slot: usize) {
        Self::accumulate(&self.ker, &self.hist[from..from + self.hop], &mut self.acc);
        let f = self.sum_lanes;
        let o = slot * f;
        slide_block(
            SlideIn {
                acc_re: &self.acc[..f],
                acc_im: &self.acc[f..2 * f],
                step_re: &self.step_re[..f],
                step_im: &self.step_im[..f],
            },
            &mut self.ring_re[o..o + f],
            &mut self.ring_im[o..o + f],
            &mut self.sum_re[..f],
            &mut self.sum_im[..f],
            &mut self.rot_re[..f],
            &mut self.rot_im[..f],
        );
    }

    #[inline(always)]
    fn resum(&mut self) {
        let f = self.sum_lanes;
        let (sum_re, sum_im) = (&mut self.sum_re[..f], &mut self.sum_im[..f]);
        sum_re.fill(0.0);
        sum_im.fill(0.0);
        for (re, im) in self
            .ring_re
            .chunks_exact(f)
            .zip(self.ring_im.chunks_exact(f))
        {
            for k in 0..f {
                sum_re[k] += re[k];
                sum_im[k] += im[k];
            }
        }
    }

    /// Rotation for the block starting at the next sample, from the exact table.
    fn reset_rotation(&mut self) {
        self.set_rotation(self.n);
    }

    /// Rotation `e^{−jωm}` for a block starting at sample `m`, from the exact table.
    fn set_rotation(&mut self, m: u64) {
        // `m mod 8000` once for every frequency (the same index as `phase_index`).
        let at = phasor::Time::of(m);
        for k in 0..self.freqs.len() {
            let (c, s) = self.table[at.index(self.freqs[k]) as usize];
            self.rot_re[k] = c as f32;
            self.rot_im[k] = -s as f32;
        }
    }

    /// Recompute every block of the window from the history, after a stretch below the gate.
    /// Costs one window's worth of accumulation, once per gate opening.
    fn rebuild(&mut self) {
        let (w, hop) = (self.window_len(), self.hop);
        // Slide the window's blocks, oldest first, into empty sums, starting from the exact
        // rotation at the window start; the oldest block lands in the slot the ring overwrites
        // next.
        self.ring_re.fill(0.0);
        self.ring_im.fill(0.0);
        self.sum_re.fill(0.0);
        self.sum_im.fill(0.0);
        self.set_rotation(self.n - w as u64);
        let w0 = self.hpos - w;
        for b in 0..self.blocks {
            self.slide(w0 + b * hop, (self.ring_pos + b) % self.blocks);
        }
        self.reset_rotation();
        self.valid = true;
    }

    /// Rectangular window sum at bank frequency index `k` (absolute phase).
    pub fn rect(&self, k: usize) -> C64 {
        (self.sum_re[k] as f64, self.sum_im[k] as f64)
    }

    /// Hann-windowed correlator at bank index `k`, given the bank indices of `f − Δ` and `f + Δ`
    /// with `Δ = 8000/W` Hz. Uses `w[i] = ½ − ¼e^{jΔi} − ¼e^{−jΔi}` (periodic Hann, i from the
    /// window start m0): `X = ½S(f) − ¼e^{−jΔm0}S(f−Δ) − ¼e^{jΔm0}S(f+Δ)`.
    /// (The arithmetic is [`hann_from`]'s, which the receivers' judges run on logged sums.)
    pub fn hann(&self, k: usize, k_minus: usize, k_plus: usize) -> C64 {
        let mut out = [(0.0, 0.0)];
        hann_from(
            self.sums(),
            self.delta_phase,
            &[(k, k_minus, k_plus)],
            &mut out,
        );
        out[0]
    }

    /// Mean square of the samples in the current window.
    pub fn mean_square(&self) -> f64 {
        (self.energy_sum * self.inv_w).max(0.0)
    }

    /// Hint the cache to fetch the heap state the next `samples` pushed will touch: the history
    /// where they land, the power ring and, while the sums are kept, the correlator state. Reads
    /// the struct's own fields, so those should be in cache already (a worker asks for them a
    /// port earlier, by address). Changes no result.
    #[inline]
    pub fn prefetch(&self, samples: usize) {
        use super::prefetch;
        let end = (self.hpos + samples).min(self.hist.len());
        prefetch::slice(&self.hist[self.hpos.min(end)..end]);
        prefetch::slice(&self.power_ring);
        if self.valid {
            prefetch::slice(&self.acc);
            prefetch::slice(&self.ring_re);
            prefetch::slice(&self.ring_im);
            prefetch::slice(&self.sum_re);
            prefetch::slice(&self.sum_im);
            prefetch::slice(&self.rot_re);
            prefetch::slice(&self.rot_im);
            prefetch::slice(&self.step_re);
            prefetch::slice(&self.step_im);
        }
    }

    /// Return to the freshly constructed state.
    pub fn reset(&mut self) {
        self.acc.fill(0.0);
        self.ring_re.fill(0.0);
        self.ring_im.fill(0.0);
        self.sum_re.fill(0.0);
        self.sum_im.fill(0.0);
        self.rot_re.fill(1.0);
        self.rot_im.fill(0.0);
        self.epart = [0.0; 4];
        self.dpart = [0.0; 4];
        self.last = 0.0;
        self.block_e = 0.0;
        self.block_d = 0.0;
        self.power_ring.fill([0.0; 2]);
        self.energy_sum = 0.0;
        self.diff_sum = 0.0;
        self.hist.fill(0);
        self.hpos = self.window_len() + self.lookback * self.hop;
        self.valid = self.gate <= 0.0;
        self.ring_pos = 0;
        self.in_block = 0;
        self.n = 0;
        self.delta_phase = 0;
    }
}

/// What [`CorrelatorBank::run`] calls at the end of every hop. Implementations mark `frame`
/// `#[inline(always)]`, so it is compiled into the bank's loop, for AVX where the CPU has it.
pub trait OnFrame {
    fn frame(&mut self, bank: &CorrelatorBank);
}

/// Hann-windowed correlators ([`CorrelatorBank::hann`]) from a copy of a bank's sums
/// ([`CorrelatorBank::sums`]) and its [`CorrelatorBank::delta_phase`] then, `(k, k−Δ, k+Δ)` for
/// each tone.
#[inline(always)]
pub fn hann_from(
    (re, im): (&[f32], &[f32]),
    delta_phase: u32,
    idx: &[(usize, usize, usize)],
    out: &mut [C64],
) {
    let (c, s) = phasor::table()[delta_phase as usize];
    let e_minus = (c, -s);
    let e_plus = (c, s);
    let rect = |k: usize| (re[k] as f64, im[k] as f64);
    for (o, &(k, km, kp)) in out.iter_mut().zip(idx) {
        let a = rect(k);
        let b = cmul(e_minus, rect(km));
        let d = cmul(e_plus, rect(kp));
        *o = (
            0.5 * a.0 - 0.25 * (b.0 + d.0),
            0.5 * a.1 - 0.25 * (b.1 + d.1),
        );
    }
}

#[cfg(test)]
mod tests;
