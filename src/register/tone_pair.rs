//! The two-tone receiver shared by Bell MF and DTMF: which two tones, how pure, how long.
//!
//! Design (`docs/signalling.md`, measured in `docs/signalling.md`): a bank of sliding
//! correlators evaluated every `hop` samples over a `W`-sample window. Each frame is *qualified*
//! by a cascade of tests, cheapest first, so that silence and most speech cost almost nothing
//! beyond the correlators themselves:
//!
//! 1. energy gate — the window must hold at least the power of two minimum-level tones;
//! 2. pair selection — the two strongest tones (MF: any two of six; DTMF: one per group);
//! 3. level, twist, third tone (MF), and the pair's share of the window power;
//! 4. frequency — each tone's frequency, measured from the phase advance of its absolute-phase
//!    correlator between frames `lag` hops apart, within `freq_tol` of nominal (a 10 ms window
//!    cannot reject a 5 % offset by magnitude; the phase can);
//! 5. residual spectrum — the fitted two-tone model is subtracted from every correlator of the
//!    bank: no third component within `residual_third_db`, and the median gives the white-noise
//!    level in the band;
//! 6. time-domain fit — the two tones are rebuilt from their phasors and the residual in each
//!    quarter of the window must be small next to the model, allowing only for noise that is both
//!    white in-band and stationary. This is what rejects speech and music, and what makes the
//!    minimum duration sharp: a window that is not full of a steady two-tone signal fails it.
//!
//! Steps 4–6 are in [`super::pair_fit`].
//!
//! A code is *reported* after `report_frames` consecutive qualifying frames with the same pair;
//! while held it continues on the cheap tests (1–3) alone as long as the pair keeps 80 % of its
//! power; it is *released* after `release_frames` frames without it. Per frame (`Q` = qualifies),
//! MF (report 3, release 12):
//!
//! ```text
//! frames:  . . Q Q Q Q Q Q Q . . . . . . . . . . . . . . Q Q Q
//!                  ^ report (3rd Q)         release ^      ^ re-armed: a new report
//! ```
//!
//! Time is counted in samples from the start of the stream; events carry sample indices. Any chunk
//! length in gives identical events: all state advances per sample and decisions fall on hop
//! boundaries of absolute time.

use super::frame_log::FrameLog;
use super::noise_floor::NoiseFloor;
use super::pair_fit::{FitTone, PairFit};
use crate::dsp::correlator::{cabs2, hann_from, CorrelatorBank, KernelPlanner, C64};
use crate::units::{db_to_ratio, dbm0_to_power, SAMPLE_RATE};

/// Window applied to the correlators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Periodic Hann; needs the bank to also hold `f ± 8000/W` for each tone.
    Hann,
    /// Rectangular; nulls fall every `8000/W` Hz.
    Rect,
}

/// How the pair is chosen among the tones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Any two tones (Bell MF "two out of six").
    AnyTwo,
    /// One tone from the first `n` (low group), one from the rest (DTMF).
    LowHigh(usize),
}

/// Static design of a receiver: every threshold in dB/dBm0 or as a fraction, converted once.
#[derive(Debug, Clone)]
pub struct PairDesign {
    /// Nominal tone frequencies, ascending, integer Hz.
    pub tones: &'static [u32],
    pub grouping: Grouping,
    /// `code_of(lo, hi)`: the signal for tone indices `lo < hi`, if any.
    pub code_of: fn(usize, usize) -> Option<u8>,
    pub window: Window,
    pub hop: usize,
    pub blocks: usize,
    /// Weaker tone must be at least this level (dBm0).
    pub min_tone_dbm0: f64,
    /// Lower-frequency tone louder than the higher by at most this (dB).
    pub max_twist_low_db: f64,
    /// Higher-frequency tone louder than the lower by at most this (dB).
    pub max_twist_high_db: f64,
    /// Any other tone must be at least this far below the weaker (dB), if set: judged on the
    /// windowed correlators, before any model (right when the window's nulls fall on the other
    /// tones, as for MF).
    pub third_tone_db: Option<f64>,
    /// The same rule judged on the residual once the two-tone model is subtracted, at every
    /// frequency of the bank (not only the receiver's tones): leakage-free whatever the window,
    /// and it also sees a third component that falls between the receiver's tones.
    pub residual_third_db: Option<f64>,
    /// Extra frequencies (Hz) in the bank for the residual rule alone: places a third component
    /// may sit that no tone's correlator sees (the harmonics of a voiced sound below and between
    /// the groups). Not tones; never picked as one.
    pub guard_hz: &'static [u32],
    /// A component at a guard frequency rejects at this many dB under the weaker tone (and above
    /// 8× the white-noise floor's mean in a bin, so noise alone rejects 1 frame in ~3000 a bin).
    pub guard_db: f64,
    /// The pair's power as a share of the window's power, at least.
    pub pair_share: f64,
    /// Measured frequency within `freq_tol × nominal + freq_tol_hz` of nominal.
    pub freq_tol: f64,
    pub freq_tol_hz: f64,
    /// Frames between the two phase readings of the frequency test.
    pub freq_lag: usize,
    /// Fit test: residual ≤ `fit_ratio` × max(model energy of the quarter, `fit_floor` × mean).
    pub fit_ratio: f64,
    pub fit_floor: f64,
    pub report_frames: u32,
    pub release_frames: u32,
    /// Noise allowance of the fit test, in units of the tracked noise floor (see [`NoiseFloor`]).
    pub fit_noise: f64,
}

/// What a receiver tells its sink. Sample indices count from the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneEvent {
    /// `code` recognised; `start` is the estimated tone onset, `at` the samples consumed so far.
    On { code: u8, start: u64, at: u64 },
    /// `code` ended at about `end`; decided at `at`.
    Off { code: u8, end: u64, at: u64 },
}

const MAX_TONES: usize = 8;
const MAX_LAG: usize = 4;
/// Every tone with its Hann neighbours, and up to 8 guard frequencies.
const MAX_BANK: usize = 3 * MAX_TONES + 8;

#[derive(Debug, Clone)]
// Declaration order (`repr(C)`): the correlator bank, then what every frame touches, then the
// rest: a worker visits thousands of receivers in turn, each cold, so fewer lines per frame.
#[repr(C)]
pub struct PairReceiver {
    bank: CorrelatorBank,
    /// Tones in the design (`d.tones.len()`, kept with the hot fields).
    nt: usize,
    /// Frames since the start of the stream, and the first not yet judged.
    frame: u64,
    unjudged: u64,
    /// On an idle line, judge frames whose index is a multiple of this (`report_frames`; 1 for
    /// every frame, [`PairReceiver::judging_every_frame`]).
    stride: u64,
    min_power: f64,
    floor: NoiseFloor,
    cand: Option<u8>,
    cand_run: u32,
    cand_first: u64,
    held: Option<u8>,
    held_start: u64,
    held_last: u64,
    misses: u32,
    /// Pair power of the last qualifying frame, and of the frame that reported the held code.
    last_power: f64,
    held_power: f64,
    /// The last frames, for the frequency test's earlier phase and for judging skipped frames.
    log: FrameLog,
    d: PairDesign,
    /// For tone `t`: bank indices of f, f−Δ, f+Δ (the last two unused for Rect).
    idx: [(usize, usize, usize); MAX_TONES],
    /// `2/(Σw)²`: tone power from a correlator, `a = 2|X|/Σw`, power `a²/2`.
    power_scale: f64,
    fit: PairFit,
    twist_low: f64,
    twist_high: f64,
    third: Option<f64>,
    residual_third: Option<f64>,
    guard: f64,
    /// Bank index of the first guard frequency (the guards are the bank's last entries).
    first_guard: usize,
}

impl PairReceiver {
    /// # Panics
    /// On a design that breaks the construction contract (too many tones, lag too long).
    pub fn new(d: PairDesign) -> Self {
        Self::new_in(d, &mut KernelPlanner::new())
    }

    /// A receiver whose correlator kernel comes from `planner` (shared with its other banks).
    pub fn new_in(d: PairDesign, planner: &mut KernelPlanner) -> Self {
        assert!(d.tones.len() <= MAX_TONES && d.guard_hz.len() <= 8);
        assert!(d.freq_lag <= MAX_LAG && d.freq_lag > 0 && d.report_frames > 0);
        let w = d.hop * d.blocks;
        let delta = SAMPLE_RATE / w as u32;
        let mut freqs: Vec<u32> = Vec::new();
        let mut push = |hz: u32| -> usize {
            if let Some(p) = freqs.iter().position(|&f| f == hz) {
                p
            } else {
                freqs.push(hz);
                freqs.len() - 1
            }
        };
        let mut idx = [(0, 0, 0); MAX_TONES];
        for (t, &hz) in d.tones.iter().enumerate() {
            idx[t] = match d.window {
                Window::Hann => (push(hz), push(hz - delta), push(hz + delta)),
                Window::Rect => {
                    let k = push(hz);
                    (k, k, k)
                }
            };
        }
        let first_guard = idx[..d.tones.len()]
            .iter()
            .map(|&(a, b, c)| a.max(b).max(c) + 1)
            .max()
            .unwrap_or(0);
        for &hz in d.guard_hz {
            push(hz);
        }
        let window_sum = match d.window {
            Window::Hann => w as f64 / 2.0,
            Window::Rect => w as f64,
        };
        let bank = CorrelatorBank::new_in(planner, &freqs, d.hop, d.blocks)
            // The bank skips what the energy gate below would reject anyway.
            .with_gate(2.0 * dbm0_to_power(d.min_tone_dbm0))
            .with_spectral_gate(max_hf_ratio(&d))
            // A skipped frame is judged at most `report_frames − 1` frames late.
            .with_lookback(d.report_frames as usize - 1);
        PairReceiver {
            // Judged at most `report_frames − 1` late, reading the phase `freq_lag` before.
            log: FrameLog::new(&bank, d.report_frames as usize + d.freq_lag),
            bank,
            idx,
            power_scale: 2.0 / (window_sum * window_sum),
            fit: PairFit::new(d.window, w),
            min_power: dbm0_to_power(d.min_tone_dbm0),
            twist_low: db_to_ratio(d.max_twist_low_db),
            twist_high: db_to_ratio(d.max_twist_high_db),
            third: d.third_tone_db.map(|db| db_to_ratio(-db)),
            residual_third: d.residual_third_db.map(|db| db_to_ratio(-db)),
            guard: db_to_ratio(-d.guard_db),
            first_guard,
            frame: 0,
            unjudged: 0,
            stride: d.report_frames as u64,
            cand: None,
            cand_run: 0,
            cand_first: 0,
            held: None,
            held_start: 0,
            held_last: 0,
            misses: 0,
            floor: NoiseFloor::new(),
            nt: d.tones.len(),
            last_power: 0.0,
            held_power: 0.0,
            d,
        }
    }

    /// Judge every frame, as the receiver did before frames were judged late: the same events,
    /// at more cost (for the test that shows so).
    pub fn judging_every_frame(mut self) -> Self {
        self.stride = 1;
        self
    }

    pub fn design(&self) -> &PairDesign {
        &self.d
    }

    /// Samples consumed so far.
    pub fn now(&self) -> u64 {
        self.bank.now()
    }

    /// Bytes from the start of the struct that every frame touches (the bank and the frame
    /// state, up to the design): what a worker asks the cache for a port ahead.
    pub const HOT_BYTES: usize = std::mem::offset_of!(PairReceiver, d);

    /// Hint the cache to fetch the heap state the next `samples` fed will touch (see
    /// [`CorrelatorBank::prefetch`]); changes no result.
    #[inline]
    pub fn prefetch(&self, samples: usize) {
        self.bank.prefetch(samples);
    }

    /// Feed any number of samples; events go to `sink` in time order. The per-block path is
    /// compiled twice, for AVX where the CPU has it and for SSE2 (the same IEEE operations in
    /// the same order either way: the same events to the bit).
    pub fn process(&mut self, samples: &[i16], sink: &mut impl FnMut(ToneEvent)) {
        #[cfg(target_arch = "x86_64")]
        if crate::dsp::cpu::has_avx() {
            // SAFETY: the CPU has AVX (checked above).
            unsafe { self.process_avx(samples, sink) };
            return;
        }
        self.process_any(samples, sink)
    }

    /// # Safety
    /// The CPU must have AVX.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn process_avx(&mut self, samples: &[i16], sink: &mut impl FnMut(ToneEvent)) {
        self.process_any(samples, sink)
    }

    #[inline(always)]
    fn process_any(&mut self, samples: &[i16], sink: &mut impl FnMut(ToneEvent)) {
        let mut rest = samples;
        while !rest.is_empty() {
            if self.bank.feed(&mut rest) {
                self.frame_ended(sink);
            }
        }
    }

    /// A hop has ended: log the frame, then judge it — or, on an idle line, only every
    /// `report_frames`-th frame (see [`super::frame_log`]): when one of those qualifies, the
    /// frames skipped before it are judged first, oldest first, as they would have been.
    #[inline(always)]
    fn frame_ended(&mut self, sink: &mut impl FnMut(ToneEvent)) {
        self.log_frame();
        let f = self.frame;
        self.frame += 1;
        let idle = self.cand.is_none() && self.held.is_none();
        if idle && f % self.stride != 0 {
            return;
        }
        let q = self.judge(0);
        let power = self.last_power;
        if idle && q.is_some() {
            let now = self.bank.now();
            let hop = self.d.hop as u64;
            for back in (1..=(f - self.unjudged) as usize).rev() {
                let qb = self.judge(back);
                self.debounce(qb, now - back as u64 * hop, sink);
            }
            // The replay set the pair power of the frames it judged; the report uses this one's.
            self.last_power = power;
        }
        self.unjudged = f + 1;
        self.debounce(q, self.bank.now(), sink);
    }

    /// Flush at end of stream: a held code is released at the last sample.
    pub fn finish(&mut self, sink: &mut impl FnMut(ToneEvent)) {
        if let Some(code) = self.held.take() {
            sink(ToneEvent::Off {
                code,
                end: self.held_last,
                at: self.now(),
            });
        }
        self.cand = None;
        self.cand_run = 0;
    }

    #[inline(always)]
    fn power_of(&self, x: C64) -> f64 {
        // Tone amplitude a = 2|X|/Σw; power a²/2.
        cabs2(x) * self.power_scale
    }

    /// Log the frame that just ended: its sums if it passes the energy gate (step 1).
    #[inline(always)]
    fn log_frame(&mut self) {
        if self.bank.now() < self.bank.window_len() as u64 {
            self.log.push_gated();
            return;
        }
        // 1. Energy gate (before any correlator is combined: most audio stops here). A window full
        // of two tones at the minimum level holds twice that level's power; quieter windows
        // cannot qualify. (A window still filling with such a tone can be gated while it is
        // less than 71 % full; the frequency test of the first full frame then looks back at a
        // gated frame and fails, delaying tones within 3 dB of the floor by ≤ 2 frames — the
        // accept limits sit 6 dB above the floor, so they never are.)
        let ms = self.bank.mean_square();
        self.floor.push(ms);
        if ms < 2.0 * self.min_power || !self.bank.is_valid() {
            self.log.push_gated();
        } else {
            self.log.push(&self.bank, ms, self.floor.get());
        }
    }

    /// The tones' windowed correlators at a logged frame.
    #[inline(always)]
    fn tone_correlators(&self, sums: (&[f32], &[f32]), delta_phase: u32, out: &mut [C64]) {
        let idx = &self.idx[..self.nt];
        match self.d.window {
            Window::Hann => hann_from(sums, delta_phase, idx, out),
            Window::Rect => {
                for (o, &(k, _, _)) in out.iter_mut().zip(idx) {
                    *o = (sums.0[k] as f64, sums.1[k] as f64);
                }
            }
        }
    }

    /// The verdict on the frame `back` frames ago (0: the one that just ended): the code whose
    /// pair qualifies, if any.
    #[inline(always)]
    fn judge(&mut self, back: usize) -> Option<u8> {
        let nt = self.nt;
        let (meta, sums) = self.log.get(back)?;
        let ms = meta.ms;
        let mut x = [(0.0, 0.0); MAX_TONES];
        self.tone_correlators(sums, meta.delta_phase, &mut x[..nt]);
        let mut p = [0.0f64; MAX_TONES];
        for (pt, &xt) in p.iter_mut().zip(&x[..nt]) {
            *pt = self.power_of(xt);
        }
        // 2. Pair selection.
        let (i, j) = match self.d.grouping {
            Grouping::AnyTwo => {
                let (mut a, mut b) = (usize::MAX, usize::MAX);
                for t in 0..nt {
                    if a == usize::MAX || p[t] > p[a] {
                        b = a;
                        a = t;
                    } else if b == usize::MAX || p[t] > p[b] {
                        b = t;
                    }
                }
                (a.min(b), a.max(b))
            }
            Grouping::LowHigh(nl) => {
                let argmax = |r: std::ops::Range<usize>| {
                    r.clone()
                        .max_by(|&x, &y| p[x].total_cmp(&p[y]))
                        .unwrap_or(r.start)
                };
                (argmax(0..nl), argmax(nl..nt))
            }
        };
        let code = (self.d.code_of)(i, j)?;
        // 3. Level, twist, third tone, share of power.
        let weaker = p[i].min(p[j]);
        if weaker < self.min_power {
            return None;
        }
        if p[i] > p[j] * self.twist_low || p[j] > p[i] * self.twist_high {
            return None;
        }
        if let Some(third) = self.third {
            let other = (0..nt)
                .filter(|&t| t != i && t != j)
                .map(|t| p[t])
                .fold(0.0, f64::max);
            if other > weaker * third {
                return None;
            }
        }
        if p[i] + p[j] < self.d.pair_share * ms {
            return None;
        }
        // A code already held continues on the cheap tests alone: the precise ones admitted it,
        // and a tone does not change nature mid-signal. (Most frames that reach here are
        // frames of a held tone, so this halves the receiver's cost on signalling traffic.)
        // The pair must still carry 80 % (−1 dB) of the power it had when recognised, so a window
        // sliding off the tone (into a gap or a dropout) stops qualifying as early as it would on
        // the precise tests.
        // Below half that power (−3 dB) the window is mostly off the tone: no need to ask the
        // precise tests. In between, they decide (noise makes the power wander by a dB or so).
        if self.held == Some(code) {
            let pair = p[i] + p[j];
            if pair >= 0.8 * self.held_power {
                self.last_power = pair;
                return Some(code);
            }
            if pair < 0.5 * self.held_power {
                return None;
            }
        }
        // 4. Frequency from phase advance.
        let w = self.bank.window_len();
        let m0 = meta.now - w as u64;
        let mut lag = [(0.0, 0.0); MAX_TONES];
        if let Some((lm, ls)) = self.log.get(back + self.d.freq_lag) {
            self.tone_correlators(ls, lm.delta_phase, &mut lag[..nt]);
        }
        let tones = self.fit.estimate(
            [self.d.tones[i], self.d.tones[j]],
            [x[i], x[j]],
            [lag[i], lag[j]],
            m0,
            self.d.freq_lag * self.d.hop,
        )?;
        for t in &tones {
            if t.offset_hz().abs() > self.d.freq_tol * t.hz as f64 + self.d.freq_tol_hz {
                return None;
            }
        }
        // 5a. Time-domain fit with the larger of the two noise allowances (the floor alone): a
        // window the tones do not fill (onsets, mostly) fails here, before the residual spectrum
        // is paid for.
        let floor_sigma2 = meta.floor / NoiseFloor::BIAS;
        let fit = |sigma2: f64| {
            self.fit.fits(
                self.bank.window_back(back),
                &tones,
                self.d.fit_ratio,
                self.d.fit_floor,
                self.d.fit_noise * sigma2,
            )
        };
        if !fit(floor_sigma2) {
            return None;
        }
        // 5. Residual spectrum: third components, and the white-noise level.
        let nb = self.bank.freqs().len();
        let mut r2 = [0.0f64; MAX_BANK];
        self.fit
            .residual_bins(self.bank.freqs(), sums, &tones, m0, &mut r2[..nb]);
        let wf = w as f64;
        if let Some(third) = self.residual_third {
            let weaker = weaker_bin(&tones, wf);
            if r2[..nb].iter().any(|&r| r > weaker * third) {
                return None;
            }
        }
        let guard_min = (weaker_bin(&tones, wf) * self.guard).max(8.0 * wf * floor_sigma2);
        if r2[self.first_guard..nb].iter().any(|&r| r > guard_min) {
            return None;
        }
        // White noise leaves every bin's residual exponentially distributed with mean W·σ²;
        // the median (ln 2 of the mean) ignores the few bins a tonal interferer fills.
        let (_, median, _) = r2[..nb].select_nth_unstable_by(nb / 2, f64::total_cmp);
        let sigma2_in = *median / std::f64::consts::LN_2 / wf;
        // 6. Time-domain fit again if the band says the noise is less. Residual the noise may explain: only noise that is both stationary
        // (the minimum-statistics floor) and white across the band (the residual bins) counts.
        // A chord's steady extra note is not white in-band; speech is not stationary.
        if sigma2_in < floor_sigma2 && !fit(sigma2_in) {
            return None;
        }
        self.last_power = p[i] + p[j];
        Some(code)
    }

    #[inline(always)]
    fn debounce(&mut self, q: Option<u8>, now: u64, sink: &mut impl FnMut(ToneEvent)) {
        let w = self.bank.window_len() as u64;
        match q {
            Some(c) if self.cand == Some(c) => self.cand_run += 1,
            Some(c) => {
                self.cand = Some(c);
                self.cand_run = 1;
                self.cand_first = now;
            }
            None => {
                self.cand = None;
                self.cand_run = 0;
            }
        }
        if q.is_some() && q == self.held {
            self.misses = 0;
            self.held_last = now;
            return;
        }
        if self.held.is_some() {
            self.misses += 1;
        }
        if let Some(c) = q {
            if self.cand_run >= self.d.report_frames {
                if let Some(old) = self.held.take() {
                    sink(ToneEvent::Off {
                        code: old,
                        end: self.held_last,
                        at: now,
                    });
                }
                self.held = Some(c);
                self.held_power = self.last_power;
                self.held_start = self.cand_first.saturating_sub(w);
                self.held_last = now;
                self.misses = 0;
                sink(ToneEvent::On {
                    code: c,
                    start: self.held_start,
                    at: now,
                });
                return;
            }
        }
        if self.held.is_some() && self.misses >= self.d.release_frames {
            let code = self.held.take().unwrap_or_default();
            sink(ToneEvent::Off {
                code,
                end: self.held_last,
                at: now,
            });
        }
    }

    /// Return to the freshly constructed state.
    /// Back to the freshly constructed state, keeping its buffers (nothing is allocated).
    pub fn reset(&mut self) {
        self.bank.reset();
        self.log.reset();
        self.frame = 0;
        self.unjudged = 0;
        self.cand = None;
        self.cand_run = 0;
        self.cand_first = 0;
        self.held = None;
        self.held_start = 0;
        self.held_last = 0;
        self.misses = 0;
        self.floor = NoiseFloor::new();
        self.last_power = 0.0;
        self.held_power = 0.0;
    }
}

/// The largest first-difference-to-energy ratio a qualifying window can have: the pair (at least
/// `pair_share` of the power, at most `2(1 − cos ω)` for the highest tone at the edge of its band)
/// plus the rest at the Nyquist ratio 4. MF: 2.58; DTMF: 2.50. A 2600 Hz tone alone is 2.91.
fn max_hf_ratio(d: &PairDesign) -> f64 {
    let top = *d.tones.iter().max().unwrap_or(&0) as f64;
    let hz = top * (1.0 + d.freq_tol) + d.freq_tol_hz;
    let w = std::f64::consts::TAU * hz / SAMPLE_RATE as f64;
    d.pair_share * 2.0 * (1.0 - w.cos()) + (1.0 - d.pair_share) * 4.0
}

/// The weaker tone's power as a rectangular correlator of `w` samples reads it: a steady tone
/// at full window length reads |B|·W.
fn weaker_bin(tones: &[FitTone; 2], w: f64) -> f64 {
    cabs2(tones[0].b).min(cabs2(tones[1].b)) * w * w
}
