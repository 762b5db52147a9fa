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

    /// `|S_f − model_f|²` for every bank frequency: what the rectangular correlators see once the
    /// two-tone model (images included) is subtracted.
    /// `freqs` are the bank's, `(re, im)` its rectangular sums for the window at `m0`
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
            let rel = cmul((re[k] as f64, im[k] as f64), self.phase(hz, m0));
            out[k] = cabs2((rel.0 - m.0, rel.1 - m.1));
        }
    }

    /// Rebuild the two tones over the window (`samples`, oldest first) and require, in each
    /// quarter, residual ≤ `ratio`·max(model energy, `floor`·mean model energy) + `noise`.
    pub fn fits(
        &self,
        samples: &[i16],
        tones: &[FitTone; 2],
        ratio: f64,
        floor: f64,
        noise: f64,
    ) -> bool {
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
                let e = s as f64 - m;
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
