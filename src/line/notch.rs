//! The voice-path notch that keeps 2600 Hz out of the talk path while SF is in use
//! (`docs/signalling.md`: 2600 ± 20 Hz down ≥ 30 dB; we also keep 300–2400 Hz within
//! 1 dB).
//!
//! One biquad notch cannot do both: to pass 2400 Hz within 1 dB its −3 dB width must be under
//! ~200 Hz, but to take 30 dB out at ±20 Hz it must be over ~1 200 Hz. So five narrow notches
//! (40 Hz wide each) sit at 2580, 2590, 2600, 2610 and 2620 Hz: anywhere in the band at least two
//! are within 5–10 Hz and together give ≥ 30 dB, while at 2400 Hz each costs only ~0.05 dB.

use crate::units::SAMPLE_RATE;

const CENTRES_HZ: [f64; 5] = [2580.0, 2590.0, 2600.0, 2610.0, 2620.0];
const WIDTH_HZ: f64 = 40.0;

#[derive(Debug, Clone, Copy)]
struct Biquad {
    b1: f64,
    a1: f64,
    a2: f64,
    z1: f64,
    z2: f64,
}

impl Biquad {
    /// Notch `(1 − 2cos ω₀ z⁻¹ + z⁻²)/(1 − 2r cos ω₀ z⁻¹ + r² z⁻²)`, pole radius from the width.
    fn notch(hz: f64, width_hz: f64) -> Self {
        let w0 = std::f64::consts::TAU * hz / SAMPLE_RATE as f64;
        let r = 1.0 - std::f64::consts::PI * width_hz / SAMPLE_RATE as f64;
        Biquad {
            b1: -2.0 * w0.cos(),
            a1: -2.0 * r * w0.cos(),
            a2: r * r,
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// Transposed direct form II; numerator `1 + b1 z⁻¹ + z⁻²`. The gain at DC is slightly above 1
    /// (the poles sit inside the zeros), which is fine for a voice path.
    #[inline]
    fn run(&mut self, x: f64) -> f64 {
        let y = x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = x - self.a2 * y;
        y
    }

    fn response(&self, hz: f64) -> f64 {
        let w = std::f64::consts::TAU * hz / SAMPLE_RATE as f64;
        let z1 = (w.cos(), -w.sin());
        let z2 = ((2.0 * w).cos(), -(2.0 * w).sin());
        let num = (1.0 + self.b1 * z1.0 + z2.0, self.b1 * z1.1 + z2.1);
        let den = (
            1.0 + self.a1 * z1.0 + self.a2 * z2.0,
            self.a1 * z1.1 + self.a2 * z2.1,
        );
        ((num.0 * num.0 + num.1 * num.1) / (den.0 * den.0 + den.1 * den.1)).sqrt()
    }
}

/// The 2600 Hz voice-path notch.
#[derive(Debug, Clone)]
pub struct SfNotch {
    stages: [Biquad; 5],
}

impl Default for SfNotch {
    fn default() -> Self {
        SfNotch {
            stages: CENTRES_HZ.map(|c| Biquad::notch(c, WIDTH_HZ)),
        }
    }
}

impl SfNotch {
    /// Filter in place.
    pub fn process(&mut self, samples: &mut [i16]) {
        for s in samples.iter_mut() {
            let mut v = *s as f64;
            for st in self.stages.iter_mut() {
                v = st.run(v);
            }
            *s = crate::units::to_i16_f64(v);
        }
    }

    /// Filter `x` into `out` (same length) without rounding: the conference bridge sums in float.
    pub fn filter_into(&mut self, x: &[i16], out: &mut [f32]) {
        for (d, &s) in out.iter_mut().zip(x) {
            let mut v = s as f64;
            for st in self.stages.iter_mut() {
                v = st.run(v);
            }
            *d = v as f32;
        }
    }

    /// Magnitude response at `hz` (analytic), in dB.
    pub fn response_db(&self, hz: f64) -> f64 {
        20.0 * self
            .stages
            .iter()
            .map(|s| s.response(hz))
            .product::<f64>()
            .log10()
    }
}
