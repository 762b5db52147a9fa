//! The attendant at a PSAP position whose audio nobody provides (`route` without `--psap-in`, a
//! `SUPV NONE` PSAP in `simulate`, `live trunk`'s PSAPs): it follows the tandem's out-of-band
//! signals as an unsupervised position's far end does. The tandem seizes the position → a wink
//! 150 ms later, 200 ms long (docs/call-processing.md); the tandem sends its spill → an answer
//! 500 ms after the spill ends; a hang-up `hold` after answering. It works on any source
//! ([`WithAttendants`]), like any other far end: the tandem has no model inside.

use crate::engine::{Lead, LineSignal, Source};
use crate::units::ms_to_samples;

/// A modelled attendant hangs up this long after answering (ms), as `simulate`'s attendant does
/// by default.
pub const HOLD_MS: f64 = 20_000.0;

/// The attendants of every position the tandem signals out of band.
#[derive(Debug, Clone, Copy)]
pub struct Attendants {
    /// From the seizure to the end of the wink (samples).
    wink_at: u64,
    wink_len: u64,
    /// From the end of the spill to the answer.
    answer_after: u64,
    /// From the answer to the hang-up.
    hold: u64,
}

impl Attendants {
    /// Attendants that hang up `hold` samples after answering.
    pub fn new(hold: u64) -> Self {
        let s = |ms: f64| ms_to_samples(ms) as u64;
        Attendants {
            wink_at: s(350.0),
            wink_len: s(200.0),
            answer_after: s(500.0),
            hold,
        }
    }

    /// What the attendants do about the tandem's `notices`: their signals go to `line`.
    pub fn hear(&self, notices: &[LineSignal], line: &mut Vec<LineSignal>) {
        for &(port, at, lead) in notices {
            match lead {
                Lead::OffHook => {
                    line.push((port, at + self.wink_at, Lead::Wink { len: self.wink_len }))
                }
                Lead::Spill { len } => {
                    let answer = at + len + self.answer_after;
                    line.push((port, answer, Lead::OffHook));
                    line.push((port, answer + self.hold, Lead::OnHook));
                }
                Lead::OnHook | Lead::Wink { .. } => {}
            }
        }
    }
}

/// A source with attendants at the positions the tandem signals out of band.
pub struct WithAttendants<S> {
    pub inner: S,
    pub attendants: Attendants,
}

impl<S: Source> Source for WithAttendants<S> {
    fn step(
        &mut self,
        now: u64,
        from_tandem: &[&[i16]],
        notices: &[LineSignal],
        out: &mut [&mut [i16]],
        valid: &mut [usize],
        line: &mut Vec<LineSignal>,
    ) {
        self.inner.step(now, from_tandem, notices, out, valid, line);
        self.attendants.hear(notices, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seized_position_winks_then_answers_after_the_spill_and_hangs_up_after_hold() {
        let a = Attendants::new(1000);
        let mut line = Vec::new();
        a.hear(&[(7, 80, Lead::OffHook)], &mut line);
        assert_eq!(line, [(7, 80 + 2800, Lead::Wink { len: 1600 })]);
        line.clear();
        a.hear(&[(7, 3000, Lead::Spill { len: 5000 })], &mut line);
        assert_eq!(
            line,
            [
                (7, 3000 + 5000 + 4000, Lead::OffHook),
                (7, 12_000 + 1000, Lead::OnHook)
            ]
        );
    }
}
