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

    /// Detections completed so far (they leave the detector).
    pub fn take(&mut self) -> Vec<Detection> {
        std::mem::take(&mut self.out)
    }

    /// Detections that nothing still open or still to come can precede (reported before every
    /// open MF or DTMF signal and before the samples fed so far), in `reported` order: what a
    /// stream can print now. [`ChannelDetector::finish`] gives the rest.
    pub fn take_settled(&mut self) -> Vec<Detection> {
        let mark = self.settled_mark();
        self.out.sort_by_key(|d| (d.reported, d.start));
        let k = self.out.partition_point(|d| d.reported < mark);
        self.out.drain(..k).collect()
    }

    /// The sample before which this channel will report nothing more: the earliest open MF or
    /// DTMF signal's report, or the samples fed so far.
    pub fn settled_mark(&self) -> u64 {
        let open = [&self.open_mf, &self.open_dtmf]
            .into_iter()
            .flatten()
            .map(|d| d.reported)
            .min();
        open.map_or(self.samples, |o| o.min(self.samples))
    }

    /// End of stream: close what is open; the detections not yet taken, in `reported` order.
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

/// What watches a long detection from outside: a flag that stops it at the next block (SIGINT)
/// and a callback given the frames done (a progress bar).
#[derive(Default, Clone, Copy)]
pub struct Watch<'a> {
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

/// Samples (all channels) read per block by [`detect_stream`]: 2 MiB of audio in memory.
const STREAM_BLOCK_SAMPLES: usize = 1 << 20;

/// Every channel of a WAV stream, block by block, spread over `threads` workers (0 = all
/// cores): memory is one block and the receivers, whatever the file's length. After each block,
/// the detections every channel has settled past go to `emit` in `reported` order across all
/// channels (ties by channel); a signal still open on one channel (a held key) holds the others'
/// later events back until it closes. The same detections as [`detect_all`] on the whole file;
/// on a stop or a read error what was held is emitted first. Returns the frames run when
/// `watch` stopped it.
pub fn detect_stream(
    s: &mut crate::audio::wav::WavStream<'_>,
    kinds: Kinds,
    threads: usize,
    watch: &Watch<'_>,
    emit: &mut dyn FnMut(&Detection) -> std::io::Result<()>,
) -> Result<Option<u64>, StreamError> {
    let ch = s.channels();
    let frames = (STREAM_BLOCK_SAMPLES / ch.max(1)).clamp(1024, 1 << 18);
    let threads = worker_count(threads, ch);
    let mut planner = KernelPlanner::new();
    let mut dets: Vec<ChannelDetector> = (0..ch)
        .map(|c| ChannelDetector::new_in(c, kinds, &mut planner))
        .collect();
    let mut bufs: Vec<Vec<i16>> = vec![Vec::with_capacity(frames); ch];
    let per = ch.div_ceil(threads).max(1);
    let mut done = 0u64;
    let mut pending: Vec<Detection> = Vec::new();
    loop {
        if watch
            .stop
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
        {
            // What was decided is printed: the events settled on some channel but held for
            // the time order.
            pending.sort_by_key(|d| (d.reported, d.channel, d.start));
            for e in &pending {
                emit(e)?;
            }
            return Ok(Some(done));
        }
        if let Some(p) = watch.progress {
            p(done);
        }
        let n = match s.read(frames, &mut bufs) {
            Ok(n) => n,
            Err(e) => {
                // What was decided is printed before the error.
                pending.sort_by_key(|d| (d.reported, d.channel, d.start));
                for d in &pending {
                    emit(d)?;
                }
                return Err(e.into());
            }
        };
        if n == 0 {
            break;
        }
        std::thread::scope(|sc| {
            for (d, b) in dets.chunks_mut(per).zip(bufs.chunks(per)) {
                sc.spawn(move || {
                    for (d, b) in d.iter_mut().zip(b) {
                        d.process(b);
                    }
                });
            }
        });
        done += n as u64;
        // In time order across channels: what every channel has settled up to the earliest
        // channel's mark; the rest waits for the next block.
        let mut mark = u64::MAX;
        for d in dets.iter_mut() {
            pending.extend(d.take_settled());
            mark = mark.min(d.settled_mark());
        }
        pending.sort_by_key(|d| (d.reported, d.channel, d.start));
        let k = pending.partition_point(|d| d.reported < mark);
        for e in pending.drain(..k) {
            emit(&e)?;
        }
    }
    for d in dets {
        pending.extend(d.finish());
    }
    pending.sort_by_key(|d| (d.reported, d.channel, d.start));
    for e in &pending {
        emit(e)?;
    }
    Ok(None)
}

/// Why a streamed detection stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Wav(#[from] crate::audio::wav::WavError),
    #[error(transparent)]
    Out(#[from] std::io::Error),
}
