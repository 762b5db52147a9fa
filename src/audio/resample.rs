//! Whole-buffer rate conversion with rubato's FFT resampler (any integer rate ratio), trimmed so
//! that output sample k lines up with input time k/rate_out: the resampler's delay is removed.

use rubato::{FftFixedInOut, Resampler};

/// Samples at `to` Hz that `n_in` samples at `from` Hz last (rounded).
pub fn expected_len(n_in: usize, from: u32, to: u32) -> usize {
    ((n_in as u64 * to as u64 + from as u64 / 2) / from as u64) as usize
}

/// Resample every channel from `from` Hz to `to` Hz. Samples are f32 in 16-bit units.
pub fn resample(channels: &[Vec<f32>], from: u32, to: u32) -> Result<Vec<Vec<f32>>, String> {
    if from == to || channels.is_empty() {
        return Ok(channels.to_vec());
    }
    let n_in = channels[0].len();
    let expected = expected_len(n_in, from, to);
    let mut rs = FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, channels.len())
        .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))?;
    let delay = rs.output_delay();
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(expected + delay + 4096); channels.len()];
    let mut pos = 0;
    loop {
        let need = rs.input_frames_next();
        let chunk: Vec<&[f32]> = channels
            .iter()
            .map(|c| &c[pos.min(n_in)..(pos + need).min(n_in)])
            .collect();
        let produced = if pos + need <= n_in {
            rs.process(&chunk, None)
        } else if pos < n_in {
            rs.process_partial(Some(&chunk), None)
        } else {
            rs.process_partial::<&[f32]>(None, None)
        }
        .map_err(|e| format!("resampling failed: {e}"))?;
        for (o, p) in out.iter_mut().zip(produced) {
            o.extend_from_slice(&p);
        }
        pos += need;
        if out[0].len() >= expected + delay {
            break;
        }
        if pos > n_in + 4 * need {
            break;
        }
    }
    for o in out.iter_mut() {
        o.drain(..delay.min(o.len()));
        o.resize(expected, 0.0);
    }
    Ok(out)
}

/// Streaming rate conversion for live audio (one channel): push any amount, pop what is ready.
/// Runs on an engine thread, never in a sound-card callback (it allocates while warming up).
pub struct Stream {
    rs: Option<FftFixedInOut<f32>>,
    inbuf: Vec<f32>,
    out: std::collections::VecDeque<f32>,
}

impl Stream {
    pub fn new(from: u32, to: u32) -> Result<Stream, String> {
        let rs = if from == to {
            None
        } else {
            Some(
                FftFixedInOut::<f32>::new(from as usize, to as usize, 256, 1)
                    .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))?,
            )
        };
        Ok(Stream {
            rs,
            inbuf: Vec::new(),
            out: std::collections::VecDeque::new(),
        })
    }

    pub fn push(&mut self, x: &[f32]) {
        let Some(rs) = &mut self.rs else {
            self.out.extend(x.iter().copied());
            return;
        };
        self.inbuf.extend_from_slice(x);
        loop {
            let need = rs.input_frames_next();
            if self.inbuf.len() < need {
                break;
            }
            if let Ok(y) = rs.process(&[&self.inbuf[..need]], None) {
                self.out.extend(y[0].iter().copied());
            }
            self.inbuf.drain(..need);
        }
    }

    /// Samples ready.
    pub fn ready(&self) -> usize {
        self.out.len()
    }

    /// Pop `out.len()` samples if that many are ready.
    pub fn pop(&mut self, out: &mut [f32]) -> bool {
        if self.out.len() < out.len() {
            return false;
        }
        let n = out.len();
        for (d, s) in out.iter_mut().zip(self.out.drain(..n)) {
            *d = s;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_48k_tone_keeps_frequency_level_and_timing_at_8k() {
        let f = 1000.0f32;
        let n = 48_000;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                if (4800..24000).contains(&i) {
                    10000.0 * (2.0 * std::f32::consts::PI * f * i as f32 / 48000.0).sin()
                } else {
                    0.0
                }
            })
            .collect();
        let y = resample(&[x], 48_000, 8000).unwrap().remove(0);
        assert_eq!(y.len(), 8000);
        // Onset at 100 ms → sample 800 at 8 kHz, within 1 ms.
        let onset = y.iter().position(|v| v.abs() > 5000.0).unwrap();
        assert!((795..=810).contains(&onset), "onset {onset}");
        let rms: f32 = (y[1200..3600].iter().map(|v| v * v).sum::<f32>() / 2400.0).sqrt();
        assert!((rms - 10000.0 / 2f32.sqrt()).abs() < 100.0, "rms {rms}");
    }
}
