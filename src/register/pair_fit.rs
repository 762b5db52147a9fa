//! The precise half of the two-tone receiver: fit two steady tones to the current window and
//! judge the fit. Runs only on frames that passed the cheap screen ([`super::tone_pair`]).
//!
//! Model: `x[m0+i] ≈ Σ_k 2·Re(B_k·e^{jΩ_k·i})` over the window, two tones of phasor `B_k` at the
//! window start `m0` and frequency `Ω_k = ω_k + δ_k` (rad/sample, ω_k nominal).
//!
//! Every window response `Ŵ(θ) = Σ_{i<W} w[i]·e^{jθi}` is evaluated from `e^{jθ}` and `e^{jθW}`,
//! which for `θ = Ω − ω_f` with integer-Hz `f` come from the exact phasor table and two complex
//! products: one `sin_cos` pair per tone per iteration instead of hundreds — the difference
//! between this path costing more than the correlators and costing less.

use super::tone_pair::Window;
use crate::dsp::correlator::{cabs2, cconj, cmul, C64};
use crate::dsp::phasor;
use crate::units::SAMPLE_RATE;

/// One fitted tone.
#[derive(Debug, Clone, Copy)]
pub struct FitTone {
    pub hz: u32,
    /// Frequency offset from nominal (rad/sample).
    pub delta: f64,
    /// `e^{jΩ}` and `e^{jΩW}`.
    z: C64,
    zw: C64,
    /// Phasor at the window start.
    pub b: C64,
}

impl FitTone {
    pub fn offset_hz(&self) -> f64 {
        self.delta * SAMPLE_RATE as f64 / std::f64::consts::TAU
    }
}

#[derive(Debug, Clone)]
pub struct PairFit {
    window: Window,
    w: usize,
    /// `e^{jΔ}`, Δ = 2π/W: the Hann window's side exponentials.
    e_delta: C64,
    table: &'static [(f64, f64)],
}

fn unit(t: &[(f64, f64)], idx: u32) -> C64 {
    t[idx as usize]
}

impl PairFit {
    pub fn new(window: Window, w: usize) -> Self {
        let d = std::f64::consts::TAU / w as f64;
        PairFit {
            window,
            w,
            e_delta: (d.cos(), d.sin()),
            table: phasor::table(),
        }
    }

    /// `e^{j2πf·m/8000}` from the table.
    fn phase(&self, hz: u32, m: u64) -> C64 {
        unit(self.table, phasor::phase_index(hz, m))
    }

    /// `Ŵ(θ)` from `z = e^{jθ}` and `zw = e^{jθW}`. For Hann, `Ŵ = ½G(θ) − ¼G(θ+Δ) − ¼G(θ−Δ)`
    /// with `G(θ) = (1 − e^{jθW})/(1 − e^{jθ})`, and `e^{j(θ±Δ)W} = e^{jθW}` because `ΔW = 2π`.
    fn response(&self, z: C64, zw: C64) -> C64 {
        let w = self.w as f64;
        let g = |z: C64| -> C64 {
            let den = (1.0 - z.0, -z.1);
            let dd = cabs2(den);
            if dd < 1e-20 {
                return (w, 0.0);
            }
            let num = (1.0 - zw.0, -zw.1);
            let q = cmul(num, cconj(den));
            (q.0 / dd, q.1 / dd)
        };
        match self.window {
            Window::Rect => g(z),
            Window::Hann => {
                let a = g(z);
                let b = g(cmul(z, self.e_delta));
                let c = g(cmul(z, cconj(self.e_delta)));
                (
                    0.5 * a.0 - 0.25 * (b.0 + c.0),
                    0.5 * a.1 - 0.25 * (b.1 + c.1),
                )
            }
        }
    }

    /// `(e^{jΩ}, e^{jΩW})` and `(e^{jδ}, e^{jδW})` for a tone `δ` off `hz`.
    fn geometry(&self, hz: u32, delta: f64) -> ((C64, C64), (C64, C64)) {
        let (s, c) = delta.sin_cos();
        let (sw, cw) = (delta * self.w as f64).sin_cos();
        (
            (
                cmul(self.phase(hz, 1), (c, s)),
                cmul(self.phase(hz, self.w as u64), (cw, sw)),
            ),
            ((c, s), (cw, sw)),
        )
    }

    /// Solve `X_rel,i = Σ_k B_k·Ŵ(Ω_k − ω_i)` (Cramer's rule); `x` are the windowed correlators
    /// (absolute phase) at nominal frequencies for the window starting at `m0`.
    fn solve(
        &self,
        hz: [u32; 2],
        geo: [(C64, C64); 2],
        own: [(C64, C64); 2],
        x: [C64; 2],
        m0: u64,
    ) -> Option<[C64; 2]> {
        let mut xr = [(0.0, 0.0); 2];
        for n in 0..2 {
            xr[n] = cmul(x[n], self.phase(hz[n], m0));
        }
        // M[i][k] = Ŵ(Ω_k − ω_i).
        let m = |i: usize, k: usize| -> C64 {
            if i == k {
                return self.response(own[k].0, own[k].1);
            }
            let zi = cconj(self.phase(hz[i], 1));
            let zwi = cconj(self.phase(hz[i], self.w as u64));
            self.response(cmul(geo[k].0, zi), cmul(geo[k].1, zwi))
        };
        let (m00, m01, m10, m11) = (m(0, 0), m(0, 1), m(1, 0), m(1, 1));
        let a = cmul(m00, m11);
        let c = cmul(m01, m10);
        let det = (a.0 - c.0, a.1 - c.1);
        let dd = cabs2(det);
        if dd < 1e-12 * cabs2(a).max(1e-300) {
            return None;
        }
        let inv = (det.0 / dd, -det.1 / dd);
        let p = cmul(xr[0], m11);
        let q = cmul(xr[1], m01);
        let b0 = cmul((p.0 - q.0, p.1 - q.1), inv);
        let p = cmul(xr[1], m00);
        let q = cmul(xr[0], m10);
        let b1 = cmul((p.0 - q.0, p.1 - q.1), inv);
        Some([b0, b1])
    }

    /// Joint estimate of the two tones from their correlators now and `span` samples earlier.
    ///
    /// Each correlator also hears the other tone through the window's response (at the edges of
    /// the MF accept band two tones can be 140 Hz apart: −12 dB of leakage), which bends both the
    /// phase-advance frequency and the amplitudes. So: start from each correlator's own phase
    /// advance, then twice solve the 2×2 system at both frames and take each `Ω_k` from the
    /// advance of `B_k`.
    pub fn estimate(
        &self,
        hz: [u32; 2],
        now: [C64; 2],
        lag: [C64; 2],
        m0: u64,
        span: usize,
    ) -> Option<[FitTone; 2]> {
        let m0_lag = m0.checked_sub(span as u64)?;
        let span_f = span as f64;
        let mut delta = [0.0f64; 2];
        for n in 0..2 {
            let z = cmul(now[n], cconj(lag[n]));
            delta[n] = z.1.atan2(z.0) / span_f;
        }
        for _ in 0..1 {
            let (g0, o0) = self.geometry(hz[0], delta[0]);
            let (g1, o1) = self.geometry(hz[1], delta[1]);
            let b = self.solve(hz, [g0, g1], [o0, o1], now, m0)?;
            let b_lag = self.solve(hz, [g0, g1], [o0, o1], lag, m0_lag)?;
            for n in 0..2 {
                let z = cmul(b[n], cconj(b_lag[n]));
                let nominal = std::f64::consts::TAU
                    * ((hz[n] as u64 * span as u64) % SAMPLE_RATE as u64) as f64
                    / SAMPLE_RATE as f64;
                let adv = z.1.atan2(z.0) - nominal;
                delta[n] =
                    (adv - std::f64::consts::TAU * (adv / std::f64::consts::TAU).round()) / span_f;
            }
        }
        let (g0, o0) = self.geometry(hz[0], delta[0]);
        let (g1, o1) = self.geometry(hz[1], delta[1]);
        let geo = [g0, g1];
        let b = self.solve(hz, geo, [o0, o1], now, m0)?;
        Some([0, 1].map(|n| FitTone {
            hz: hz[n],
            delta: delta[n],
            z: geo[n].0,
            zw: geo[n].1,
            b: b[n],
        }))
    }

    /// What the two-tone model (images included) puts in a rectangular correlator at `hz` over
    /// the window, phase relative to the window start.
    fn model_at(&self, hz: u32, tones: &[FitTone; 2]) -> C64 {
        let zf = cconj(self.phase(hz, 1));
        let zwf = cconj(self.phase(hz, self.w as u64));
        let mut m = (0.0, 0.0);
        for t in tones {
            let g = |z: C64, zw: C64| -> C64 {
                let den = (1.0 - z.0, -z.1);
                let dd = cabs2(den);
                if dd < 1e-20 {
                    return (self.w as f64, 0.0);
                }
                let q = cmul((1.0 - zw.0, -zw.1), cconj(den));
                (q.0 / dd, q.1 / dd)
            };
            let a = cmul(t.b, g(cmul(t.z, zf), cmul(t.zw, zwf)));
            let c = cmul(cconj(t.b), g(cmul(cconj(t.z), zf), cmul(cconj(t.zw), zwf)));
            m.0 += a.0 + c.0;
            m.1 += a.1 + c.1;
        }
        m
    }

    /// `|S_f − model_f|²` for every bank frequency: what the rectangular correlators see once the
    /// two-tone model (images included) is subtracted. `freqs` are the bank's, `(re, im)` its
    /// rectangular sums for the window at `m0`
    /// ([`crate::dsp::correlator::CorrelatorBank::sums`]).
    pub fn residual_bins(
        &self,
        freqs: &[u32],
        (re, im): (&[f32], &[f32]),
        tones: &[FitTone; 2],
        m0: u64,
        out: &mut [f64],
    ) {
        for (k, &hz) in freqs.iter().enumerate() {
            let m = self.model_at(hz, tones);
            let rel = cmul((re[k] as f64, im[k] as f64), self.phase(hz, m0));
            out[k] = cabs2((rel.0 - m.0, rel.1 - m.1));
        }
    }

    /// The same residual at frequencies no correlator keeps (the guards), each correlated with
    /// the window's `samples` directly (Goertzel, in f64): paid only by the frames that get this
    /// far, where a correlator would be paid on every hop.
    pub fn residual_direct(
        &self,
        samples: &[i16],
        freqs: &[u32],
        tones: &[FitTone; 2],
        out: &mut [f64],
    ) {
        for (o, f) in out.chunks_mut(4).zip(freqs.chunks(4)) {
            self.residual_direct_4(samples, f, tones, o);
        }
    }

    /// [`PairFit::residual_direct`] for up to 4 frequencies, their recurrences interleaved in
    /// one pass over the samples (each lane the same operations in the same order as alone: the
    /// same bits, a quarter of the loop overhead and room for SIMD).
    fn residual_direct_4(
        &self,
        samples: &[i16],
        freqs: &[u32],
        tones: &[FitTone; 2],
        out: &mut [f64],
    ) {
        let mut cs = [(1.0, 0.0); 4];
        let mut coeff = [0.0f64; 4];
        for (g, &hz) in freqs.iter().enumerate() {
            cs[g] = self.phase(hz, 1);
            coeff[g] = 2.0 * cs[g].0;
        }
        let (mut s1, mut s2) = ([0.0f64; 4], [0.0f64; 4]);
        for &x in samples {
            let x = x as f64;
            for g in 0..4 {
                let s0 = x + coeff[g] * s1[g] - s2[g];
                s2[g] = s1[g];
                s1[g] = s0;
            }
        }
        for (g, (o, &hz)) in out.iter_mut().zip(freqs).enumerate() {
            let (c, s) = cs[g];
            // Σ x_i e^{−jωi} = e^{−jω(N−1)}·(s_{N−1} − e^{−jω}·s_{N−2}).
            let y = (s1[g] - c * s2[g], s * s2[g]);
            let back = cconj(self.phase(hz, samples.len() as u64 - 1));
            let rel = cmul(back, y);
            let m = self.model_at(hz, tones);
            *o = cabs2((rel.0 - m.0, rel.1 - m.1));
        }
    }

    /// Whether each tone is present coherently in each quarter of the window: its projection
    /// there at least `least` of its fitted amplitude (1 for a steady tone, near 0 in a quarter
    /// the tone does not fill). The projection is taken on the residual (the other tone taken
    /// out), so the two tones do not read each other. The first and last quarters are judged
    /// first: a window a key only partly fills (an onset, an end) fails on one of them.
    pub fn coherent(&self, samples: &[i16], tones: &[FitTone; 2], least: f64) -> bool {
        let quarter = samples.len() / 4;
        let norm = tones.map(|t| quarter as f64 * cabs2(t.b));
        // e^{jΩ·quarter} for each tone, to start any quarter's phasors.
        let hop = tones.map(|t| cpow(t.z, quarter));
        for k in [0, 3, 1, 2] {
            let mut z = [0, 1].map(|t| {
                let mut b = (2.0 * tones[t].b.0, 2.0 * tones[t].b.1);
                for _ in 0..k {
                    b = cmul(b, hop[t]);
                }
                b
            });
            // Re Σ e·conj(u) for each tone u = B·z^n (the real tone is u + ū = z.0 here).
            let mut proj = [0.0f64; 2];
            for &s in &samples[k * quarter..(k + 1) * quarter] {
                let e = s as f64 - (z[0].0 + z[1].0);
                proj[0] += e * z[0].0;
                proj[1] += e * z[1].0;
                z[0] = cmul(z[0], tones[0].z);
                z[1] = cmul(z[1], tones[1].z);
            }
            // Fails closed: a tone fitted at zero amplitude (0/0) is not present.
            if (0..2).any(|t| {
                let c = 1.0 + 0.5 * proj[t] / norm[t];
                c.is_nan() || c < least
            }) {
                return false;
            }
        }
        true
    }

    /// Rebuild the two tones over the window (`samples`, oldest first) and require, in each
    /// quarter, residual ≤ `ratio`·max(model energy, `floor`·mean model energy) + `noise`.
    ///
    /// With `hp`, the residual is high-passed first: what lies below it (hum, the low end of pink
    /// noise, dial tone) is not held against the fit.
    pub fn fits(
        &self,
        samples: &[i16],
        tones: &[FitTone; 2],
        ratio: f64,
        floor: f64,
        noise: f64,
        hp: Option<&HighPass>,
    ) -> bool {
        let mut state = [0.0f64; 4];
        let mut z = tones.map(|t| (2.0 * t.b.0, 2.0 * t.b.1));
        let step = tones.map(|t| t.z);
        let quarter = samples.len() / 4;
        // Mean model energy per quarter, analytically (each tone of amplitude 2|B| carries
        // 2|B|² per sample; the beat between them averages out over a quarter).
        let mean = 2.0 * (cabs2(tones[0].b) + cabs2(tones[1].b)) * quarter as f64;
        let allow = noise * quarter as f64;
        // Quarter by quarter, stopping at the first that fails.
        for q in samples.chunks_exact(quarter) {
            let (mut resid, mut model) = (0.0f64, 0.0f64);
            for &s in q {
                let m = z[0].0 + z[1].0;
                let mut e = s as f64 - m;
                if let Some(h) = hp {
                    e = h.step(e, &mut state);
                }
                resid += e * e;
                model += m * m;
                z[0] = cmul(z[0], step[0]);
                z[1] = cmul(z[1], step[1]);
            }
            if resid > ratio * model.max(floor * mean) + allow {
                return false;
            }
        }
        true
    }
}

/// `z^n` by squaring.
fn cpow(mut z: C64, mut n: usize) -> C64 {
    let mut r = (1.0, 0.0);
    while n > 0 {
        if n & 1 == 1 {
            r = cmul(r, z);
        }
        z = cmul(z, z);
        n >>= 1;
    }
    r
}

/// A second-order Butterworth high-pass (RBJ biquad, direct form I), for the fit's residual.
#[derive(Debug, Clone, Copy)]
pub struct HighPass {
    b: [f64; 3],
    a: [f64; 2],
}

impl HighPass {
    pub fn new(cutoff_hz: f64) -> Self {
        let w = std::f64::consts::TAU * cutoff_hz / SAMPLE_RATE as f64;
        let alpha = w.sin() / std::f64::consts::SQRT_2;
        let c = w.cos();
        let a0 = 1.0 + alpha;
        HighPass {
            b: [(1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
        }
    }

    /// One sample through; `st` is (x[n−1], x[n−2], y[n−1], y[n−2]).
    #[inline(always)]
    fn step(&self, x: f64, st: &mut [f64; 4]) -> f64 {
        let y = self.b[0] * x + self.b[1] * st[0] + self.b[2] * st[1]
            - self.a[0] * st[2]
            - self.a[1] * st[3];
        *st = [x, st[0], y, st[2]];
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::correlator::{hann_from, CorrelatorBank};

    /// The guards' residual, correlated with the samples directly, is the residual a bank
    /// correlator at the same frequency gives: taken at every frequency of an MF bank over a
    /// clean 900 + 1300 Hz window (where the model is large and a wrong phase reference would
    /// leave twice the signal), then with a third tone at 1000 Hz.
    #[test]
    fn direct_residual_is_the_bank_correlators_residual() {
        let freqs: Vec<u32> = (6..=18).map(|k| k * 100).collect();
        let (hop, blocks) = (10, 8);
        let w = hop * blocks;
        let fit = PairFit::new(Window::Hann, w);
        for third in [0.0, 2000.0] {
            let x: Vec<i16> = (0..4000)
                .map(|n| {
                    let t = n as f64 / 8000.0;
                    let s = 6000.0 * (std::f64::consts::TAU * 903.0 * t + 0.3).sin()
                        + 5000.0 * (std::f64::consts::TAU * 1296.0 * t + 1.1).sin()
                        + third * (std::f64::consts::TAU * 1000.0 * t).sin();
                    s.round() as i16
                })
                .collect();
            let mut bank = CorrelatorBank::new(&freqs, hop, blocks).with_lookback(2);
            let idx = [(3, 2, 4), (7, 6, 8)];
            let mut hist: Vec<[C64; 2]> = Vec::new();
            let mut rest = &x[..];
            let mut checked = 0;
            while !rest.is_empty() {
                if !bank.feed(&mut rest) {
                    continue;
                }
                let mut now = [(0.0, 0.0); 2];
                hann_from(bank.sums(), bank.delta_phase(), &idx, &mut now);
                hist.push(now);
                if hist.len() < 20 {
                    continue;
                }
                let lag = hist[hist.len() - 3];
                let m0 = bank.now() - w as u64;
                let tones = fit
                    .estimate([900, 1300], now, lag, m0, 2 * hop)
                    .expect("fit");
                let mut by_bank = vec![0.0; freqs.len()];
                let mut direct = vec![0.0; freqs.len()];
                fit.residual_bins(&freqs, bank.sums(), &tones, m0, &mut by_bank);
                fit.residual_direct(bank.window(), &freqs, &tones, &mut direct);
                let scale = cabs2(tones[0].b) * (w * w) as f64;
                for (k, (a, b)) in by_bank.iter().zip(&direct).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-4 * scale,
                        "{} Hz: bank {a:.4e}, direct {b:.4e} (tone {scale:.4e})",
                        freqs[k]
                    );
                }
                if third == 0.0 {
                    assert!(direct[3] < 1e-3 * scale, "900 Hz left {:e}", direct[3]);
                } else {
                    let most = direct.iter().fold(0.0f64, |a, &b| a.max(b));
                    assert!(most > 1e-3 * scale, "the third tone left no residual");
                }
                checked += 1;
            }
            assert!(checked > 300);
        }
    }
}
