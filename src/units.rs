//! Units of the signalling world: sample time at 8 kHz, and levels in dBm0.
//!
//! Level convention (SpanDSP's, and `docs/signalling.md` preamble): a full-scale 16-bit sine
//! (peak 32767) is +3.14 dBm0. So a 0 dBm0 sine has peak `32767 · 10^(−3.14/20) ≈ 22 826` and mean
//! square `peak²/2`. G.711 μ-law's digital milliwatt agrees within 0.03 dB.

/// The one internal sample rate (Hz). Every other rate is resampled at the edge.
pub const SAMPLE_RATE: u32 = 8000;

/// Level of a full-scale 16-bit sine in dBm0 (a level in dB that happens to read like π).
#[allow(clippy::approx_constant)]
pub const FULL_SCALE_SINE_DBM0: f64 = 3.14;

/// Peak amplitude (16-bit units) of a 0 dBm0 sine.
pub fn zero_dbm0_peak() -> f64 {
    32767.0 * 10f64.powf(-FULL_SCALE_SINE_DBM0 / 20.0)
}

/// Peak amplitude (16-bit units) of a sine at `dbm0`.
pub fn dbm0_to_peak(dbm0: f64) -> f64 {
    zero_dbm0_peak() * 10f64.powf(dbm0 / 20.0)
}

/// Mean square (16-bit units²) of a sine at `dbm0`, i.e. the power of a signal at that level.
pub fn dbm0_to_power(dbm0: f64) -> f64 {
    let p = dbm0_to_peak(dbm0);
    p * p / 2.0
}

/// Level in dBm0 of a signal of mean square `power` (16-bit units²). −inf for silence.
pub fn power_to_dbm0(power: f64) -> f64 {
    10.0 * (power / dbm0_to_power(0.0)).log10()
}

/// Samples at 8 kHz → seconds.
pub fn samples_to_s(n: u64) -> f64 {
    n as f64 / SAMPLE_RATE as f64
}

/// Seconds → samples at 8 kHz (rounded to nearest, never negative).
pub fn s_to_samples(s: f64) -> u64 {
    (s * SAMPLE_RATE as f64).round().max(0.0) as u64
}

/// Samples in one second (8 000).
pub const SECOND: u64 = SAMPLE_RATE as u64;

/// Milliseconds → samples at 8 kHz (rounded to nearest).
pub fn ms_to_samples(ms: f64) -> usize {
    (ms * SAMPLE_RATE as f64 / 1000.0).round().max(0.0) as usize
}

/// A sample value to 16 bits: rounded half away from zero, saturating. Written out because
/// `f32::round` is a libm call on baseline x86-64 and this runs on every sample sent.
#[inline]
pub fn to_i16(v: f32) -> i16 {
    // ½ away from zero with the sign copied rather than branched on (the same value for every
    // input, −0 and NaN included), so a block of them vectorises.
    (v + 0.5f32.copysign(v)) as i16
}

/// As [`to_i16`], from f64.
#[inline]
pub fn to_i16_f64(v: f64) -> i16 {
    (if v >= 0.0 { v + 0.5 } else { v - 0.5 }) as i16
}

/// Samples at 8 kHz → milliseconds.
pub fn samples_to_ms(samples: u64) -> f64 {
    samples as f64 * 1000.0 / SAMPLE_RATE as f64
}

/// Decibels → power ratio.
pub fn db_to_ratio(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_is_plus_3_14_dbm0() {
        let p = 32767.0f64 * 32767.0 / 2.0;
        assert!((power_to_dbm0(p) - FULL_SCALE_SINE_DBM0).abs() < 1e-9);
        assert_eq!(FULL_SCALE_SINE_DBM0.to_string(), "3.14");
    }

    #[test]
    fn to_i16_rounds_half_away_from_zero_and_saturates() {
        for (v, want) in [
            (0.0f32, 0i16),
            (0.4, 0),
            (0.5, 1),
            (-0.5, -1),
            (2.5, 3),
            (-2.6, -3),
            (32767.4, 32767),
            (40000.0, 32767),
            (-40000.0, -32768),
            (f32::NAN, 0),
        ] {
            assert_eq!(to_i16(v), want, "{v}");
            assert_eq!(to_i16_f64(v as f64), want, "{v}");
        }
    }

    #[test]
    fn zero_dbm0_sine_peak_is_22826() {
        assert!((zero_dbm0_peak() - 22_826.0).abs() < 1.0);
        assert!((power_to_dbm0(dbm0_to_power(-7.0)) + 7.0).abs() < 1e-9);
    }
}
