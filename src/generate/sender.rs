//! The streaming line sender: what one side of one trunk sends, rendered block by block.
//!
//! [`super::synth::ChannelSynth`] builds a whole channel offline (and records truth for tests);
//! the tandem, the PSAP and end-office models and the real-time engine need the same signals as a
//! stream whose future is decided as calls progress. A `LineSender` holds the SF state with its
//! scheduled changes and a short list of tone segments (MF and DTMF pairs, call-progress tones with
//! their cadence); `render(now, out)` adds the samples of `[now, now + out.len())`.
//!
//! Phase is absolute stream time through the exact phasor table ([`crate::dsp::phasor`]), so a tone
//! split across blocks of any size is the same tone. All frequencies the tandem sends are integer
//! hertz. Rendering does not allocate.

use std::collections::VecDeque;

use crate::dsp::phasor;
use crate::line::sf::SF_HZ;
use crate::register::dtmf::dtmf_freqs;
use crate::register::mf::{self, MfSignal};
use crate::units::{dbm0_to_peak, ms_to_samples, SAMPLE_RATE};

/// Which tones a [`LineSender::stop_progress`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneKind {
    /// Register signals (MF, DTMF): never cut.
    Signal,
    /// Call-progress tones (dial tone, reorder, ringback).
    Progress,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    start: u64,
    end: u64,
    tones: [(u32, f32); 2],
    /// `(on, period)` samples, from `start`.
    cadence: Option<(u64, u64)>,
    kind: ToneKind,
}

/// Sender timing for MF spills (signalling.md §1 sender: KP 100 ms, others 68 ms, gaps 68 ms).
#[derive(Debug, Clone, Copy)]
pub struct MfTiming {
    pub kp_ms: f64,
    pub on_ms: f64,
    pub gap_ms: f64,
    /// Level of the lower tone (dBm0).
    pub dbm0: f64,
    /// Higher tone minus lower tone (dB).
    pub twist_db: f64,
}

impl Default for MfTiming {
    fn default() -> Self {
        MfTiming {
            kp_ms: mf::KP_MS,
            on_ms: mf::SIGNAL_MS,
            gap_ms: mf::GAP_MS,
            dbm0: mf::SENDER_DBM0,
            twist_db: 0.0,
        }
    }
}

/// The PSAP attendant's keypad (signalling.md §2 sender): 70 ms on, 70 ms off, high group
/// −4 dBm0, low group −6 dBm0.
#[derive(Debug, Clone, Copy)]
pub struct DtmfTiming {
    pub on_ms: f64,
    pub off_ms: f64,
    pub low_dbm0: f64,
    pub high_dbm0: f64,
}

impl Default for DtmfTiming {
    fn default() -> Self {
        DtmfTiming {
            on_ms: 70.0,
            off_ms: 70.0,
            low_dbm0: -6.0,
            high_dbm0: -4.0,
        }
    }
}

/// What one side of one line sends.
#[derive(Debug, Clone, Default)]
pub struct LineSender {
    /// SF amplitude at the render cursor (None = off-hook, no tone).
    sf: Option<f32>,
    /// Scheduled SF changes, in time order.
    sf_changes: VecDeque<(u64, Option<f32>)>,
    segs: Vec<Segment>,
    /// Samples rendered so far.
    rendered: u64,
}

impl LineSender {
    /// A sender with room for the usual traffic, so steady operation does not allocate.
    pub fn new() -> Self {
        sf_period(); // built here, not on the first block
        LineSender {
            sf: None,
            sf_changes: VecDeque::with_capacity(16),
            segs: Vec::with_capacity(32),
            rendered: 0,
        }
    }

    /// Samples rendered so far: nothing can be scheduled before this.
    pub fn rendered(&self) -> u64 {
        self.rendered
    }

    fn clamp(&self, t: u64) -> u64 {
        t.max(self.rendered)
    }

    /// SF tone on (on-hook) at `dbm0`, or off (off-hook) with `None`, from `t`.
    pub fn sf(&mut self, t: u64, dbm0: Option<f64>) {
        let t = self.clamp(t);
        let a = dbm0.map(|d| dbm0_to_peak(d) as f32);
        // A change scheduled at or after `t` is superseded.
        while self.sf_changes.back().is_some_and(|&(u, _)| u >= t) {
            self.sf_changes.pop_back();
        }
        self.sf_changes.push_back((t, a));
    }

    /// Off-hook for `len` samples from `t`, then the tone at `dbm0` again (a wink from idle).
    pub fn wink(&mut self, t: u64, len: u64, dbm0: f64) {
        let t = self.clamp(t);
        self.sf(t, None);
        self.sf(t + len, Some(dbm0));
    }

    /// A tone burst of `len` samples from `t` at `dbm0`, then off-hook again (a hook flash).
    pub fn flash(&mut self, t: u64, len: u64, dbm0: f64) {
        let t = self.clamp(t);
        self.sf(t, Some(dbm0));
        self.sf(t + len, None);
    }

    /// Is the SF tone on at the render cursor (the line on-hook)?
    pub fn sf_is_on(&self) -> bool {
        self.sf.is_some()
    }

    /// Add tones from `start` for `len` samples (`u64::MAX`: until stopped), at most two
    /// `(hz, dbm0)`, with an optional `(on, period)` cadence in samples.
    pub fn tones(
        &mut self,
        start: u64,
        len: u64,
        tones: &[(u32, f64)],
        cadence: Option<(u64, u64)>,
        kind: ToneKind,
    ) {
        let start = self.clamp(start);
        let mut t = [(0u32, 0f32); 2];
        for (d, &(hz, dbm0)) in t.iter_mut().zip(tones) {
            *d = (hz, dbm0_to_peak(dbm0) as f32);
        }
        self.segs.push(Segment {
            start,
            end: start.saturating_add(len),
            tones: t,
            cadence,
            kind,
        });
    }

    /// Cut every call-progress tone at `t`.
    pub fn stop_progress(&mut self, t: u64) {
        let t = self.clamp(t);
        for s in self.segs.iter_mut() {
            if s.kind == ToneKind::Progress && s.end > t {
                s.end = t.max(s.start);
            }
        }
    }

    /// Cut every register signal at `t` (a hang-up in mid-spill).
    pub fn stop_signals(&mut self, t: u64) {
        let t = self.clamp(t);
        for s in self.segs.iter_mut() {
            if s.kind == ToneKind::Signal && s.end > t {
                s.end = t.max(s.start);
            }
        }
        // Scheduled dial-pulse changes after `t` go too.
        while self.sf_changes.back().is_some_and(|&(u, _)| u > t) {
            self.sf_changes.pop_back();
        }
    }

    /// An MF sequence from `start`; returns when it ends.
    pub fn mf(&mut self, start: u64, spill: &[MfSignal], tm: &MfTiming) -> u64 {
        let mut t = self.clamp(start);
        for (k, &s) in spill.iter().enumerate() {
            if k > 0 {
                t += ms_to_samples(tm.gap_ms) as u64;
            }
            let on = ms_to_samples(if s == MfSignal::KP {
                tm.kp_ms
            } else {
                tm.on_ms
            }) as u64;
            let (lo, hi) = s.freqs();
            self.tones(
                t,
                on,
                &[(lo, tm.dbm0), (hi, tm.dbm0 + tm.twist_db)],
                None,
                ToneKind::Signal,
            );
            t += on;
        }
        t
    }

    /// DTMF keys from `start`, each followed by the inter-digit pause; returns when they end.
    pub fn dtmf(&mut self, start: u64, keys: &str, tm: &DtmfTiming) -> Result<u64, String> {
        let mut t = self.clamp(start);
        for key in keys.chars() {
            let (lo, hi) = dtmf_freqs(key).ok_or_else(|| format!("`{key}` is not a DTMF key"))?;
            let on = ms_to_samples(tm.on_ms) as u64;
            self.tones(
                t,
                on,
                &[(lo, tm.low_dbm0), (hi, tm.high_dbm0)],
                None,
                ToneKind::Signal,
            );
            t += on + ms_to_samples(tm.off_ms) as u64;
        }
        Ok(t)
    }

    /// Dial-pulsed digits from off-hook at `start`: each pulse a 2600 Hz burst (the break) of
    /// `break_pct` % of the 1/`pps` period at `dbm0`, `interdigit_ms` between digits, `0` = 10
    /// pulses. Returns when the last pulse ends (the line is off-hook again).
    pub fn dial_pulses(
        &mut self,
        start: u64,
        digits: &str,
        pps: f64,
        break_pct: f64,
        interdigit_ms: f64,
        dbm0: f64,
    ) -> Result<u64, String> {
        crate::generate::synth::check_dial_pulses(pps, break_pct)?;
        let mut t = self.clamp(start) as f64;
        let period = SAMPLE_RATE as f64 / pps;
        for (k, ch) in digits.chars().enumerate() {
            let n = crate::generate::synth::pulses_of(ch)?;
            if k > 0 {
                t += interdigit_ms * 8.0;
            }
            for i in 0..n {
                if i > 0 {
                    t += period * (100.0 - break_pct) / 100.0;
                }
                self.sf(t.round() as u64, Some(dbm0));
                t += period * break_pct / 100.0;
                self.sf(t.round() as u64, None);
            }
        }
        Ok(t.round() as u64)
    }

    /// Is a register signal still scheduled at or after `t`?
    pub fn sending_after(&self, t: u64) -> bool {
        self.segs
            .iter()
            .any(|s| s.kind == ToneKind::Signal && s.end > t)
    }

    /// Add the samples of `[now, now + out.len())` to `out`. `now` must continue where the last
    /// call ended.
    /// Nothing to send in `[now, now + n)`: no tone on, no change scheduled before its end, no
    /// segment overlapping it. The block is silence; [`LineSender::skip`] moves past it.
    pub fn silent(&self, now: u64, n: usize) -> bool {
        let end = now + n as u64;
        self.sf.is_none()
            && self.sf_changes.front().is_none_or(|&(u, _)| u >= end)
            && self.segs.iter().all(|s| s.start >= end || s.end <= now)
    }

    /// Move past a block that [`LineSender::silent`] found silent (what `render` would do).
    pub fn skip(&mut self, now: u64, n: usize) {
        debug_assert_eq!(now, self.rendered, "render must be contiguous");
        let end = now + n as u64;
        self.segs.retain(|s| s.end > end);
        self.rendered = end;
    }

    /// Render a block that is the SF tone alone at one level — an idle line — straight to 16
    /// bits from a per-thread cache of such blocks (the same samples [`LineSender::render`] and
    /// [`quantise`] give); `false`, rendering nothing, when the block holds anything else.
    pub fn render_steady(&mut self, now: u64, out: &mut [i16]) -> bool {
        debug_assert_eq!(now, self.rendered, "render must be contiguous");
        let end = now + out.len() as u64;
        if self.sf_changes.iter().any(|&(u, _)| u > now && u < end)
            || self.segs.iter().any(|s| s.start < end && s.end > now)
        {
            return false;
        }
        let mut sf = self.sf;
        for &(u, a) in &self.sf_changes {
            if u <= now {
                sf = a;
            }
        }
        let Some(a) = sf else {
            return false;
        };
        while self.sf_changes.front().is_some_and(|&(u, _)| u <= now) {
            self.sf = self.sf_changes.pop_front().unwrap().1;
        }
        steady_block(a, (now % SF_PERIOD as u64) as usize, out);
        self.segs.retain(|s| s.end > end);
        self.rendered = end;
        true
    }

    pub fn render(&mut self, now: u64, out: &mut [f32]) {
        debug_assert_eq!(now, self.rendered, "render must be contiguous");
        let end = now + out.len() as u64;
        let table = phasor::table();
        // SF, piecewise between scheduled changes.
        let mut t = now;
        while t < end {
            while self.sf_changes.front().is_some_and(|&(u, _)| u <= t) {
                self.sf = self.sf_changes.pop_front().unwrap().1;
            }
            let until = self.sf_changes.front().map_or(end, |&(u, _)| u.min(end));
            if let Some(a) = self.sf {
                // One period of the tone, replayed: the same values as the phasor table's.
                let period = sf_period();
                let mut p = (t % SF_PERIOD as u64) as usize;
                let mut rest = &mut out[(t - now) as usize..(until - now) as usize];
                while !rest.is_empty() {
                    let n = rest.len().min(SF_PERIOD - p);
                    let (run, later) = rest.split_at_mut(n);
                    for (s, &v) in run.iter_mut().zip(&period[p..p + n]) {
                        *s += a * v;
                    }
                    rest = later;
                    p = 0;
                }
            }
            t = until;
        }
        for seg in &self.segs {
            let (a, b) = (seg.start.max(now), seg.end.min(end));
            if a >= b {
                continue;
            }
            for &(hz, amp) in seg.tones.iter().filter(|x| x.1 != 0.0) {
                let mut k = phasor::phase_index(hz, a);
                for (i, s) in out[(a - now) as usize..(b - now) as usize]
                    .iter_mut()
                    .enumerate()
                {
                    let on = seg
                        .cadence
                        .is_none_or(|(on, period)| (a + i as u64 - seg.start) % period < on);
                    if on {
                        *s += amp * table[k as usize].1 as f32;
                    }
                    k = phasor::advance(k, hz % phasor::LEN);
                }
            }
        }
        self.segs.retain(|s| s.end > end);
        self.rendered = end;
    }
}

/// `out` = the SF tone at amplitude `a` from phase `p` of its period, quantised: from a small
/// per-thread cache (every idle line of an office sends the same blocks).
fn steady_block(a: f32, p: usize, out: &mut [i16]) {
    type Key = (u32, usize, usize);
    thread_local! {
        static CACHE: std::cell::RefCell<Vec<(Key, Vec<i16>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let key = (a.to_bits(), p, out.len());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((_, b)) = c.iter().find(|(k, _)| *k == key) {
            out.copy_from_slice(b);
            return;
        }
        let period = sf_period();
        let x: Vec<f32> = (0..out.len())
            .map(|i| 0.0 + a * period[(p + i) % SF_PERIOD])
            .collect();
        quantise(&x, out);
        if c.len() >= 64 {
            c.remove(0);
        }
        c.push((key, out.to_vec()));
    });
}

/// Samples in one period of the SF tone at 8 kHz (2600 Hz = 13 cycles in 40 samples).
const SF_PERIOD: usize = (SAMPLE_RATE / gcd(SF_HZ, SAMPLE_RATE)) as usize;

const fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `sin(2π·2600·m/8000)` for `m` in one period, from the exact phasor table (the phase index
/// of sample `m` depends only on `m mod SF_PERIOD`): every trunk's idle tone, every block,
/// without a table lookup per sample.
fn sf_period() -> &'static [f32; SF_PERIOD] {
    static PERIOD: std::sync::OnceLock<[f32; SF_PERIOD]> = std::sync::OnceLock::new();
    PERIOD.get_or_init(|| {
        std::array::from_fn(|m| phasor::unit(phasor::phase_index(SF_HZ, m as u64)).1 as f32)
    })
}

/// Quantise a rendered block to 16 bits.
///
/// Every port's block goes through here on both sides of the tandem, so on x86-64 whole groups
/// of 8 take SSE2 (baseline): the same `v + copysign(½, v)`, NaN to 0, clamped to the 16-bit
/// range, truncated — the same value as [`crate::units::to_i16`] for every input (tested).
pub fn quantise(x: &[f32], out: &mut [i16]) {
    let n = x.len().min(out.len());
    #[cfg(target_arch = "x86_64")]
    let done = {
        let k = n / 8 * 8;
        quantise_sse2(&x[..k], &mut out[..k]);
        k
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for (d, &s) in out[done..n].iter_mut().zip(&x[done..n]) {
        *d = crate::units::to_i16(s);
    }
}

/// `x.len()` is a multiple of 8.
#[cfg(target_arch = "x86_64")]
fn quantise_sse2(x: &[f32], out: &mut [i16]) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86-64; each load is of 4 f32 inside `x`, each store of 8 i16
    // inside `out` (unaligned forms).
    unsafe {
        let sign = _mm_set1_ps(-0.0);
        let half = _mm_set1_ps(0.5);
        let (lo, hi) = (_mm_set1_ps(-32768.0), _mm_set1_ps(32767.0));
        let round = |v: __m128| {
            // ½ with v's sign, added; NaN lanes to 0; clamp; truncate (exact in range).
            let w = _mm_add_ps(v, _mm_or_ps(half, _mm_and_ps(v, sign)));
            let w = _mm_and_ps(w, _mm_cmpord_ps(w, w));
            _mm_cvttps_epi32(_mm_max_ps(_mm_min_ps(w, hi), lo))
        };
        for (s, d) in x.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
            let a = round(_mm_loadu_ps(s.as_ptr()));
            let b = round(_mm_loadu_ps(s.as_ptr().add(4)));
            _mm_storeu_si128(d.as_mut_ptr() as *mut __m128i, _mm_packs_epi32(a, b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantise_equals_to_i16_for_every_kind_of_value_at_every_length() {
        let mut v = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.49999997,
            -0.49999997,
            1.5,
            -1.5,
            2.5,
            -2.5,
            32766.5,
            32767.0,
            32767.4,
            32767.5,
            32768.0,
            -32767.5,
            -32768.0,
            -32768.4,
            -32768.5,
            -32769.0,
            1e9,
            -1e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
        ];
        let mut state = 99u32;
        for _ in 0..2000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            v.push(((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 80000.0);
        }
        for start in 0..8 {
            let x = &v[start..];
            let mut out = vec![0i16; x.len()];
            quantise(x, &mut out);
            for (i, (&s, &q)) in x.iter().zip(&out).enumerate() {
                assert_eq!(q, crate::units::to_i16(s), "{s} at {i}");
            }
        }
    }

    fn render_all(s: &mut LineSender, n: usize, block: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        let mut t = 0;
        while t < n {
            let e = (t + block).min(n);
            s.render(t as u64, &mut out[t..e]);
            t = e;
        }
        out
    }

    #[test]
    fn any_block_size_renders_the_same_signal() {
        let build = || {
            let mut s = LineSender::new();
            s.sf(0, Some(-20.0));
            s.sf(800, None);
            s.mf(
                1000,
                &[MfSignal::KP, MfSignal::Digit(0), MfSignal::ST],
                &MfTiming::default(),
            );
            s.tones(
                3000,
                2000,
                &[(350, -13.0), (440, -13.0)],
                Some((800, 1600)),
                ToneKind::Progress,
            );
            s
        };
        let a = render_all(&mut build(), 6000, 6000);
        for block in [1, 7, 80, 1000] {
            assert_eq!(render_all(&mut build(), 6000, block), a, "block {block}");
        }
        assert!(a[..800].iter().any(|&x| x.abs() > 100.0));
        assert!(a[850..1000].iter().all(|&x| x == 0.0));
    }
}
