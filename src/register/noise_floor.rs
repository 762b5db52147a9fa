//! The stationary noise floor a two-tone receiver allows for in its fit test.

/// Stationary noise floor: the minimum window power over the last ~400 ms (8 segments of 40
/// frames), as in minimum-statistics noise estimation. Speech and music fall to near silence
/// between syllables and notes, so their floor stays low and the fit test keeps its full power
/// against them; steady white noise keeps the floor at about 0.65 × its power (the minimum of
/// ~40 independent 80-sample windows, see [`NoiseFloor::BIAS`]), and the fit test allows that much residual, which
/// is what lets a spill through −9 dBm0 of white noise (signalling.md §1).
#[derive(Debug, Clone)]
#[repr(C)]
pub struct NoiseFloor {
    cur: f64,
    count: u32,
    pos: usize,
    segs: [f64; 8],
}

impl NoiseFloor {
    const SEG_FRAMES: u32 = 40;
    /// Expected floor / true noise power for white noise (minimum of ~40 windows of 80 samples:
    /// mean − 2.2 σ of a χ²₈₀/80 variable ≈ 0.65).
    pub const BIAS: f64 = 0.65;

    pub fn new() -> Self {
        NoiseFloor {
            segs: [f64::INFINITY; 8],
            cur: f64::INFINITY,
            count: 0,
            pos: 0,
        }
    }

    pub fn push(&mut self, ms: f64) {
        self.cur = self.cur.min(ms);
        self.count += 1;
        if self.count == Self::SEG_FRAMES {
            self.segs[self.pos] = self.cur;
            self.pos = (self.pos + 1) % self.segs.len();
            self.cur = f64::INFINITY;
            self.count = 0;
        }
    }

    /// Mean square of the floor (16-bit units²).
    pub fn get(&self) -> f64 {
        let m = self.segs.iter().fold(self.cur, |a, &b| a.min(b));
        if m.is_finite() {
            m
        } else {
            0.0
        }
    }
}

impl Default for NoiseFloor {
    fn default() -> Self {
        Self::new()
    }
}
