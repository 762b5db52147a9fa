//! The verdict on each frame of a two-tone receiver, and its debounce (steps 1–6 and the
//! report/release rules of [`super::tone_pair`]), apart from the correlator bank that feeds it.

use super::frame_log::{FrameLog, FrameSource};
use super::noise_floor::NoiseFloor;
use super::pair_fit::{FitTone, HighPass, PairFit};
use super::tone_pair::{
    Grouping, OverlayRule, PairDesign, Plan, ToneEvent, Window, MAX_BANK, MAX_TONES,
};
use crate::dsp::correlator::{cabs2, hann_from, C64};
use crate::units::{db_to_ratio, dbm0_to_power};

/// Everything of a two-tone receiver but its correlator bank: the verdict on each frame and
/// the debounce. Fed by a [`FrameSource`] (a receiver's own [`crate::dsp::correlator::CorrelatorBank`]):
/// the judge reads only what the trait gives, so how the sums are made can change under it.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct PairJudge {
    /// Tones in the design (`d.tones.len()`, kept with the hot fields).
    nt: usize,
    /// Frames since the start of the stream, and the first not judged on a busy line (frames
    /// from there on were skipped, or failed on an idle line).
    frame: u64,
    unjudged: u64,
    /// How far back a replay reaches ([`Plan::lookback`]).
    lookback: u64,
    /// On an idle line, judge frames whose index is a multiple of this (`report_frames`; 1 for
    /// every frame, [`super::tone_pair::PairReceiver::judging_every_frame`]).
    stride: u64,
    /// Frames until the next multiple of `stride` (0: this one is).
    to_grid: u64,
    min_power: f64,
    floor: NoiseFloor,
    cand: Option<u8>,
    cand_run: u32,
    cand_first: u64,
    held: Option<u8>,
    held_start: u64,
    held_last: u64,
    misses: u32,
    /// Frames of the last [`OverlayRule`] span that qualified for `ov_code`, newest lowest.
    ov_bits: u32,
    ov_code: Option<u8>,
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
    /// What white noise of unit power per sample reads in one tone's correlator, on average.
    noise_per_correlator: f64,
    /// Below the voice band (200 Hz; G.712's channel starts at 300): what the fit never holds
    /// against a key (hum, the rumble of a pinker-than-pink line noise).
    line_band: HighPass,
    /// Below the band: the residual the in-band noise test ignores (half the lowest tone).
    below_band: HighPass,
    twist_low: f64,
    twist_high: f64,
    third: Option<f64>,
    residual_third: Option<f64>,
    guard: f64,
    /// The overlay rule's third-component ratio (`−third_db` as a power ratio).
    overlay_third: f64,
}

impl PairJudge {
    /// The judge of `bank`'s frames, planned by `plan`.
    pub fn new(d: PairDesign, bank: &impl FrameSource, plan: &Plan) -> Self {
        let w = d.hop * d.blocks;
        let window_sum = match d.window {
            Window::Hann => w as f64 / 2.0,
            Window::Rect => w as f64,
        };
        PairJudge {
            // Judged at most `report_frames − 1` late, reading the phase `freq_lag` before.
            log: FrameLog::new(bank, Plan::lookback(&d) + 1 + d.freq_lag),
            idx: plan.idx,
            power_scale: 2.0 / (window_sum * window_sum),
            fit: PairFit::new(d.window, w),
            noise_per_correlator: match d.window {
                Window::Hann => 3.0 / w as f64,
                Window::Rect => 2.0 / w as f64,
            },
            below_band: HighPass::new(0.5 * d.tones[0] as f64),
            line_band: HighPass::new(200.0),
            min_power: dbm0_to_power(d.min_tone_dbm0),
            twist_low: db_to_ratio(d.max_twist_low_db),
            twist_high: db_to_ratio(d.max_twist_high_db),
            third: d.third_tone_db.map(|db| db_to_ratio(-db)),
            residual_third: d.residual_third_db.map(|db| db_to_ratio(-db)),
            guard: db_to_ratio(-d.guard_db),
            overlay_third: d.overlay.map_or(0.0, |r| db_to_ratio(-r.third_db)),
            frame: 0,
            unjudged: 0,
            lookback: Plan::lookback(&d) as u64,
            stride: d.report_frames as u64,
            to_grid: 0,
            cand: None,
            cand_run: 0,
            cand_first: 0,
            held: None,
            held_start: 0,
            held_last: 0,
            misses: 0,
            ov_bits: 0,
            ov_code: None,
            floor: NoiseFloor::new(),
            nt: d.tones.len(),
            last_power: 0.0,
            held_power: 0.0,
            d,
        }
    }

    /// Judge every frame (see [`super::tone_pair::PairReceiver::judging_every_frame`]).
    pub fn judging_every_frame(mut self) -> Self {
        self.stride = 1;
        self.to_grid = 0;
        self
    }

    pub fn design(&self) -> &PairDesign {
        &self.d
    }

    /// Bytes from the start of the struct that every frame touches, up to the design.
    pub const HOT_BYTES: usize = std::mem::offset_of!(PairJudge, d);

    /// A hop has ended: log the frame, then judge it — or, on an idle line, only every
    /// `report_frames`-th frame (see [`super::frame_log`]): when one of those qualifies, the
    /// frames skipped before it are judged first, oldest first, as they would have been.
    #[inline(always)]
    pub fn frame_ended(&mut self, src: &impl FrameSource, sink: &mut impl FnMut(ToneEvent)) {
        self.log_frame(src);
        let w = src.window_len() as u64;
        let f = self.frame;
        self.frame += 1;
        // Frames to the next whose index is a multiple of the stride (a countdown where `%`
        // would divide, every frame).
        let on_grid = self.to_grid == 0;
        self.to_grid = if on_grid {
            self.stride - 1
        } else {
            self.to_grid - 1
        };
        let idle = self.cand.is_none() && self.held.is_none() && self.ov_bits == 0;
        if idle && !on_grid {
            return;
        }
        let q = self.judge(src, 0);
        let power = self.last_power;
        if idle && q.is_some() {
            let now = src.now();
            let hop = self.d.hop as u64;
            // Every frame since the line was last busy, up to the log's depth: skipped ones and
            // judged ones alike (judging again a frame that failed on an idle line changes
            // nothing), so an overlay count sees the frames it would have seen.
            let from = self.unjudged.max(f.saturating_sub(self.lookback));
            for back in (1..=(f - from) as usize).rev() {
                let qb = self.judge(src, back);
                self.debounce(qb, f - back as u64, now - back as u64 * hop, w, sink);
            }
            // The replay set the pair power of the frames it judged; the report uses this one's.
            self.last_power = power;
        }
        if !idle || q.is_some() {
            self.unjudged = f + 1;
        }
        self.debounce(q, f, src.now(), w, sink);
    }

    /// Flush at end of stream: a held code is released at the last sample.
    pub fn finish(&mut self, now: u64, sink: &mut impl FnMut(ToneEvent)) {
        if let Some(code) = self.held.take() {
            sink(ToneEvent::Off {
                code,
                end: self.held_last,
                at: now,
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
    fn log_frame(&mut self, src: &impl FrameSource) {
        if src.now() < src.window_len() as u64 {
            self.log.push_gated();
            return;
        }
        // 1. Energy gate (before any correlator is combined: most audio stops here). A window full
        // of two tones at the minimum level holds twice that level's power; quieter windows
        // cannot qualify. (A window still filling with such a tone can be gated while it is
        // less than 71 % full; the frequency test of the first full frame then looks back at a
        // gated frame and fails, delaying tones within 3 dB of the floor by ≤ 2 frames — the
        // accept limits sit 6 dB above the floor, so they never are.)
        let ms = src.mean_square();
        self.floor.push(ms);
        if ms < 2.0 * self.min_power || !src.is_valid() {
            self.log.push_gated();
        } else {
            self.log.push(src, ms, self.floor.get());
        }
    }

    /// The tones' windowed correlators at a logged frame.
    #[inline(always)]
    fn tone_correlators(
        &self,
        sums: (&[f32], &[f32]),
        delta_phase: u32,
        idx: &[(usize, usize, usize)],
        out: &mut [C64],
    ) {
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
    fn judge(&mut self, src: &impl FrameSource, back: usize) -> Option<(u8, bool)> {
        let nt = self.nt;
        let (meta, sums) = self.log.get(back)?;
        let ms = meta.ms;
        let mut x = [(0.0, 0.0); MAX_TONES];
        self.tone_correlators(sums, meta.delta_phase, &self.idx[..nt], &mut x[..nt]);
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
        // The pair's share of what is not the line's stationary noise (the floor: 0 on a quiet
        // line, so the full rule; speech and music never raise it, they fall silent between
        // syllables and notes).
        let floor_sigma2 = meta.floor / NoiseFloor::BIAS;
        if let Some(third) = self.third {
            let other = (0..nt)
                .filter(|&t| t != i && t != j)
                .map(|t| p[t])
                .fold(0.0, f64::max);
            // Stationary noise of σ² per sample reads 2σ²·Σw²/(Σw)² in a correlator (3σ²/W
            // through Hann): 8 times that mean is exceeded once in e^8 ≈ 3 000 readings.
            if other > (weaker * third).max(8.0 * self.noise_per_correlator * floor_sigma2) {
                return None;
            }
        }
        // The pair's share of what is not the line's stationary noise (see above).
        if p[i] + p[j] < self.d.pair_share * (ms - SHARE_NOISE * floor_sigma2).max(0.0) {
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
                return Some((code, true));
            }
        }
        // 4. Frequency from phase advance.
        let w = src.window_len();
        let m0 = meta.now - w as u64;
        // (The pair's two only, at the earlier frame.)
        let mut lag = [(0.0, 0.0); 2];
        if let Some((lm, ls)) = self.log.get(back + self.d.freq_lag) {
            let pair = [self.idx[i], self.idx[j]];
            self.tone_correlators(ls, lm.delta_phase, &pair, &mut lag);
        }
        let tones = self.fit.estimate(
            [self.d.tones[i], self.d.tones[j]],
            [x[i], x[j]],
            lag,
            m0,
            self.d.freq_lag * self.d.hop,
        )?;
        for t in &tones {
            if t.offset_hz().abs() > self.d.freq_tol * t.hz as f64 + self.d.freq_tol_hz {
                return None;
            }
        }
        // A frame that fails from here on may still count under speech or music (see
        // [`OverlayRule`]).
        macro_rules! overlay {
            () => {{
                let pair = p[i] + p[j];
                let v = self.overlay(
                    src,
                    back,
                    code,
                    (i, j),
                    &tones,
                    sums,
                    m0,
                    pair,
                    ms,
                    floor_sigma2,
                );
                if v.is_some() {
                    self.last_power = pair;
                }
                v
            }};
        }
        // 5a. Time-domain fit with the larger of the two noise allowances (the floor alone): a
        // window the tones do not fill (onsets, mostly) fails here, before the residual spectrum
        // is paid for.
        let fit_in = |sigma2: f64, hp: Option<&HighPass>| {
            src.with_window_back(back, |x| {
                self.fit.fits(
                    x,
                    &tones,
                    self.d.fit_ratio,
                    self.d.fit_floor,
                    self.d.fit_noise * sigma2,
                    hp,
                )
            })
        };
        let fit = |sigma2: f64| fit_in(sigma2, Some(&self.line_band));
        // More residual than the noise explains. Below the band, noise that is not white —
        // pink noise, whose power is mostly low and swings from window to window — may explain
        // it: the fit is asked again without what lies below half the lowest tone, and what
        // lies there must be noise, not a tone as loud as the key's (a chord's third note).
        // Only where the line's stationary noise accounts for what is not the pair (within
        // NOISE_EXPLAINS floors): speech over a quiet line leaves far more than its floor.
        let noisy_line = ms - (p[i] + p[j]) <= NOISE_EXPLAINS * floor_sigma2;
        let fits_above = |sigma2: f64| {
            noisy_line
                && fit_in(sigma2, Some(&self.below_band))
                && !self.tone_below_band(src, back, &tones)
        };
        if !fit(floor_sigma2) && !fits_above(floor_sigma2) {
            return overlay!();
        }
        // 5. Residual spectrum: third components, and the white-noise level.
        let nf = src.freqs().len();
        let nb = nf + self.d.guard_hz.len();
        let mut r2 = [0.0f64; MAX_BANK];
        let (bank_bins, guard_bins) = r2[..nb].split_at_mut(nf);
        self.fit
            .residual_bins(src.freqs(), sums, &tones, m0, bank_bins);
        let wf = w as f64;
        // White noise leaves every bin's residual exponentially distributed with mean W·σ²;
        // the median (ln 2 of the mean) ignores the few bins a tonal interferer fills. Taken on
        // the bank's bins (copied: the selection reorders them).
        let mut sorted = [0.0f64; MAX_BANK];
        sorted[..nf].copy_from_slice(bank_bins);
        let (_, median, _) = sorted[..nf].select_nth_unstable_by(nf / 2, f64::total_cmp);
        let sigma2_in = *median / std::f64::consts::LN_2 / wf;
        // Each tone must stand far enough above the noise in its own bin: noise alone passes
        // the fit (its residual is the noise it allows for), so this is what tells a key in
        // noise from noise. A noise-only bin exceeds ABOVE_NOISE × its mean once in e^10 ≈ 22 000.
        if weaker_bin(&tones, wf) < ABOVE_NOISE * wf * sigma2_in {
            return overlay!();
        }
        // Noise the third-component rule allows for: only what is both stationary (the floor)
        // and white in-band (the median) — speech and music are neither. A noise-only bin
        // exceeds NOISE_BINS × its mean once in e^8 ≈ 3 000.
        let noise_bin = NOISE_BINS * wf * sigma2_in.min(floor_sigma2);
        let third_min = self
            .residual_third
            .map(|t| (weaker_bin(&tones, wf) * t).max(noise_bin));
        // The bank's bins first: a third component there spares the guards' correlation.
        if let Some(t) = third_min {
            if bank_bins.iter().any(|&r| r > t) {
                return overlay!();
            }
        }
        src.with_window_back(back, |x| {
            self.fit
                .residual_direct(x, self.d.guard_hz, &tones, guard_bins)
        });
        if let Some(t) = third_min {
            if guard_bins.iter().any(|&r| r > t) {
                return overlay!();
            }
        }
        let guard_min = (weaker_bin(&tones, wf) * self.guard).max(8.0 * wf * floor_sigma2);
        if r2[nf..nb].iter().any(|&r| r > guard_min) {
            return overlay!();
        }
        // 6. Time-domain fit again if the band says the noise is less. Residual the noise may explain: only noise that is both stationary
        // (the minimum-statistics floor) and white across the band (the residual bins) counts.
        // A chord's steady extra note is not white in-band; speech is not stationary.
        if sigma2_in < floor_sigma2 && !fit(sigma2_in) && !fits_above(sigma2_in) {
            return overlay!();
        }
        self.last_power = p[i] + p[j];
        if self.held == Some(code) {
            // The precise tests hold a held code whose level moved (an AGC or a codec settling,
            // a fade): its power from here on is the reference of the cheap continuation.
            self.held_power = self.last_power;
        }
        Some((code, true))
    }

    /// The verdict of [`OverlayRule`] on a frame that passed steps 1–4 and failed a later one:
    /// `code` as a frame under speech or music, or nothing. On a held key it judges only that
    /// key's frames: under speech the cheap continuation may lose a long key (its reference
    /// power was taken with speech in it), and these frames keep it held.
    #[allow(clippy::too_many_arguments)]
    fn overlay(
        &self,
        src: &impl FrameSource,
        back: usize,
        code: u8,
        tones_at: (usize, usize),
        tones: &[FitTone; 2],
        sums: (&[f32], &[f32]),
        m0: u64,
        pair: f64,
        ms: f64,
        floor_sigma2: f64,
    ) -> Option<(u8, bool)> {
        let rule = self.d.overlay?;
        // It never reports over a held key: another code's frames are not asked.
        if self.held.is_some_and(|h| h != code) || pair < rule.pair_share * ms {
            return None;
        }
        if tones
            .iter()
            .any(|t| t.offset_hz().abs() > rule.freq_tol * t.hz as f64)
        {
            return None;
        }
        // Cheapest first: most frames that get here are windows a key only partly fills (an
        // onset), and they fail on the first quarter, before the residual spectrum is paid for
        // (the other order cost 4 % more instructions on the signal-dense mix).
        if !src.with_window_back(back, |x| self.fit.coherent(x, tones, rule.coherence)) {
            return None;
        }
        let nf = src.freqs().len();
        let nb = nf + self.d.guard_hz.len();
        let mut r2 = [0.0f64; MAX_BANK];
        let (bank_bins, guard_bins) = r2[..nb].split_at_mut(nf);
        self.fit
            .residual_bins(src.freqs(), sums, tones, m0, bank_bins);
        let wf = src.window_len() as f64;
        let mut sorted = [0.0f64; MAX_BANK];
        sorted[..nf].copy_from_slice(bank_bins);
        let (_, median, _) = sorted[..nf].select_nth_unstable_by(nf / 2, f64::total_cmp);
        let sigma2_in = *median / std::f64::consts::LN_2 / wf;
        // The noise rules of the precise path hold here too: each tone well above the in-band
        // noise, third components judged above what stationary white noise leaves.
        let weaker = weaker_bin(tones, wf);
        if weaker < ABOVE_NOISE * wf * sigma2_in {
            return None;
        }
        let third =
            (weaker * self.overlay_third).max(NOISE_BINS * wf * sigma2_in.min(floor_sigma2));
        // A third component counts where it would make another key (the receiver's other tones)
        // or bend this key's tones (their Hann neighbours), and between the groups (the guards:
        // vowel harmonics); not at the other tones' neighbours, where a held note of music a
        // few dB under the key sits without being a key's rival (multimon-ng's rule compares the
        // receiver's own frequencies only). The fit's path keeps the whole bank.
        let rival = |k: usize| {
            (0..self.nt).any(|t| {
                let (a, b, c) = self.idx[t];
                if t == tones_at.0 || t == tones_at.1 {
                    k == b || k == c
                } else {
                    k == a
                }
            })
        };
        if bank_bins
            .iter()
            .enumerate()
            .any(|(k, &r)| r > third && rival(k))
        {
            return None;
        }
        src.with_window_back(back, |x| {
            self.fit
                .residual_direct(x, self.d.guard_hz, tones, guard_bins)
        });
        if guard_bins.iter().any(|&r| r > third) {
            return None;
        }
        Some((code, false))
    }

    /// Whether what lies below the band at the frame `back` ago is a tone within 6 dB of the
    /// weaker of `tones` (not noise): its strongest Hann-windowed probe both that loud and 20 ×
    /// the median probe. Through a Hann window a tone fills 2–3 neighbouring probes and leaves
    /// the rest ≥ 31 dB down; white or pink noise's 8 probes reach 20 × their median about once
    /// in 10⁵ windows. Dial tone sits 10 dB under a key; a chord's third note a few dB under the
    /// pair does not.
    #[cold]
    fn tone_below_band(&self, src: &impl FrameSource, back: usize, tones: &[FitTone; 2]) -> bool {
        let mut r = [0.0f64; BELOW_BAND_HZ.len()];
        src.with_window_back(back, |x| {
            // One pass over the window: each sample weighted once, then turned into every
            // probe's accumulator (a phasor per probe, advanced by its step).
            let w = x.len() as f64;
            let mut step = [(1.0f64, 0.0f64); BELOW_BAND_HZ.len()];
            for (st, &hz) in step.iter_mut().zip(&BELOW_BAND_HZ) {
                let (s, c) = (std::f64::consts::TAU * hz as f64 / crate::units::SAMPLE_RATE as f64)
                    .sin_cos();
                *st = (c, s);
            }
            let mut ph = [(1.0f64, 0.0f64); BELOW_BAND_HZ.len()];
            let mut acc = [(0.0f64, 0.0f64); BELOW_BAND_HZ.len()];
            for (i, &v) in x.iter().enumerate() {
                let v = v as f64 * (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / w).cos());
                for k in 0..BELOW_BAND_HZ.len() {
                    let (pr, pi) = ph[k];
                    acc[k].0 += v * pr;
                    acc[k].1 -= v * pi;
                    let (c, s) = step[k];
                    ph[k] = (pr * c - pi * s, pr * s + pi * c);
                }
            }
            for (o, (re, im)) in r.iter_mut().zip(acc) {
                *o = re * re + im * im;
            }
        });
        let loudest = r.iter().fold(0.0f64, |a, &b| a.max(b));
        let (_, median, _) = r.select_nth_unstable_by(BELOW_BAND_HZ.len() / 2, f64::total_cmp);
        // A tone of phasor B reads |B|·W/2 through a Hann window: its power is weaker_bin / 4.
        let weaker = weaker_bin(tones, src.window_len() as f64) / 4.0;
        loudest > 0.25 * weaker && loudest > 20.0 * *median
    }

    #[inline(always)]
    fn debounce(
        &mut self,
        q: Option<(u8, bool)>,
        frame: u64,
        now: u64,
        w: u64,
        sink: &mut impl FnMut(ToneEvent),
    ) {
        // `strict`: the frame passed the fit; `any`: it passed, or qualified under speech.
        let strict = q.filter(|&(_, s)| s).map(|(c, _)| c);
        let any = q.map(|(c, _)| c);
        match strict {
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
        let overlay = self.d.overlay.map(|r| self.count_overlay(any, r));
        if any.is_some() && any == self.held {
            self.misses = 0;
            self.held_last = now;
            return;
        }
        if self.held.is_some() {
            self.misses += 1;
        }
        let hop = self.d.hop as u64;
        let report = match strict {
            Some(c) if self.cand_run >= self.d.report_frames => Some((c, self.cand_first)),
            // Under speech the pair is weaker evidence: it never takes over from a held key
            // (a loud note on another row during a key is not a new key; a real next key comes
            // after a pause longer than the release).
            _ => match (any, overlay) {
                // The first of the counted frames: the highest bit set.
                // And it reports only on frames an idle line judges (multiples of
                // `report_frames`), so judging only those gives the same events.
                (Some(c), Some(true))
                    if self.held.is_none() && frame.is_multiple_of(self.d.report_frames as u64) =>
                {
                    Some((c, now - (31 - self.ov_bits.leading_zeros()) as u64 * hop))
                }
                _ => None,
            },
        };
        if let Some((c, first)) = report {
            if let Some(old) = self.held.take() {
                sink(ToneEvent::Off {
                    code: old,
                    end: self.held_last,
                    at: now,
                });
            }
            self.held = Some(c);
            self.held_power = self.last_power;
            self.held_start = first.saturating_sub(w);
            self.held_last = now;
            self.misses = 0;
            sink(ToneEvent::On {
                code: c,
                start: self.held_start,
                at: now,
            });
            return;
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

    /// Count this frame into the [`OverlayRule`] span (one bit a frame, the newest lowest):
    /// whether `frames` of the last `span` frames qualified for the same code.
    #[inline(always)]
    fn count_overlay(&mut self, any: Option<u8>, r: OverlayRule) -> bool {
        let mask = u32::MAX >> (32 - r.span.min(32));
        match any {
            Some(c) if self.ov_code == Some(c) => self.ov_bits = ((self.ov_bits << 1) | 1) & mask,
            Some(c) => {
                self.ov_code = Some(c);
                self.ov_bits = 1;
            }
            None => {
                self.ov_bits = (self.ov_bits << 1) & mask;
                if self.ov_bits == 0 {
                    self.ov_code = None;
                }
            }
        }
        any.is_some() && self.ov_bits.count_ones() >= r.frames
    }

    /// Back to the freshly constructed state, keeping its buffers (nothing is allocated).
    pub fn reset(&mut self) {
        self.log.reset();
        self.frame = 0;
        self.to_grid = 0;
        self.unjudged = 0;
        self.cand = None;
        self.cand_run = 0;
        self.cand_first = 0;
        self.held = None;
        self.held_start = 0;
        self.held_last = 0;
        self.misses = 0;
        self.ov_code = None;
        self.ov_bits = 0;
        self.floor = NoiseFloor::new();
        self.last_power = 0.0;
        self.held_power = 0.0;
    }
}

/// A noise-only bin exceeds this many times its mean once in e^10 ≈ 22 000: how far each tone
/// must stand above the in-band noise in its own bin.
const ABOVE_NOISE: f64 = 16.0;

/// A noise-only bin exceeds this many times its mean once in e^8 ≈ 3 000: the noise the
/// third-component rule allows for.
const NOISE_BINS: f64 = 8.0;

/// Floors of noise the share test discounts: coloured noise (pink) swings more from window to
/// window than white, so its minimum statistics read lower; 1.5 covers pink noise's swing.
const SHARE_NOISE: f64 = 1.5;

/// Floors of stationary noise that may account for a window's power beyond the pair before
/// its low part is forgiven the fit (pink noise: its floor reads low, so 2.5, not 1).
const NOISE_EXPLAINS: f64 = 2.5;

/// Probes below the MF and DTMF bands (both start at ~700 Hz), 50 Hz apart.
const BELOW_BAND_HZ: [u32; 8] = [250, 300, 350, 400, 450, 500, 550, 600];

/// The weaker tone's power as a rectangular correlator of `w` samples reads it: a steady tone
/// at full window length reads |B|·W.
fn weaker_bin(tones: &[FitTone; 2], w: f64) -> f64 {
    cabs2(tones[0].b).min(cabs2(tones[1].b)) * w * w
}
