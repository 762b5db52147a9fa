//! The last few frames of a two-tone receiver, kept so a frame can be judged after later ones.
//!
//! While nothing is happening on a line (no candidate, nothing held) the receiver judges only
//! every `report_frames`-th frame: a code needs that many consecutive qualifying frames, so any
//! run long enough to matter contains a judged frame. When a judged frame qualifies, the frames
//! since the line was last busy are judged now, oldest first, from this log (as far back as the
//! overlay rule's count looks, [`super::tone_pair::OverlayRule`]: a key under speech may have
//! frames that count before a judged frame that failed; that rule reports only on the frames an
//! idle line judges, so its count is complete there) — exactly what
//! judging them at the time would have given, because a frame's verdict depends only on what is
//! logged here (the bank's sums, the window's power and noise floor, the Hann phase) and on the
//! samples, which the bank keeps readable that far back
//! ([`crate::dsp::correlator::CorrelatorBank::with_lookback`]).

use crate::dsp::correlator::CorrelatorBank;

/// What a two-tone receiver's judge reads of its bank at the end of each hop (implemented by
/// [`CorrelatorBank`]; a bank made another way — several lines at once, a coarser hop on idle
/// lines — would implement it too).
pub trait FrameSource {
    /// Samples consumed so far.
    fn now(&self) -> u64;
    fn window_len(&self) -> usize;
    /// Mean square of the current window.
    fn mean_square(&self) -> f64;
    /// Whether the sums describe the current window (the bank's gates let it through).
    fn is_valid(&self) -> bool;
    /// [`CorrelatorBank::delta_phase`].
    fn delta_phase(&self) -> u32;
    fn freqs(&self) -> &[u32];
    /// Lanes of the sums each of `re` and `im` takes (the bank's frequencies, padded to 4).
    fn width(&self) -> usize;
    /// The rectangular window sums into `re` and `im` (`width()` each).
    fn copy_sums(&self, re: &mut [f32], im: &mut [f32]);
    /// `f` of the window `back` hops ago (oldest sample first).
    fn with_window_back<R>(&self, back: usize, f: impl FnOnce(&[i16]) -> R) -> R;
}

impl FrameSource for CorrelatorBank {
    #[inline(always)]
    fn now(&self) -> u64 {
        CorrelatorBank::now(self)
    }
    #[inline(always)]
    fn window_len(&self) -> usize {
        CorrelatorBank::window_len(self)
    }
    #[inline(always)]
    fn mean_square(&self) -> f64 {
        CorrelatorBank::mean_square(self)
    }
    #[inline(always)]
    fn is_valid(&self) -> bool {
        CorrelatorBank::is_valid(self)
    }
    #[inline(always)]
    fn delta_phase(&self) -> u32 {
        CorrelatorBank::delta_phase(self)
    }
    #[inline(always)]
    fn freqs(&self) -> &[u32] {
        CorrelatorBank::freqs(self)
    }
    #[inline(always)]
    fn width(&self) -> usize {
        self.sums().0.len()
    }
    #[inline(always)]
    fn copy_sums(&self, re: &mut [f32], im: &mut [f32]) {
        let (sr, si) = self.sums();
        copy_lanes(re, sr);
        copy_lanes(im, si);
    }
    #[inline(always)]
    fn with_window_back<R>(&self, back: usize, f: impl FnOnce(&[i16]) -> R) -> R {
        f(self.window_back(back))
    }
}

/// A frame's rectangular window sums, `(re, im)`.
pub type Sums<'a> = (&'a [f32], &'a [f32]);

/// `src` into `dst` (the same length): for the usual banks' lengths (a multiple of
/// [`crate::dsp::correlator::SUM_LANES`]: MF 16, DTMF 24) a copy of fixed length.
#[inline(always)]
fn copy_lanes(dst: &mut [f32], src: &[f32]) {
    crate::dsp::fixed_copy::copy::<f32, 16, 24, 32>(dst, src)
}

/// What a frame's verdict needs besides the sums.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameMeta {
    /// The frame passed the energy gate and the bank kept its sums (otherwise nothing else is set).
    pub valid: bool,
    /// Samples consumed at the frame.
    pub now: u64,
    /// The window's mean square.
    pub ms: f64,
    /// The stationary noise floor as it stood at the frame (mean square).
    pub floor: f64,
    /// [`FrameSource::delta_phase`] at the frame.
    pub delta_phase: u32,
}

#[derive(Debug, Clone)]
pub struct FrameLog {
    /// Lanes per frame: the bank's padded sums, real parts then imaginary.
    width: usize,
    /// Slot of the newest frame.
    pos: usize,
    sums: Vec<f32>,
    meta: Vec<FrameMeta>,
}

impl FrameLog {
    /// A log of the last `depth` frames of `bank`.
    pub fn new(bank: &impl FrameSource, depth: usize) -> Self {
        let width = bank.width();
        FrameLog {
            width,
            pos: 0,
            sums: vec![0.0; depth.max(1) * 2 * width],
            meta: vec![FrameMeta::default(); depth.max(1)],
        }
    }

    fn advance(&mut self) -> usize {
        self.pos = if self.pos + 1 == self.meta.len() {
            0
        } else {
            self.pos + 1
        };
        self.pos
    }

    /// A frame that cannot qualify (gated, or the window not yet full).
    #[inline(always)]
    pub fn push_gated(&mut self) {
        let p = self.advance();
        self.meta[p].valid = false;
    }

    /// A frame whose sums the receiver may read.
    #[inline(always)]
    pub fn push(&mut self, bank: &impl FrameSource, ms: f64, floor: f64) {
        let p = self.advance();
        let w = self.width;
        let row = &mut self.sums[p * 2 * w..(p + 1) * 2 * w];
        let (r, i) = row.split_at_mut(w);
        bank.copy_sums(r, i);
        self.meta[p] = FrameMeta {
            valid: true,
            now: bank.now(),
            ms,
            floor,
            delta_phase: bank.delta_phase(),
        };
    }

    /// The frame `back` frames before the newest, if it was valid and is still logged.
    #[inline(always)]
    pub fn get(&self, back: usize) -> Option<(FrameMeta, Sums<'_>)> {
        let depth = self.meta.len();
        if back >= depth {
            return None;
        }
        // `pos − back`, wrapped (back < depth): a subtraction where `%` would divide.
        let p = if back <= self.pos {
            self.pos - back
        } else {
            self.pos + depth - back
        };
        let m = self.meta[p];
        if !m.valid {
            return None;
        }
        let w = self.width;
        let row = &self.sums[p * 2 * w..(p + 1) * 2 * w];
        Some((m, row.split_at(w)))
    }

    pub fn reset(&mut self) {
        self.meta.fill(FrameMeta::default());
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use crate::register::dtmf::{dtmf_design, DTMF_TONES};
    use crate::register::mf::{mf_design, MF_TONES};
    use crate::register::tone_pair::{PairDesign, PairReceiver, ToneEvent};
    use crate::units::dbm0_to_power;

    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn range(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.unit()
        }
    }

    /// 30 s of two-tone bursts made to sit on the receivers' edges — 10–80 ms long, −38 … −3
    /// dBm0 a tone, twist ±9 dB, up to 3 % off, gaps of 3–50 ms — a third of them over speech,
    /// all in white noise: many onsets that qualify for a frame or two and then fail.
    fn edgy(rng: &mut Rng, tones: &[u32], speech: &[i16]) -> Vec<i16> {
        let n = 30 * 8000;
        let mut x = vec![0.0f64; n];
        let noise = (dbm0_to_power(-45.0) * 3.0).sqrt();
        for v in x.iter_mut() {
            *v = noise * (rng.unit() - 0.5) * 2.0;
        }
        let mut at = 0usize;
        while at < n {
            let len = rng.range(80.0, 640.0) as usize;
            let a = (rng.unit() * tones.len() as f64) as usize % tones.len();
            let b = (a + 1 + (rng.unit() * (tones.len() - 1) as f64) as usize) % tones.len();
            let level = rng.range(-38.0, -3.0);
            let twist = rng.range(-9.0, 9.0);
            for (k, (t, db)) in [(a, level), (b, level + twist)].into_iter().enumerate() {
                let hz = tones[t] as f64 * (1.0 + rng.range(-0.03, 0.03));
                let amp = (2.0 * dbm0_to_power(db.min(-3.0))).sqrt();
                let ph = rng.range(0.0, 6.3) + k as f64;
                for (i, v) in x[at..(at + len).min(n)].iter_mut().enumerate() {
                    *v += amp * (std::f64::consts::TAU * hz * i as f64 / 8000.0 + ph).sin();
                }
            }
            if rng.unit() < 0.33 {
                let gain = rng.range(0.1, 1.0);
                let from = (rng.unit() * (speech.len() - len) as f64) as usize;
                for (v, &s) in x[at..(at + len).min(n)].iter_mut().zip(&speech[from..]) {
                    *v += gain * s as f64;
                }
            }
            at += len + rng.range(24.0, 400.0) as usize;
        }
        x.iter()
            .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    fn events(mut rx: PairReceiver, x: &[i16], rng: &mut Rng) -> Vec<ToneEvent> {
        let mut out = Vec::new();
        let mut rest = x;
        while !rest.is_empty() {
            let k = (rng.range(1.0, 400.0) as usize).min(rest.len());
            rx.process(&rest[..k], &mut |e| out.push(e));
            rest = &rest[k..];
        }
        rx.finish(&mut |e| out.push(e));
        out
    }

    /// The first minute of the talk-off corpus's voices.
    fn voices_first_minute() -> Vec<i16> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/audio-fixtures/talkoff/voices.wav"
        );
        let mut audio =
            crate::audio::wav::read_wav(std::path::Path::new(path)).expect("voices.wav");
        audio.channels.swap_remove(0)[..60 * 8000].to_vec()
    }

    #[test]
    fn judging_skipped_frames_late_gives_the_events_of_judging_every_frame() {
        let speech = &voices_first_minute();
        let designs: [(PairDesign, &[u32]); 2] =
            [(mf_design(), &MF_TONES), (dtmf_design(), &DTMF_TONES)];
        // Whether the overlay rule (whose count reaches back further) made any of the events.
        let mut overlay_used = false;
        for (d, tones) in designs {
            for seed in 1..=3u64 {
                let mut rng = Rng(seed);
                let x = edgy(&mut rng, tones, speech);
                let late = events(PairReceiver::new(d.clone()), &x, &mut rng);
                let every = events(
                    PairReceiver::new(d.clone()).judging_every_frame(),
                    &x,
                    &mut rng,
                );
                let ons = every
                    .iter()
                    .filter(|e| matches!(e, ToneEvent::On { .. }))
                    .count();
                // Enough codes reported (each from an idle line, most through a late judgement)
                // for a difference to show.
                assert!(ons > 40, "{:?} seed {seed}: only {ons} codes", d.tones);
                assert_eq!(late, every, "{:?} seed {seed}", d.tones);
                if d.overlay.is_some() {
                    let fit_only = PairDesign {
                        overlay: None,
                        ..d.clone()
                    };
                    overlay_used |= events(PairReceiver::new(fit_only), &x, &mut rng) != late;
                }
            }
        }
        assert!(overlay_used, "no event came through the overlay rule");
    }

    /// The same, for keys under speech that only the overlay rule reports (DTMF): its count
    /// reaches 20 frames back, past judged frames that failed, so a replay that stopped at the
    /// last judged frame would miss or delay them. 60/60 ms keys at −10 dBm0 a tone over 60 s
    /// of voices 3 … 0 dB under them.
    #[test]
    fn judging_skipped_frames_late_keeps_the_overlay_count() {
        let speech = &voices_first_minute();
        let amp = (2.0 * dbm0_to_power(-10.0)).sqrt();
        let mut x = vec![0.0f64; speech.len()];
        let mut at = 800;
        let mut k = 0;
        while at + 960 < x.len() {
            let (lo, hi) = (DTMF_TONES[k % 4], DTMF_TONES[4 + (k / 4) % 4]);
            for (i, v) in x[at..at + 480].iter_mut().enumerate() {
                let t = i as f64 / 8000.0;
                *v = amp
                    * ((std::f64::consts::TAU * lo as f64 * t).sin()
                        + (std::f64::consts::TAU * hi as f64 * t + 1.0).sin());
            }
            at += 960;
            k += 1;
        }
        let keys_power = 2.0 * dbm0_to_power(-10.0);
        let speech_power =
            speech.iter().map(|&s| s as f64 * s as f64).sum::<f64>() / x.len() as f64;
        let mut used = false;
        for ratio_db in [3.0, 0.0] {
            let g = (keys_power / speech_power / 10f64.powf(ratio_db / 10.0)).sqrt();
            let mixed: Vec<i16> = x
                .iter()
                .zip(speech)
                .map(|(v, &s)| (v + g * s as f64).round().clamp(-32768.0, 32767.0) as i16)
                .collect();
            let mut rng = Rng(7);
            let late = events(PairReceiver::new(dtmf_design()), &mixed, &mut rng);
            let every = events(
                PairReceiver::new(dtmf_design()).judging_every_frame(),
                &mixed,
                &mut rng,
            );
            assert_eq!(late, every, "keys {ratio_db} dB over speech");
            let fit_only = PairDesign {
                overlay: None,
                ..dtmf_design()
            };
            used |= events(PairReceiver::new(fit_only), &mixed, &mut rng) != late;
        }
        assert!(used, "no key came through the overlay rule");
    }
}
