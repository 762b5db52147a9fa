//! 2600 Hz SF tone receiver: reports the tone turning on and off.
//!
//! Limits (`docs/signalling.md`): accept −28 … 0 dBm0 and 2600 ± 40 Hz; reject 2500 and
//! 2700 Hz and anything below −35 dBm0; report each change ≤ 10 ms after it happens; no false
//! detections on speech — the tone must dominate the band.
//!
//! Design: one Hann-windowed correlator at 2600 Hz over 40 samples (5 ms), every 8 samples (1 ms),
//! evaluated directly ([`ToneProbe`]: one pass over the window, history inline — this receiver
//! runs on every trunk of a tandem every millisecond).
//! A frame *hears the tone* when
//! - its frequency, from the phase advance of the correlator over 2 frames, is within 60 Hz of
//!   2600 (a 5 ms window cannot separate 2500 from 2600 by magnitude; the phase can);
//! - its level, corrected for the window's response at that offset, is ≥ −31 dBm0;
//! - it carries ≥ 90 % of the window's power (tone 10 dB above everything else — the talk-off
//!   guard: speech never puts that much of its energy at one frequency near 2600 Hz).
//!
//! The tone is *on* after 4 frames that hear it and *off* after 3 that do not. Four, not three:
//! espeak-ng voices on the multi-language talk-off corpus (`audio-fixtures/talkoff/voices.wav`)
//! put a 2600 Hz formant 10 dB above the rest of the band for 3 frames at a time (5 false tone-ons
//! in 27 minutes at 3), never for 4; the fourth frame costs 1 ms of the 10 ms allowed (on: first
//! frame 2.5–5.1 ms after the change, report p50 6.9, max 8.4 ms).

use crate::dsp::correlator::{cabs2, cconj, cmul, C64};
use crate::dsp::tone_probe::ToneProbe;
use crate::register::noise_floor::NoiseFloor;
use crate::units::{db_to_ratio, dbm0_to_power, SAMPLE_RATE};

/// The SF frequency (Hz).
pub const SF_HZ: u32 = 2600;

/// The idle (on-hook) tone a sender keeps on the line (dBm0; docs/signalling.md: −20).
pub const IDLE_DBM0: f64 = -20.0;

/// A hook-flash or dial-pulse burst (dBm0; docs/signalling.md: −8, high enough to be told from
/// speech at once).
pub const BURST_DBM0: f64 = -8.0;

/// Receiver design; numbers in dB/dBm0/Hz, converted at construction.
#[derive(Debug, Clone)]
pub struct SfDesign {
    pub hop: usize,
    pub blocks: usize,
    pub min_level_dbm0: f64,
    pub max_offset_hz: f64,
    /// Tone power over the rest of the window's power, at least (dB).
    pub dominance_db: f64,
    pub on_frames: u32,
    pub off_frames: u32,
}

impl Default for SfDesign {
    fn default() -> Self {
        SfDesign {
            hop: 8,
            blocks: 5,
            // Accept −28, never below −35.
            min_level_dbm0: -31.0,
            // Accept ±40 Hz, reject ±100 Hz.
            max_offset_hz: 60.0,
            dominance_db: 10.0,
            on_frames: 4,
            off_frames: 3,
        }
    }
}

/// The tone turned on (`on`) or off, estimated at sample `time`, decided at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SfEvent {
    pub on: bool,
    pub time: u64,
    pub at: u64,
}

#[derive(Debug, Clone)]
pub struct SfReceiver {
    d: SfDesign,
    probe: ToneProbe,
    min_power: f64,
    /// `8/W²`: tone power from the correlator (amplitude `2|X|/Σw` with `Σw = W/2`; power `a²/2`).
    power_scale: f64,
    /// Tone power over the rest of the window's power, at least (`dominance_db` as a ratio).
    dom: f64,
    /// Minimum statistics of the power of windows the tone does not fill (silence, speech,
    /// noise), and of the rest of those it does: the stationary noise on the line, which the
    /// dominance test allows for.
    rest_floor: NoiseFloor,
    /// `tan` of the largest accepted phase advance over the frequency test's span.
    tan_max: f64,
    /// Correlator values of the last 3 frames.
    xhist: [C64; 3],
    frame: usize,
    on: bool,
    run: u32,
    run_first: u64,
}

impl Default for SfReceiver {
    fn default() -> Self {
        Self::new(SfDesign::default())
    }
}

impl SfReceiver {
    pub fn new(d: SfDesign) -> Self {
        let w = d.hop * d.blocks;
        let min_power = dbm0_to_power(d.min_level_dbm0);
        SfReceiver {
            probe: ToneProbe::new(SF_HZ, w, d.hop),
            min_power,
            power_scale: 8.0 / (w * w) as f64,
            dom: db_to_ratio(d.dominance_db),
            rest_floor: NoiseFloor::new(),
            tan_max: (std::f64::consts::TAU * d.max_offset_hz * (2 * d.hop) as f64
                / SAMPLE_RATE as f64)
                .tan(),
            xhist: [(0.0, 0.0); 3],
            frame: 0,
            on: false,
            run: 0,
            run_first: 0,
            d,
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    pub fn now(&self) -> u64 {
        self.probe.now()
    }

    pub fn process(&mut self, samples: &[i16], sink: &mut impl FnMut(SfEvent)) {
        let mut rest = samples;
        while !rest.is_empty() {
            if self.probe.feed(&mut rest) {
                let hears = self.hears();
                self.debounce(hears, sink);
            }
        }
    }

    /// Window response `|Σ w[i] e^{jθi}|` of the periodic Hann window.
    fn hann_response(&self, theta: f64) -> f64 {
        let w = self.probe.window_len() as f64;
        let g = |t: f64| -> C64 {
            if t.abs() < 1e-9 {
                return (w, 0.0);
            }
            let num = (1.0 - (t * w).cos(), -(t * w).sin());
            let den = (1.0 - t.cos(), -t.sin());
            let q = cmul(num, cconj(den));
            let dd = cabs2(den);
            (q.0 / dd, q.1 / dd)
        };
        let d = std::f64::consts::TAU / w;
        let (a, b, c) = (g(theta), g(theta + d), g(theta - d));
        cabs2((
            0.5 * a.0 - 0.25 * (b.0 + c.0),
            0.5 * a.1 - 0.25 * (b.1 + c.1),
        ))
        .sqrt()
    }

    fn hears(&mut self) -> bool {
        let slot = self.frame % 3;
        self.frame += 1;
        let w = self.probe.window_len();
        if self.probe.now() < w as u64 {
            return false;
        }
        let ms = self.probe.mean_square();
        if ms < self.min_power {
            self.xhist[slot] = (0.0, 0.0);
            self.rest_floor.push(ms);
            return false;
        }
        let x = self.probe.x();
        self.xhist[slot] = x;
        let rough = cabs2(x) * self.power_scale;
        // A window the tone fills gives its rest — read no lower than −15 dB under the window:
        // the rest, a difference of two noisy readings, falls near 0 often enough in noise that
        // a long tone would empty the floor and leave the next burst the strict test.
        self.rest_floor.push(if rough < 0.5 * ms {
            ms
        } else {
            (ms - rough).max(ms / 32.0)
        });
        let lag = self.xhist[(slot + 1) % 3];
        let z = cmul(x, cconj(lag));
        // Frequency within ±max_offset of 2600 Hz ⇔ the phase advance over 2 frames is within
        // ±θ: z.re > 0 and |z.im| ≤ tan θ · z.re (θ < 90°), no arctangent needed.
        if !(z.0 > 0.0 && z.1.abs() <= self.tan_max * z.0) {
            return false;
        }
        // Power from the uncorrected correlator is a lower bound (the window's response is
        // largest at zero offset); only when that falls short is the offset measured and the
        // response divided out.
        let mut power = rough;
        if !self.dominates(power, ms) {
            let delta = z.1.atan2(z.0) / (2 * self.d.hop) as f64;
            let r = self.hann_response(delta);
            power = 2.0 * cabs2(x) / (r * r);
        }
        self.dominates(power, ms)
    }

    /// Tone power `power` in a window of mean square `ms`: loud enough, and `dominance_db` above
    /// the rest of the window once the line's stationary noise is allowed for. The floor
    /// (minimum statistics over ~320 ms of windows without the tone) is ≈ 0.47 of white noise's
    /// mean power in a 40-sample window (the minimum of ~64 independent χ²₄₀/40 readings, mean − 2.4σ with σ = 0.22);
    /// `REST_ALLOWED` floors, 1.5 × the mean, cover the noise's own swing (+2σ) with margin, so
    /// steady noise 12 dB under a −8 dBm0 burst never breaks the tone up (SpanDSP's `sig_tone`
    /// sequence in −20 dBm0 noise). The tone must still stand `ABOVE_NOISE` (≥ 6 dB over the
    /// noise's whole-band mean, ≥ 4.1 floors) above that noise, or noise alone would pass
    /// wherever its 2600 Hz bin happens to read the right frequency. Speech is not stationary:
    /// between syllables the floor falls to the background, and the test holds its full 10 dB
    /// against the speech itself.
    fn dominates(&self, power: f64, ms: f64) -> bool {
        const REST_ALLOWED: f64 = 3.2;
        const ABOVE_NOISE: f64 = 8.5;
        const HOLD_DOMINANCE: f64 = 2.0;
        let floor = self.rest_floor.get();
        let rest = (ms - power).max(0.0);
        let excess = (rest - REST_ALLOWED * floor).max(0.0);
        // Once on, the tone holds at 3 dB over the rest (hysteresis: a tone that was heard does
        // not turn off because a noise burst narrows its margin; it ends when its level or
        // frequency goes — and before any floor is known, a line that starts with the tone up
        // in noise does not chatter).
        let dom = if self.on { HOLD_DOMINANCE } else { self.dom };
        power >= self.min_power && power >= dom * excess && power >= ABOVE_NOISE * floor
    }

    fn debounce(&mut self, hears: bool, sink: &mut impl FnMut(SfEvent)) {
        let now = self.probe.now();
        if hears == self.on {
            self.run = 0;
            return;
        }
        if self.run == 0 {
            self.run_first = now;
        }
        self.run += 1;
        let need = if self.on {
            self.d.off_frames
        } else {
            self.d.on_frames
        };
        if self.run >= need {
            self.on = hears;
            self.run = 0;
            // When did it change? Measured over levels −28 … 0 dBm0 and every alignment: the first
            // frame to hear a tone is 20–41 samples (mean 30) after its start, the first to miss
            // it 14–21 (mean 18) after its end — 25 since a tone once on holds at 3 dB (SpanDSP's
            // sequence: 7 samples later). Subtracting the means leaves about ±1.5 ms (≤ 2 ms at
            // the accept edges), so a burst's length is known to ±2 ms.
            let lead = if hears { 30 } else { 25 };
            sink(SfEvent {
                on: hears,
                time: self.run_first.saturating_sub(lead),
                at: now,
            });
        }
    }
}
