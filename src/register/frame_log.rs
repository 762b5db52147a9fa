//! The last few frames of a two-tone receiver, kept so a frame can be judged after later ones.
//!
//! While nothing is happening on a line (no candidate, nothing held) the receiver judges only
//! every `report_frames`-th frame: a code needs that many consecutive qualifying frames, so any
//! run long enough to matter contains a judged frame. When a judged frame qualifies, the frames
//! skipped since the last judged one are judged now, oldest first, from this log — exactly what
//! judging them at the time would have given, because a frame's verdict depends only on what is
//! logged here (the bank's sums, the window's power and noise floor, the Hann phase) and on the
//! samples, which the bank keeps readable that far back
//! ([`crate::dsp::correlator::CorrelatorBank::with_lookback`]).

use crate::dsp::correlator::CorrelatorBank;

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
    /// [`CorrelatorBank::delta_phase`] at the frame.
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
    pub fn new(bank: &CorrelatorBank, depth: usize) -> Self {
        let width = bank.sums().0.len();
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
    pub fn push(&mut self, bank: &CorrelatorBank, ms: f64, floor: f64) {
        let p = self.advance();
        let w = self.width;
        let (re, im) = bank.sums();
        let row = &mut self.sums[p * 2 * w..(p + 1) * 2 * w];
        let (r, i) = row.split_at_mut(w);
        // Four lanes at a time (the sums are padded to that): a loop the compiler keeps inline,
        // where a copy of run-time length is a call to memmove.
        for (d, s) in r.chunks_exact_mut(4).zip(re.chunks_exact(4)) {
            d.copy_from_slice(s);
        }
        for (d, s) in i.chunks_exact_mut(4).zip(im.chunks_exact(4)) {
            d.copy_from_slice(s);
        }
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
    pub fn get(&self, back: usize) -> Option<(FrameMeta, (&[f32], &[f32]))> {
        let depth = self.meta.len();
        if back >= depth {
            return None;
        }
        let p = (self.pos + depth - back) % depth;
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
