//! Offline detection over whole channels: runs the chosen receivers on every channel (in parallel,
//! one worker per core) and returns completed events, one channel's in `reported` order.

use serde::Serialize;

use crate::register::dtmf::DtmfReceiver;
use crate::register::mf::MfReceiver;
use crate::units::samples_to_ms;

/// Which receivers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    pub mf: bool,
    pub dtmf: bool,
}

impl Kinds {
    pub const ALL: Kinds = Kinds {
        mf: true,
        dtmf: true,
    };

    /// Parse `mf,dtmf,sf,dp`. Names of receivers not built yet are refused with a clear message.
    pub fn parse(s: &str) -> Result<Kinds, String> {
        let mut k = Kinds {
            mf: false,
            dtmf: false,
        };
        for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w.to_ascii_lowercase().as_str() {
                "mf" => k.mf = true,
                "dtmf" => k.dtmf = true,
                "sf" | "dp" => {
                    return Err(format!(
                        "--kinds: `{w}` (SF/dial-pulse receiver) is not available in this build"
                    ))
                }
                other => {
                    return Err(format!(
                        "--kinds: unknown kind `{other}` (mf, dtmf, sf, dp)"
                    ))
                }
            }
        }
        if !k.mf && !k.dtmf {
            return Err("--kinds: choose at least one of mf, dtmf".into());
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
        start,
        end: u64::MAX,
        reported,
    }
}

fn close(open: &mut Option<Detection>, end: u64, out: &mut Vec<Detection>) {
    if let Some(mut d) = open.take() {
        d.end = end.max(d.start);
        d.end_ms = round1(samples_to_ms(d.end));
        out.push(d);
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
    let chunk = chunk.max(1);
    let mut out = Vec::new();
    if kinds.mf {
        let mut rx = MfReceiver::new();
        let mut open = None;
        let mut f = |e: crate::register::mf::MfEvent| {
            if e.on {
                close(&mut open, e.at, &mut out);
                open = Some(det(
                    channel,
                    "mf",
                    e.signal.name().to_string(),
                    e.time,
                    e.at,
                ));
            } else {
                close(&mut open, e.time, &mut out);
            }
        };
        for c in samples.chunks(chunk) {
            rx.process(c, &mut f);
        }
        rx.finish(&mut f);
        close(&mut open, samples.len() as u64, &mut out);
    }
    if kinds.dtmf {
        let mut rx = DtmfReceiver::new();
        let mut open = None;
        let mut f = |e: crate::register::dtmf::DtmfEvent| {
            if e.on {
                close(&mut open, e.at, &mut out);
                open = Some(det(channel, "dtmf", e.key.to_string(), e.time, e.at));
            } else {
                close(&mut open, e.time, &mut out);
            }
        };
        for c in samples.chunks(chunk) {
            rx.process(c, &mut f);
        }
        rx.finish(&mut f);
        close(&mut open, samples.len() as u64, &mut out);
    }
    out.sort_by_key(|d| (d.reported, d.start));
    out
}

/// Every channel, spread over `threads` workers (0 = all cores). Output is by channel, then time.
pub fn detect_all(channels: &[Vec<i16>], kinds: Kinds, threads: usize) -> Vec<Detection> {
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    }
    .min(channels.len().max(1));
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
