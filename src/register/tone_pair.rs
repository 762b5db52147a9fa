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

pub use super::pair_judge::PairJudge;
use crate::dsp::correlator::{CorrelatorBank, KernelPlanner, OnFrame};
use crate::units::{dbm0_to_power, SAMPLE_RATE};

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
    /// Noise allowance of the fit test, in units of the tracked noise floor (see [`super::noise_floor::NoiseFloor`]).
    pub fit_noise: f64,
    /// A second way a frame may qualify, for keys under speech or music (DTMF), if set.
    pub overlay: Option<OverlayRule>,
}

/// Keys under speech or music: the time-domain fit judges the whole band, and a syllable or a
/// note as loud as the key fills it, so a key under talk radio fails it frame after frame while
/// in its own bins it stands clear. A frame that passed steps 1–4 and failed a later one may
/// still count toward a key when, in the band the receiver listens to, the pair is all there
/// is near it: no third component within `third_db` of the weaker tone (at the other tones, the
/// key's own Hann neighbours and the guards),
/// at least `pair_share` of the window's power, each tone within `freq_tol` of nominal, and each
/// tone present coherently in every quarter of the window (its projection there at least
/// `coherence` of the fitted amplitude: a window the key only partly fills has a quarter near 0,
/// so the duration rule keeps its edge). Such frames are weaker evidence than the fit's, so they
/// are counted over a longer span: a key is reported when `frames` of the last `span` frames
/// qualify either way. Steady speech or a held chord on two key frequencies is what this lets
/// through; the limits are set on the first half of the speech corpus, and the talk-off corpus
/// (speech, music, 24 voices) gives no key with them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverlayRule {
    pub third_db: f64,
    pub pair_share: f64,
    pub freq_tol: f64,
    pub coherence: f64,
    pub frames: u32,
    pub span: u32,
}

/// What a receiver tells its sink. Sample indices count from the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneEvent {
    /// `code` recognised; `start` is the estimated tone onset, `at` the samples consumed so far.
    On { code: u8, start: u64, at: u64 },
    /// `code` ended at about `end`; decided at `at`.
    Off { code: u8, end: u64, at: u64 },
}

pub const MAX_TONES: usize = 8;
const MAX_LAG: usize = 4;
/// Every tone with its Hann neighbours, and up to 8 guard frequencies (the residual test's bins).
pub const MAX_BANK: usize = 3 * MAX_TONES + 8;

#[derive(Debug, Clone)]
// Declaration order (`repr(C)`): the correlator bank, then what every frame touches, then the
// rest: a worker visits thousands of receivers in turn, each cold, so fewer lines per frame.
#[repr(C)]
pub struct PairReceiver {
    bank: CorrelatorBank,
    judge: PairJudge,
}

/// Where a design's frequencies sit in its bank.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The bank's frequencies: each tone with its Hann neighbours (the guards are not in the
    /// bank: they are correlated with the window only when a frame gets to the residual test).
    pub freqs: Vec<u32>,
    /// For tone `t`: bank indices of f, f−Δ, f+Δ (the last two unused for Rect).
    pub idx: [(usize, usize, usize); MAX_TONES],
}

impl Plan {
    /// # Panics
    /// On a design that breaks the construction contract (too many tones, lag too long).
    pub fn of(d: &PairDesign) -> Plan {
        assert!(d.tones.len() <= MAX_TONES && d.guard_hz.len() <= 8);
        assert!(d.freq_lag <= MAX_LAG && d.freq_lag > 0 && d.report_frames > 0);
        if let Some(r) = d.overlay {
            // One bit a frame in a u32; a count it can reach.
            assert!((1..=32).contains(&r.span) && (1..=r.span).contains(&r.frames));
        }
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
        assert!(
            d.guard_hz.iter().all(|g| !freqs.contains(g)),
            "a guard frequency is one of the bank's"
        );
        Plan { freqs, idx }
    }

    /// Window mean square under which nothing can qualify: two tones at the minimum level.
    pub fn gate(d: &PairDesign) -> f64 {
        2.0 * dbm0_to_power(d.min_tone_dbm0)
    }

    /// Samples' hops a bank keeps before its window: a skipped frame is judged at most
    /// `report_frames − 1` frames late, or `span − 1` with an [`OverlayRule`] (its count looks
    /// that far back).
    pub fn lookback(d: &PairDesign) -> usize {
        let span = d.overlay.map_or(0, |r| r.span);
        d.report_frames.max(span) as usize - 1
    }
}

impl PairReceiver {
    /// # Panics
    /// On a design that breaks the construction contract (too many tones, lag too long).
    pub fn new(d: PairDesign) -> Self {
        Self::new_in(d, &mut KernelPlanner::new())
    }

    /// A receiver whose correlator kernel comes from `planner` (shared with its other banks).
    pub fn new_in(d: PairDesign, planner: &mut KernelPlanner) -> Self {
        let plan = Plan::of(&d);
        let bank = Self::bank_in(&d, &plan, planner);
        let judge = PairJudge::new(d, &bank, &plan);
        PairReceiver { bank, judge }
    }

    /// The correlator bank a receiver of design `d` runs, gates included: what
    /// `benches/banks_only.rs` runs alone, to measure the bank's share of the receiver's cost.
    pub fn bank_in(d: &PairDesign, plan: &Plan, planner: &mut KernelPlanner) -> CorrelatorBank {
        CorrelatorBank::new_in(planner, &plan.freqs, d.hop, d.blocks)
            // The bank skips what the energy gate would reject anyway.
            .with_gate(Plan::gate(d))
            .with_spectral_gate(max_hf_ratio(d))
            .with_lookback(Plan::lookback(d))
    }

    /// Judge every frame, as the receiver did before frames were judged late: the same events,
    /// at more cost (for the test that shows so).
    pub fn judging_every_frame(mut self) -> Self {
        self.judge = self.judge.judging_every_frame();
        self
    }

    pub fn design(&self) -> &PairDesign {
        self.judge.design()
    }

    /// Samples consumed so far.
    pub fn now(&self) -> u64 {
        self.bank.now()
    }

    /// Bytes from the start of the struct that every frame touches (the bank and the frame
    /// state, up to the design): what a worker asks the cache for a port ahead.
    pub const HOT_BYTES: usize = std::mem::offset_of!(PairReceiver, judge) + PairJudge::HOT_BYTES;

    /// Hint the cache to fetch the heap state the next `samples` fed will touch (see
    /// [`CorrelatorBank::prefetch`]); changes no result.
    #[inline]
    pub fn prefetch(&self, samples: usize) {
        self.bank.prefetch(samples);
    }

    /// Feed any number of samples; events go to `sink` in time order (the bank's per-block
    /// path with the judge inside it: see [`CorrelatorBank::run`]).
    pub fn process(&mut self, samples: &[i16], sink: &mut impl FnMut(ToneEvent)) {
        self.bank.run(
            samples,
            &mut Judging {
                judge: &mut self.judge,
                sink,
            },
        );
    }

    /// Flush at end of stream: a held code is released at the last sample.
    pub fn finish(&mut self, sink: &mut impl FnMut(ToneEvent)) {
        self.judge.finish(self.bank.now(), sink);
    }

    /// Back to the freshly constructed state, keeping its buffers (nothing is allocated).
    pub fn reset(&mut self) {
        self.bank.reset();
        self.judge.reset();
    }
}

/// A judge and its sink, as the bank's per-hop callback.
struct Judging<'a, S> {
    judge: &'a mut PairJudge,
    sink: &'a mut S,
}

impl<S: FnMut(ToneEvent)> OnFrame for Judging<'_, S> {
    #[inline(always)]
    fn frame(&mut self, bank: &CorrelatorBank) {
        self.judge.frame_ended(bank, self.sink);
    }
}

/// The largest first-difference-to-energy ratio a qualifying window can have: the pair (at least
/// `pair_share` of the power, at most `2(1 − cos ω)` for the highest tone at the edge of its band)
/// plus the rest at the Nyquist ratio 4. MF: 2.58; DTMF: 2.50. A 2600 Hz tone alone is 2.91.
pub fn max_hf_ratio(d: &PairDesign) -> f64 {
    let top = *d.tones.iter().max().unwrap_or(&0) as f64;
    let hz = top * (1.0 + d.freq_tol) + d.freq_tol_hz;
    let w = std::f64::consts::TAU * hz / SAMPLE_RATE as f64;
    d.pair_share * 2.0 * (1.0 - w.cos()) + (1.0 - d.pair_share) * 4.0
}
