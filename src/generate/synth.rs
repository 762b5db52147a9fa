//! Channel synthesis with ground truth.
//!
//! Tones are summed in f64 at 8 kHz with a random (seeded) initial phase and hard edges, like the
//! SpanDSP senders. Impairments applied at [`ChannelSynth::finish`]: white Gaussian noise at a
//! total level in dBm0, dropouts (samples zeroed), and a G.711 round trip; then clipping to 16 bits.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::dsp::g711::Law;
use crate::register::dtmf::dtmf_freqs;
use crate::register::mf::{self, MfSignal};
use crate::units::{dbm0_to_peak, dbm0_to_power, ms_to_samples, SAMPLE_RATE};

/// A signal the synthesiser placed: what a perfect receiver would report.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub kind: &'static str,
    pub signal: String,
    /// First sample of the signal (earliest tone).
    pub start: u64,
    /// One past the last sample (latest tone).
    pub end: u64,
}

/// Bell MF sender settings (signalling.md §1 defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct MfParams {
    /// Level of each tone (dBm0) before twist.
    pub level: f64,
    /// Higher tone minus lower tone (dB); the lower tone stays at `level`.
    pub twist: f64,
    /// Duration of KP (ms).
    pub kp_ms: f64,
    /// Duration of every other signal (ms).
    pub on_ms: f64,
    /// Silence between signals (ms).
    pub gap_ms: f64,
    /// Frequency offset of the lower / higher tone (%).
    pub dev_low: f64,
    pub dev_high: f64,
    /// The higher tone starts and stops this much later (ms; negative: earlier).
    pub skew_ms: f64,
}

impl Default for MfParams {
    fn default() -> Self {
        MfParams {
            level: mf::SENDER_DBM0,
            twist: 0.0,
            kp_ms: mf::KP_MS,
            on_ms: mf::SIGNAL_MS,
            gap_ms: mf::GAP_MS,
            dev_low: 0.0,
            dev_high: 0.0,
            skew_ms: 0.0,
        }
    }
}

/// DTMF sender settings (PSAP keypad model, signalling.md §2).
#[derive(Debug, Clone, PartialEq)]
pub struct DtmfParams {
    pub level_low: f64,
    pub level_high: f64,
    pub on_ms: f64,
    pub off_ms: f64,
    pub dev_low: f64,
    pub dev_high: f64,
    pub skew_ms: f64,
}

impl Default for DtmfParams {
    fn default() -> Self {
        DtmfParams {
            level_low: -6.0,
            level_high: -4.0,
            on_ms: 70.0,
            off_ms: 70.0,
            dev_low: 0.0,
            dev_high: 0.0,
            skew_ms: 0.0,
        }
    }
}

/// Whole-channel impairments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Impairments {
    /// White Gaussian noise, total level (dBm0).
    pub noise_dbm0: Option<f64>,
    /// Spans zeroed: (start sample, length in samples).
    pub dropouts: Vec<(u64, u64)>,
    pub g711: Option<Law>,
}

/// 2600 Hz SF sender settings (signalling.md §3 defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct SfParams {
    /// Idle (on-hook) tone level, dBm0.
    pub idle_level: f64,
    /// Pulse, flash and wink bursts, dBm0.
    pub burst_level: f64,
}

impl Default for SfParams {
    fn default() -> Self {
        SfParams {
            idle_level: crate::line::sf::IDLE_DBM0,
            burst_level: crate::line::sf::BURST_DBM0,
        }
    }
}

/// Dial-pulse sender settings: default 10 pps, 60 % break, 700 ms between digits.
#[derive(Debug, Clone, PartialEq)]
pub struct DpParams {
    pub pps: f64,
    pub break_pct: f64,
    pub interdigit_ms: f64,
    pub level: f64,
}

impl Default for DpParams {
    fn default() -> Self {
        DpParams {
            pps: 10.0,
            break_pct: 60.0,
            interdigit_ms: 700.0,
            level: crate::line::sf::BURST_DBM0,
        }
    }
}

/// Pulses for a dialled digit (`0` is ten).
pub fn pulses_of(ch: char) -> Result<u32, String> {
    match ch.to_digit(10) {
        Some(0) => Ok(10),
        Some(d) => Ok(d),
        None => Err(format!("`{ch}` cannot be dial-pulsed (digits 0–9 only)")),
    }
}

/// The dial-pulse sender's limits: 1–40 pulses per second, 5–95 % break.
pub fn check_dial_pulses(pps: f64, break_pct: f64) -> Result<(), String> {
    if !(1.0..=40.0).contains(&pps) || !(5.0..=95.0).contains(&break_pct) {
        return Err(format!(
            "dial pulses: pps {pps} (1–40), break {break_pct} % (5–95)"
        ));
    }
    Ok(())
}

/// Builds one channel.
#[derive(Debug, Clone)]
pub struct ChannelSynth {
    /// The SF tone, when on: from where, at what level.
    sf: Option<(u64, f64)>,
    buf: Vec<f64>,
    /// Where the next signal goes (samples).
    pub cursor: u64,
    pub truth: Vec<Truth>,
    rng: StdRng,
    /// Most samples this channel may hold; past it nothing is allocated or written and
    /// [`ChannelSynth::over_limit`] says how long the channel asked to be.
    limit: u64,
    over: Option<u64>,
}

impl ChannelSynth {
    pub fn new(seed: u64) -> Self {
        ChannelSynth {
            sf: None,
            buf: Vec::new(),
            cursor: 0,
            truth: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
            limit: u64::MAX,
            over: None,
        }
    }

    /// Hold at most `samples` (checked before allocating).
    pub fn set_limit(&mut self, samples: u64) {
        self.limit = samples;
    }

    /// The length (samples) asked for beyond the limit, if any was.
    pub fn over_limit(&self) -> Option<u64> {
        self.over
    }

    /// Room for `len` samples; false (nothing allocated) past the limit.
    fn ensure(&mut self, len: u64) -> bool {
        if len > self.limit {
            self.over = Some(self.over.unwrap_or(0).max(len));
            return false;
        }
        if self.buf.len() < len as usize {
            self.buf.resize(len as usize, 0.0);
        }
        true
    }

    /// Add a sine at `hz` and `dbm0` over `[start, start+len)` with a random phase.
    pub fn tone(&mut self, start: u64, len: u64, hz: f64, dbm0: f64) {
        let phase = self.rng.gen::<f64>() * std::f64::consts::TAU;
        self.tone_with_phase(start, len, hz, dbm0, phase);
    }

    pub fn tone_with_phase(&mut self, start: u64, len: u64, hz: f64, dbm0: f64, phase: f64) {
        if !self.ensure(start.saturating_add(len)) {
            return;
        }
        let a = dbm0_to_peak(dbm0);
        let w = std::f64::consts::TAU * hz / SAMPLE_RATE as f64;
        for (i, s) in self.buf[start as usize..(start + len) as usize]
            .iter_mut()
            .enumerate()
        {
            *s += a * (w * i as f64 + phase).sin();
        }
    }

    /// Two tones with skew, at the cursor; records truth; advances the cursor past the later tone.
    #[allow(clippy::too_many_arguments)]
    fn pair(
        &mut self,
        kind: &'static str,
        signal: String,
        f: (f64, f64),
        lv: (f64, f64),
        on_ms: f64,
        skew_ms: f64,
    ) {
        let len = ms_to_samples(on_ms) as u64;
        let skew = ms_to_samples(skew_ms.abs()) as u64;
        let (s_lo, s_hi) = if skew_ms >= 0.0 {
            (self.cursor, self.cursor + skew)
        } else {
            (self.cursor + skew, self.cursor)
        };
        self.tone(s_lo, len, f.0, lv.0);
        self.tone(s_hi, len, f.1, lv.1);
        let start = s_lo.min(s_hi);
        let end = s_lo.max(s_hi) + len;
        self.truth.push(Truth {
            kind,
            signal,
            start,
            end,
        });
        self.cursor = end;
    }

    /// A Bell MF sequence at the cursor.
    pub fn mf(&mut self, signals: &[MfSignal], p: &MfParams) {
        for (k, &s) in signals.iter().enumerate() {
            if k > 0 {
                self.silence(p.gap_ms);
            }
            let (lo, hi) = s.freqs();
            let on = if s == MfSignal::KP { p.kp_ms } else { p.on_ms };
            self.pair(
                "mf",
                s.name().to_string(),
                (
                    lo as f64 * (1.0 + p.dev_low / 100.0),
                    hi as f64 * (1.0 + p.dev_high / 100.0),
                ),
                (p.level, p.level + p.twist),
                on,
                p.skew_ms,
            );
        }
    }

    /// DTMF keys at the cursor, each followed by `off_ms` of silence.
    pub fn dtmf(&mut self, keys: &str, p: &DtmfParams) -> Result<(), String> {
        for key in keys.chars() {
            let (lo, hi) = dtmf_freqs(key).ok_or_else(|| format!("`{key}` is not a DTMF key"))?;
            self.pair(
                "dtmf",
                key.to_ascii_uppercase().to_string(),
                (
                    lo as f64 * (1.0 + p.dev_low / 100.0),
                    hi as f64 * (1.0 + p.dev_high / 100.0),
                ),
                (p.level_low, p.level_high),
                p.on_ms,
                p.skew_ms,
            );
            self.silence(p.off_ms);
        }
        Ok(())
    }

    /// SF tone on from the cursor (on-hook), at `level` dBm0, until [`ChannelSynth::sf_off`].
    pub fn sf_on(&mut self, level: f64) {
        self.sf_off();
        self.sf = Some((self.cursor, level));
    }

    /// SF tone off from the cursor (off-hook).
    pub fn sf_off(&mut self) {
        if let Some((start, level)) = self.sf.take() {
            if self.cursor > start {
                self.tone(
                    start,
                    self.cursor - start,
                    crate::line::sf::SF_HZ as f64,
                    level,
                );
            }
        }
    }

    pub fn sf_is_on(&self) -> bool {
        self.sf.is_some()
    }

    fn mark(&mut self, kind: &'static str, signal: &str, start: u64, end: u64) {
        self.truth.push(Truth {
            kind,
            signal: signal.to_string(),
            start,
            end,
        });
    }

    /// Seize: the tone stops at the cursor.
    pub fn sf_seize(&mut self) {
        self.sf_off();
        let at = self.cursor;
        self.mark("sf", "seize", at, at);
    }

    /// Wink from idle: off-hook for `ms`, then the idle tone again.
    pub fn sf_wink(&mut self, ms: f64, p: &SfParams) {
        let level = self.sf.map(|s| s.1).unwrap_or(p.idle_level);
        self.sf_off();
        let start = self.cursor;
        self.silence(ms);
        self.mark("sf", "wink", start, self.cursor);
        self.sf_on(level);
    }

    /// Hook flash from off-hook: a tone burst of `ms`.
    pub fn sf_flash(&mut self, ms: f64, p: &SfParams) {
        self.sf_off();
        let start = self.cursor;
        self.sf_on(p.burst_level);
        self.silence(ms);
        self.sf_off();
        self.mark("sf", "flash", start, self.cursor);
    }

    /// Disconnect: the idle tone from the cursor on.
    pub fn sf_disconnect(&mut self, p: &SfParams) {
        let at = self.cursor;
        self.sf_on(p.idle_level);
        self.mark("sf", "disconnect", at, at);
    }

    /// Dial-pulsed digits from off-hook: each pulse a tone burst (the break), `10` pulses = `0`.
    pub fn dial_pulses(&mut self, digits: &str, p: &DpParams) -> Result<(), String> {
        check_dial_pulses(p.pps, p.break_pct)?;
        self.sf_off();
        let period = 1000.0 / p.pps;
        for (k, ch) in digits.chars().enumerate() {
            let n = pulses_of(ch)?;
            if k > 0 {
                self.silence(p.interdigit_ms);
            }
            let start = self.cursor;
            for i in 0..n {
                if i > 0 {
                    self.silence(period * (100.0 - p.break_pct) / 100.0);
                }
                self.sf_on(p.level);
                self.silence(period * p.break_pct / 100.0);
                self.sf_off();
            }
            self.mark("dp", &(n % 10).to_string(), start, self.cursor);
        }
        Ok(())
    }

    /// Advance the cursor (the channel is silent there unless something else is added).
    pub fn silence(&mut self, ms: f64) {
        self.cursor += ms_to_samples(ms) as u64;
        self.ensure(self.cursor);
    }

    /// Mix 8 kHz samples in at the cursor with a gain (dB); advances the cursor.
    pub fn mix(&mut self, samples: &[i16], gain_db: f64) {
        let g = 10f64.powf(gain_db / 20.0);
        let start = self.cursor as usize;
        if !self.ensure(self.cursor + samples.len() as u64) {
            self.cursor += samples.len() as u64;
            return;
        }
        for (d, &s) in self.buf[start..].iter_mut().zip(samples) {
            *d += s as f64 * g;
        }
        self.cursor += samples.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.buf.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Pad to at least `len` samples.
    pub fn pad_to(&mut self, len: u64) {
        self.ensure(len);
    }

    /// Apply impairments and quantise to 16 bits.
    pub fn finish(mut self, imp: &Impairments) -> (Vec<i16>, Vec<Truth>) {
        // An SF tone still on runs to the end of the channel.
        if self.sf.is_some() {
            self.cursor = self.cursor.max(self.buf.len() as u64);
            self.sf_off();
        }
        if let Some(n) = imp.noise_dbm0 {
            let sigma = dbm0_to_power(n).sqrt();
            if let Ok(normal) = Normal::new(0.0, sigma) {
                for s in self.buf.iter_mut() {
                    *s += normal.sample(&mut self.rng);
                }
            }
        }
        for &(start, len) in &imp.dropouts {
            let a = (start as usize).min(self.buf.len());
            let b = ((start + len) as usize).min(self.buf.len());
            self.buf[a..b].fill(0.0);
        }
        let out = self
            .buf
            .iter()
            .map(|&v| {
                let s = v.round().clamp(-32768.0, 32767.0) as i16;
                match imp.g711 {
                    Some(law) => law.round_trip(s),
                    None => s,
                }
            })
            .collect();
        (out, self.truth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::power_to_dbm0;

    #[test]
    fn mf_spill_has_spec_timing_and_level() {
        let mut ch = ChannelSynth::new(1);
        let spill = MfSignal::parse_sequence("KP 0 5551234 ST").unwrap();
        ch.mf(&spill, &MfParams::default());
        let (x, truth) = ch.finish(&Impairments::default());
        assert_eq!(truth.len(), 10);
        assert_eq!(truth[0].end - truth[0].start, 800); // KP 100 ms
        assert_eq!(truth[1].end - truth[1].start, 544); // 68 ms
        assert_eq!(truth[1].start - truth[0].end, 544); // gap 68 ms
                                                        // Two tones at −7 dBm0 each: −3.99 dBm0 total.
        let seg = &x[truth[1].start as usize..truth[1].end as usize];
        let p = seg.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / seg.len() as f64;
        assert!(
            (power_to_dbm0(p) + 3.99).abs() < 0.2,
            "{}",
            power_to_dbm0(p)
        );
    }

    #[test]
    fn noise_has_the_requested_level() {
        let mut ch = ChannelSynth::new(2);
        ch.silence(10_000.0);
        let (x, _) = ch.finish(&Impairments {
            noise_dbm0: Some(-20.0),
            ..Default::default()
        });
        let p = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
        assert!((power_to_dbm0(p) + 20.0).abs() < 0.1);
    }
}
