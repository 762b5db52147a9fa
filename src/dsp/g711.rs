//! G.711 μ-law and A-law companding (ITU-T G.711), used for WAV decoding at the edge and for the
//! generator's "G.711 round trip" impairment. Encoders take 16-bit linear samples; decoders return
//! 16-bit linear samples (the 13/14-bit G.711 values shifted up).

const MULAW_BIAS: i32 = 0x84;
const MULAW_CLIP: i32 = 32635;

/// Encode one 16-bit linear sample to μ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    if s > MULAW_CLIP {
        s = MULAW_CLIP;
    }
    s += MULAW_BIAS;
    let exponent = (31 - (s as u32).leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decode one μ-law byte to 16-bit linear.
pub fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encode one 16-bit linear sample to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let (mut s, mask) = if sample >= 0 {
        (sample as i32, 0xD5u8)
    } else {
        (-(sample as i32) - 1, 0x55u8)
    };
    if s > 32767 {
        s = 32767;
    }
    let code = if s < 256 {
        (s >> 4) as u8
    } else {
        let exponent = (31 - (s as u32).leading_zeros() as i32 - 7).clamp(1, 7);
        ((exponent << 4) as u8) | ((s >> (exponent + 3)) & 0x0F) as u8
    };
    code ^ mask
}

/// Decode one A-law byte to 16-bit linear.
pub fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let exponent = ((a & 0x70) >> 4) as i32;
    let mantissa = (a & 0x0F) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Which companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    Ulaw,
    Alaw,
}

impl Law {
    /// Encode then decode: what a sample sounds like after crossing a G.711 link.
    pub fn round_trip(self, sample: i16) -> i16 {
        match self {
            Law::Ulaw => ulaw_to_linear(linear_to_ulaw(sample)),
            Law::Alaw => alaw_to_linear(linear_to_alaw(sample)),
        }
    }

    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_to_linear(code),
            Law::Alaw => alaw_to_linear(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from the G.711 tables (ITU-T G.711 Table 2a/1a, 16-bit scaled):
    // μ-law 0xFF = 0, 0x80 = +32124, 0x00 = −32124; A-law 0xD5 = +8, 0x2A = −32256, 0xAA = +32256.
    #[test]
    fn ulaw_table_points() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(32767), 0x80);
    }

    #[test]
    fn alaw_table_points() {
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_alaw(0), 0xD5);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let lin = ulaw_to_linear(code);
            // 0x7F and 0xFF are both zero in μ-law.
            if code != 0x7F {
                assert_eq!(linear_to_ulaw(lin), code, "ulaw {code:#x}");
            }
            assert_eq!(linear_to_alaw(alaw_to_linear(code)), code, "alaw {code:#x}");
        }
    }

    #[test]
    fn quantisation_error_is_within_half_a_step() {
        // μ-law steps double per segment; relative error stays under ~3.2 % above segment 0.
        for x in (200..32000).step_by(37) {
            let y = Law::Ulaw.round_trip(x as i16) as f64;
            assert!((y - x as f64).abs() / (x as f64) < 0.035, "{x} -> {y}");
            let z = Law::Alaw.round_trip(x as i16) as f64;
            assert!((z - x as f64).abs() / (x as f64) < 0.035, "{x} -> {z}");
        }
    }
}
