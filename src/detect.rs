//! Offline detection over whole channels: runs the chosen receivers on every channel (in parallel,
//! one worker per core) and returns completed events, one channel's in `reported` order.

use serde::Serialize;

use crate::dsp::correlator::KernelPlanner;
use crate::line::supervision::{SfLine, SupervisionEvent};
use crate::register::dtmf::{DtmfEvent, DtmfReceiver};
use crate::register::mf::{MfEvent, MfReceiver};
use crate::units::samples_to_ms;

/// Which receivers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    pub mf: bool,
    pub dtmf: bool,
    pub sf: bool,
    pub dp: bool,
}

impl Kinds {
    pub const ALL: Kinds = Kinds {
        mf: true,
        dtmf: true,
        sf: true,
        dp: true,
    };
    /// The register-signalling receivers only.
    pub const REGISTER: Kinds = Kinds {
        mf: true,
        dtmf: true,
        sf: false,
        dp: false,
    };

    /// Parse a comma list of `mf`, `dtmf`, `sf`, `dp`.
    pub fn parse(s: &str) -> Result<Kinds, String> {
        let mut k = Kinds {
            mf: false,
            dtmf: false,
            sf: false,
            dp: false,
        };
        for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w.to_ascii_lowercase().as_str() {
                "mf" => k.mf = true,
                "dtmf" => k.dtmf = true,
                "sf" => k.sf = true,
                "dp" => k.dp = true,
                other => return Err(format!("unknown kind `{other}` (mf, dtmf, sf, dp)")),
            }
        }
        if !(k.mf || k.dtmf || k.sf || k.dp) {
            return Err("choose at least one of mf, dtmf, sf, dp".into());
        }
        Ok(k)
    }
}

/// One detected signal, as `detect --format jsonl` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub channel: usize,
    pub kind: &'static str,
    pub signal: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub reported_ms: f64,
    /// Dial pulses counted (kind `dp` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulses: Option<u32>,
    #[serde(skip)]
    pub start: u64,
    #[serde(skip)]
    pub end: u64,
    #[serde(skip)]
    pub reported: u64,
}

fn round1(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

fn det(channel: usize, kind: &'static str, signal: String, start: u64, reported: u64) -> Detection {
    Detection {
        channel,
        kind,
        signal,
        start_ms: round1(samples_to_ms(start)),
        end_ms: f64::NAN,
        reported_ms: round1(samples_to_ms(reported)),
        pulses: None,
        start,
        end: u64::MAX,
        reported,
    }
}

fn done(
    channel: usize,
    kind: &'static str,
    signal: &str,
    start: u64,
    end: u64,
    at: u64,
) -> Detection {
    let mut d = det(channel, kind, signal.to_string(), start, at);
    d.end = end.max(start);
    d.end_ms = round1(samples_to_ms(d.end));
    d
}

fn close(open: &mut Option<Detection>, end: u64, out: &mut Vec<Detection>) {
    if let Some(mut d) = open.take() {
        d.end = end.max(d.start);
        d.end_ms = round1(samples_to_ms(d.end));
        out.push(d);
    }
}

/// The receivers of one channel, fed as the audio arrives; completed detections accumulate.
pub struct ChannelDetector {
    channel: usize,
    kinds: Kinds,
    mf: Option<MfReceiver>,
    dtmf: Option<DtmfReceiver>,
    sf: Option<SfLine>,
    open_mf: Option<Detection>,
    open_dtmf: Option<Detection>,
    samples: u64,
    out: Vec<Detection>,
    /// MF and DTMF signals the moment they are recognised (kept only when asked for).
    recognised: Option<Vec<Detection>>,
}

impl ChannelDetector {
    pub fn new(channel: usize, kinds: Kinds) -> Self {
        Self::new_in(channel, kinds, &mut KernelPlanner::new())
    }

    /// As [`ChannelDetector::new`], the receivers planned with `planner`.
    pub fn new_in(channel: usize, kinds: Kinds, planner: &mut KernelPlanner) -> Self {
        ChannelDetector {
            channel,
            kinds,
            mf: kinds.mf.then(|| MfReceiver::new_in(planner)),
            dtmf: kinds.dtmf.then(|| DtmfReceiver::new_in(planner)),
            sf: (kinds.sf || kinds.dp).then(SfLine::default),
            open_mf: None,
            open_dtmf: None,
            samples: 0,
            out: Vec::new(),
            recognised: None,
        }
    }

    /// Also keep every MF and DTMF signal the moment it is recognised (its end not yet known),
    /// for [`ChannelDetector::take_recognised`]: a live listener acts on a KP without waiting
    /// for the tone to end.
    pub fn report_on_recognition(mut self) -> Self {
        self.recognised = Some(Vec::new());
        self
    }

    /// Signals recognised since the last call (only with [`Self::report_on_recognition`]).
    pub fn take_recognised(&mut self) -> Vec<Detection> {
        self.recognised
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Any number of samples (any chunking gives the same detections).
    pub fn process(&mut self, samples: &[i16]) {
        let ch = self.channel;
        if let Some(rx) = &mut self.mf {
            let (open, out) = (&mut self.open_mf, &mut self.out);
            let early = &mut self.recognised;
            rx.process(samples, &mut |e| {
                on_mf(ch, e, open, out);
                if let (true, Some(v), Some(d)) = (e.on, early.as_mut(), open.as_ref()) {
                    v.push(d.clone());
                }
            });
        }
        if let Some(rx) = &mut self.dtmf {
            let (open, out) = (&mut self.open_dtmf, &mut self.out);
            let early = &mut self.recognised;
            rx.process(samples, &mut |e| {
                on_dtmf(ch, e, open, out);
                if let (true, Some(v), Some(d)) = (e.on, early.as_mut(), open.as_ref()) {
                    v.push(d.clone());
                }
            });
        }
        if let Some(line) = &mut self.sf {
            let (out, kinds) = (&mut self.out, self.kinds);
            let mut sup = Vec::new();
            line.process(
                samples,
                &mut |e| {
                    if kinds.sf {
                        let s = if e.on { "on" } else { "off" };
                        out.push(done(ch, "sf", s, e.time, e.time, e.at));
                    }
                },
                &mut |v| sup.push(v),
            );
            for v in sup {
                on_supervision(ch, kinds, v, out);
            }
        }
        self.samples += samples.len() as u64;
    }

    /// End of stream: close what is open; detections in `reported` order.
    /// Detections completed so far (they leave the detector).
    pub fn take(&mut self) -> Vec<Detection> {
        std::mem::take(&mut self.out)
    }

    pub fn finish(mut self) -> Vec<Detection> {
        let ch = self.channel;
        if let Some(rx) = &mut self.mf {
            let (open, out) = (&mut self.open_mf, &mut self.out);
            rx.finish(&mut |e| on_mf(ch, e, open, out));
        }
        if let Some(rx) = &mut self.dtmf {
            let (open, out) = (&mut self.open_dtmf, &mut self.out);
            rx.finish(&mut |e| on_dtmf(ch, e, open, out));
        }
        if let Some(line) = &mut self.sf {
            let (out, kinds) = (&mut self.out, self.kinds);
            line.finish(&mut |v| on_supervision(ch, kinds, v, out));
        }
        close(&mut self.open_mf, self.samples, &mut self.out);
        close(&mut self.open_dtmf, self.samples, &mut self.out);
        self.out.sort_by_key(|d| (d.reported, d.start));
        self.out
    }
}

fn on_supervision(ch: usize, kinds: Kinds, e: SupervisionEvent, out: &mut Vec<Detection>) {
    let d = match e {
        SupervisionEvent::Digit {
            pulses,
            start,
            end,
            at,
        } => {
            if !kinds.dp {
                return;
            }
            let mut d = done(ch, "dp", &(pulses % 10).to_string(), start, end, at);
            d.pulses = Some(pulses);
            d
        }
        _ if !kinds.sf => return,
        SupervisionEvent::Seize { start, at } => done(ch, "sf", "seize", start, start, at),
        SupervisionEvent::Wink { start, end, at } => done(ch, "sf", "wink", start, end, at),
        SupervisionEvent::Flash { start, end, at } => done(ch, "sf", "flash", start, end, at),
        SupervisionEvent::Disconnect { start, at } => {
            done(ch, "sf", "disconnect", start, start, at)
        }
    };
    out.push(d);
}

fn on_mf(ch: usize, e: MfEvent, open: &mut Option<Detection>, out: &mut Vec<Detection>) {
    if e.on {
        close(open, e.at, out);
        *open = Some(det(ch, "mf", e.signal.name().to_string(), e.time, e.at));
    } else {
        close(open, e.time, out);
    }
}

fn on_dtmf(ch: usize, e: DtmfEvent, open: &mut Option<Detection>, out: &mut Vec<Detection>) {
    if e.on {
        close(open, e.at, out);
        *open = Some(det(ch, "dtmf", e.key.to_string(), e.time, e.at));
    } else {
        close(open, e.time, out);
    }
}

/// Run the receivers over one channel, feeding `chunk` samples at a time (any size gives the same
/// events). Returns completed detections in `reported` order.
pub fn detect_channel(
    channel: usize,
    samples: &[i16],
    kinds: Kinds,
    chunk: usize,
) -> Vec<Detection> {
    let mut d = ChannelDetector::new(channel, kinds);
    for c in samples.chunks(chunk.max(1)) {
        d.process(c);
    }
    d.finish()
}

fn worker_count(threads: usize, channels: usize) -> usize {
    let t = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    };
    t.min(channels.max(1))
}

/// Every channel, spread over `threads` workers (0 = all cores). Output is by channel, then time.
pub fn detect_all(channels: &[Vec<i16>], kinds: Kinds, threads: usize) -> Vec<Detection> {
    let threads = worker_count(threads, channels.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut per: Vec<Vec<Detection>> = vec![Vec::new(); channels.len()];
    let results = std::sync::Mutex::new(&mut per);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if c >= channels.len() {
                    break;
                }
                let d = detect_channel(c, &channels[c], kinds, 4096);
                if let Ok(mut r) = results.lock() {
                    r[c] = d;
                }
            });
        }
    });
    per.into_iter().flatten().collect()
}

/// Interleaved 16-bit little-endian PCM at 8 kHz straight from the file's bytes: each worker
/// takes a share of the channels and de-interleaves a block of frames at a time into a small
/// buffer, so the file is never copied into per-channel vectors. Same detections as
/// [`detect_all`] on the de-interleaved audio.
pub fn detect_interleaved_pcm16(
    data: &[u8],
    channels: usize,
    kinds: Kinds,
    threads: usize,
) -> Vec<Detection> {
    detect_interleaved_pcm16_watched(data, channels, kinds, threads, &Watch::default()).0
}

/// What watches a long detection from outside: a flag that stops it at the next block (SIGINT)
/// and a callback given the frames done (a progress bar).
#[derive(Default, Clone, Copy)]
pub struct Watch<'a> {
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

/// As [`detect_interleaved_pcm16`], watched: returns the detections and, if it was stopped, the
/// frames every channel had been run through (the detections up to there are complete).
pub fn detect_interleaved_pcm16_watched(
    data: &[u8],
    channels: usize,
    kinds: Kinds,
    threads: usize,
    watch: &Watch<'_>,
) -> (Vec<Detection>, Option<u64>) {
    const BLOCK: usize = 2048;
    if channels == 0 {
        return (Vec::new(), None);
    }
    let stopped_at = std::sync::atomic::AtomicU64::new(u64::MAX);
    let frame = 2 * channels;
    let data = &data[..data.len() - data.len() % frame];
    let threads = worker_count(threads, channels);
    let mut per: Vec<Vec<Detection>> = vec![Vec::new(); channels];
    let results = std::sync::Mutex::new(&mut per);
    std::thread::scope(|s| {
        for t in 0..threads {
            let results = &results;
            let stopped_at = &stopped_at;
            s.spawn(move || {
                let mine: Vec<usize> = (t..channels).step_by(threads).collect();
                let mut planner = KernelPlanner::new();
                let mut dets: Vec<ChannelDetector> = mine
                    .iter()
                    .map(|&c| ChannelDetector::new_in(c, kinds, &mut planner))
                    .collect();
                let mut buf = vec![0i16; BLOCK];
                for (b, block) in data.chunks(BLOCK * frame).enumerate() {
                    let done = (b * BLOCK) as u64;
                    if watch
                        .stop
                        .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
                    {
                        stopped_at.fetch_min(done, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    if t == 0 {
                        if let Some(p) = watch.progress {
                            p(done);
                        }
                    }
                    let n = block.len() / frame;
                    for (d, &c) in dets.iter_mut().zip(&mine) {
                        for (o, fr) in buf[..n].iter_mut().zip(block.chunks_exact(frame)) {
                            *o = i16::from_le_bytes([fr[2 * c], fr[2 * c + 1]]);
                        }
                        d.process(&buf[..n]);
                    }
                }
                for (d, &c) in dets.into_iter().zip(&mine) {
                    let v = d.finish();
                    if let Ok(mut r) = results.lock() {
                        r[c] = v;
                    }
                }
            });
        }
    });
    let stopped = stopped_at.into_inner();
    let mut all: Vec<Detection> = per.into_iter().flatten().collect();
    if stopped != u64::MAX {
        // Workers stop at different blocks: keep what every channel had reached.
        let end_ms = crate::units::samples_to_ms(stopped);
        all.retain(|d| d.reported_ms <= end_ms);
        return (all, Some(stopped));
    }
    (all, None)
}
