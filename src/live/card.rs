//! The sound card as `channels` lines at 8 kHz: `write` one block per channel, `read` one block
//! per channel. Device buffers from the ladder, rings primed with the device buffer plus one
//! block, under- and overruns counted in the callbacks, a device that disappears reported.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SizedSample};
use ringbuf::traits::{Consumer, Observer, Producer};

use crate::audio::resample::Stream as Resampler;
use crate::engine::ring::{ring, Rx, Tx};
use crate::units::SAMPLE_RATE;

/// What to open.
#[derive(Debug, Clone)]
pub struct CardOpts {
    /// Lines carried, one per channel (channels 0 … n−1 of the device).
    pub channels: usize,
    /// The device channel of line 0 (line k is device channel `first + k`).
    pub first: usize,
    pub input: bool,
    pub output: bool,
    /// The smallest device buffer to try (ms); larger ones follow ([`super::ladder`]).
    pub buffer_ms: f64,
    /// Our block (8 kHz samples): the output ring is primed with the device buffer plus this.
    pub block: usize,
}

/// What the device granted, for the log.
#[derive(Debug, Clone)]
pub struct Granted {
    pub name: String,
    pub rate: u32,
    pub device_channels: u16,
    pub format: cpal::SampleFormat,
    /// Device buffer in frames; `None`: the device refused every size of the ladder and runs
    /// with its own default (said so, never silently).
    pub buffer: Option<u32>,
    /// Sizes the device refused, smallest first.
    pub refused: Vec<u32>,
}

impl Granted {
    /// The device buffer in ms (the default's is unknown: `None`).
    pub fn buffer_ms(&self) -> Option<f64> {
        self.buffer.map(|b| b as f64 * 1000.0 / self.rate as f64)
    }
}

impl std::fmt::Display for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} Hz {:?} × {} ch, ",
            self.name, self.rate, self.format, self.device_channels
        )?;
        match self.buffer {
            Some(b) => write!(f, "buffer {b} frames ({:.1} ms)", self.buffer_ms().unwrap())?,
            None => write!(
                f,
                "buffer: the device's default (it refused every size tried)"
            )?,
        }
        if !self.refused.is_empty() {
            let r: Vec<String> = self.refused.iter().map(|x| x.to_string()).collect();
            write!(f, ", refused {}", r.join(", "))?;
        }
        Ok(())
    }
}

/// Counted by the callbacks (relaxed atomics: no lock, no wait).
#[derive(Debug, Default)]
pub struct CardCounters {
    /// Output callbacks that found our ring short (we were late), and the samples of silence
    /// they played instead.
    pub underruns: AtomicU64,
    pub underrun_samples: AtomicU64,
    /// Input callbacks that found our ring full (we were late), and the samples dropped.
    pub overruns: AtomicU64,
    pub overrun_samples: AtomicU64,
    pub out_callbacks: AtomicU64,
    pub in_callbacks: AtomicU64,
    /// Errors the stream reported (other than the device going away).
    pub stream_errors: AtomicU64,
    /// The device consumed less than real time for a while (a stall in the sound server, which
    /// cpal does not report), seen as our output ring standing higher; and the output frames
    /// dropped to bring the latency back.
    pub stalls: AtomicU64,
    pub stall_frames: AtomicU64,
    /// The device went away.
    pub gone: AtomicBool,
    /// Under/overruns are counted only while armed (not while the streams start or drain).
    pub armed: AtomicBool,
}

impl CardCounters {
    /// Xruns: late output and input callbacks, counted as events.
    pub fn xruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
            + self.overruns.load(Ordering::Relaxed)
            + self.stalls.load(Ordering::Relaxed)
    }
}

/// Why a read ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardError {
    /// The device disappeared (unplugged, server gone).
    Gone,
    /// No input for the whole timeout.
    Stalled,
}

impl std::fmt::Display for CardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CardError::Gone => write!(f, "the sound card went away"),
            CardError::Stalled => write!(f, "the sound card's input stopped delivering audio"),
        }
    }
}

/// A duplex card seen from the engine: 8 kHz blocks, one per line.
pub struct Card {
    pub input: Option<Granted>,
    pub output: Option<Granted>,
    in_stream: Option<cpal::Stream>,
    out_stream: Option<cpal::Stream>,
    cap: Option<Rx>,
    play: Option<Tx>,
    n: usize,
    block: usize,
    ups: Vec<Resampler>,
    downs: Vec<Resampler>,
    pub counters: Arc<CardCounters>,
    /// When the first input arrived.
    pub started: Option<Instant>,
    scratch: Vec<i16>,
    inter: Vec<i16>,
    fbuf: Vec<f32>,
    /// What [`super::raise_priority`] managed, for the log.
    pub priority: String,
    settle: Settle,
}

/// Keeping the output ring at one block ([`Card::write`]): writes seen, the lowest level before a
/// write in the current window, and the frames still to drop.
#[derive(Debug, Default)]
struct Settle {
    writes: u64,
    low: usize,
    trim: usize,
}

impl Settle {
    fn new() -> Self {
        Settle {
            low: usize::MAX,
            ..Settle::default()
        }
    }

    /// Before a write, with `queued` frames in the ring and `block` frames a block: note the
    /// level; at the end of a window set `trim`. Returns the frames to drop when that is a stall
    /// (after settling).
    fn on_write(&mut self, queued: usize, block: usize) -> Option<usize> {
        self.writes += 1;
        if self.writes > 5 {
            self.low = self.low.min(queued);
        }
        let settling = self.writes == 20;
        if !settling && (self.writes < 20 || self.writes % 100 != 20) {
            return None;
        }
        // A stall is an excess of at least half a block held for the whole second.
        let slack = if settling { 0 } else { block / 2 };
        let low = std::mem::replace(&mut self.low, usize::MAX);
        if low > block + slack && self.trim == 0 {
            self.trim = low - block;
            return (!settling).then_some(self.trim);
        }
        None
    }
}

fn err_cb(c: &Arc<CardCounters>) -> impl FnMut(cpal::StreamError) + Send + 'static {
    let c = c.clone();
    move |e| match e {
        cpal::StreamError::DeviceNotAvailable => c.gone.store(true, Ordering::Relaxed),
        _ => {
            c.stream_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn build_out<T: SizedSample + FromSample<i16>>(
    dev: &cpal::Device,
    conf: &cpal::StreamConfig,
    (first, n): (usize, usize),
    mut rx: Rx,
    c: &Arc<CardCounters>,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    let dc = conf.channels as usize;
    let cc = c.clone();
    // Preallocated: the largest callback is one device buffer; a second covers anything else.
    let mut frames = vec![0i16; conf.sample_rate.0 as usize * n];
    dev.build_output_stream(
        conf,
        move |data: &mut [T], _| {
            let want = (data.len() / dc).min(frames.len() / n);
            let buf = &mut frames[..want * n];
            let got = rx.pop_slice(buf);
            if got < buf.len() {
                buf[got..].fill(0);
                if cc.armed.load(Ordering::Relaxed) {
                    cc.underruns.fetch_add(1, Ordering::Relaxed);
                    cc.underrun_samples
                        .fetch_add((buf.len() - got) as u64, Ordering::Relaxed);
                }
            }
            for (f, s) in data.chunks_mut(dc).zip(buf.chunks(n)) {
                // Line k on device channel first + k; the other channels silent.
                for (c, d) in f.iter_mut().enumerate() {
                    let v = c.checked_sub(first).and_then(|k| s.get(k)).copied();
                    *d = T::from_sample(v.unwrap_or(0));
                }
            }
            cc.out_callbacks.fetch_add(1, Ordering::Relaxed);
        },
        err_cb(c),
        None,
    )
}

fn build_in<T: SizedSample>(
    dev: &cpal::Device,
    conf: &cpal::StreamConfig,
    (first, n): (usize, usize),
    mut tx: Tx,
    c: &Arc<CardCounters>,
) -> Result<cpal::Stream, cpal::BuildStreamError>
where
    i16: FromSample<T>,
{
    let dc = conf.channels as usize;
    let cc = c.clone();
    let mut frames = vec![0i16; conf.sample_rate.0 as usize * n];
    dev.build_input_stream(
        conf,
        move |data: &[T], _| {
            let have = (data.len() / dc).min(frames.len() / n);
            let buf = &mut frames[..have * n];
            for (d, f) in buf.chunks_mut(n).zip(data.chunks(dc)) {
                for (x, &v) in d.iter_mut().zip(&f[first..]) {
                    *x = i16::from_sample(v);
                }
            }
            let put = tx.push_slice(buf);
            if put < buf.len() && cc.armed.load(Ordering::Relaxed) {
                cc.overruns.fetch_add(1, Ordering::Relaxed);
                cc.overrun_samples
                    .fetch_add((buf.len() - put) as u64, Ordering::Relaxed);
            }
            cc.in_callbacks.fetch_add(1, Ordering::Relaxed);
        },
        err_cb(c),
        None,
    )
}

/// Open one direction by the ladder: the first buffer size that builds, else the device's
/// default (reported as such in the returned [`Granted`]).
fn open_side<S>(
    output: bool,
    opts: &CardOpts,
    build: &mut dyn FnMut(
        &cpal::Device,
        &cpal::StreamConfig,
        cpal::SampleFormat,
    ) -> Result<S, cpal::BuildStreamError>,
) -> Result<(Granted, S), String> {
    let h = super::host();
    let what = if output { "output" } else { "input" };
    let dev = if output {
        h.default_output_device()
    } else {
        h.default_input_device()
    }
    .ok_or_else(|| format!("no {what} device (is a sound card or the loopback running?)"))?;
    let name = dev.name().unwrap_or_default();
    let ranges: Vec<_> = if output {
        dev.supported_output_configs().map(|r| r.collect())
    } else {
        dev.supported_input_configs().map(|r| r.collect())
    }
    .map_err(|e| match e {
        // cpal says "no longer available … unplugged" also when there never was one.
        cpal::SupportedStreamConfigsError::DeviceNotAvailable => format!(
            "{what} `{name}`: no sound card answers (none is installed, or no sound server runs; a loopback: docs/live.md)"
        ),
        e => format!("{what} {name}: {e}"),
    })?;
    let default = if output {
        dev.default_output_config().ok()
    } else {
        dev.default_input_config().ok()
    };
    let cfg = super::pick(&ranges, default, opts.first + opts.channels).ok_or_else(|| {
        format!(
            "{what} {name}: no 16-bit or float format with {} channel(s)",
            opts.first + opts.channels
        )
    })?;
    let mut g = Granted {
        name,
        rate: cfg.sample_rate().0,
        device_channels: cfg.channels(),
        format: cfg.sample_format(),
        buffer: None,
        refused: Vec::new(),
    };
    let mut conf = cfg.config();
    for frames in super::ladder(g.rate, opts.buffer_ms) {
        conf.buffer_size = cpal::BufferSize::Fixed(frames);
        match build(&dev, &conf, g.format) {
            Ok(s) => {
                g.buffer = Some(frames);
                return Ok((g, s));
            }
            Err(_) => g.refused.push(frames),
        }
    }
    conf.buffer_size = cpal::BufferSize::Default;
    let s = build(&dev, &conf, g.format).map_err(|e| format!("{what} {}: {e}", g.name))?;
    Ok((g, s))
}

impl Card {
    /// Open the default input and/or output for `opts.channels` lines (not started).
    pub fn open(opts: &CardOpts) -> Result<Card, String> {
        let n = opts.channels.max(1);
        let priority = super::raise_priority();
        let counters = Arc::new(CardCounters::default());
        let (mut in_stream, mut out_stream) = (None, None);
        let (mut input, mut output, mut cap, mut play) = (None, None, None, None);
        let (mut ups, mut downs) = (Vec::new(), Vec::new());
        if opts.input {
            let c = &counters;
            let (g, (s, rx)) = open_side(false, opts, &mut |dev, conf, fmt| {
                let (tx, rx) = ring(conf.sample_rate.0 as usize * n, 1);
                let s = match fmt {
                    cpal::SampleFormat::F32 => build_in::<f32>(dev, conf, (opts.first, n), tx, c),
                    _ => build_in::<i16>(dev, conf, (opts.first, n), tx, c),
                }?;
                Ok((s, rx))
            })?;
            for _ in 0..n {
                downs.push(Resampler::new(g.rate, SAMPLE_RATE)?);
            }
            in_stream = Some(s);
            cap = Some(rx);
            input = Some(g);
        }
        if opts.output {
            let c = &counters;
            let (g, (s, tx)) = open_side(true, opts, &mut |dev, conf, fmt| {
                let (tx, rx) = ring(conf.sample_rate.0 as usize * n, 1);
                let s = match fmt {
                    cpal::SampleFormat::F32 => build_out::<f32>(dev, conf, (opts.first, n), rx, c),
                    _ => build_out::<i16>(dev, conf, (opts.first, n), rx, c),
                }?;
                Ok((s, tx))
            })?;
            for _ in 0..n {
                ups.push(Resampler::new(SAMPLE_RATE, g.rate)?);
            }
            out_stream = Some(s);
            play = Some(tx);
            output = Some(g);
        }
        let card = Card {
            input,
            output,
            in_stream,
            out_stream,
            cap,
            play,
            n,
            block: opts.block,
            ups,
            downs,
            counters,
            started: None,
            priority,
            settle: Settle::new(),
            scratch: vec![0; 8192 * n],
            inter: Vec::new(),
            fbuf: Vec::new(),
        };
        Ok(card)
    }

    /// Lines carried.
    pub fn channels(&self) -> usize {
        self.n
    }

    /// The output ring primed with silence: the device buffer plus one block (the device takes
    /// its whole buffer at the first callback; the block is our margin against jitter).
    fn prime(&mut self) {
        let Some(g) = &self.output else { return };
        let buf = g.buffer.unwrap_or(g.rate / 10) as usize;
        let block = (self.block as u64 * g.rate as u64 / SAMPLE_RATE as u64) as usize;
        let zeros = vec![0i16; (buf + block) * self.n];
        if let Some(p) = &mut self.play {
            p.push_slice(&zeros);
        }
    }

    /// Start the streams: the input first; once it delivers, whatever it queued meanwhile is
    /// dropped, the output ring is primed (the device buffer plus one block) and the output
    /// started. The level our ring stands at is fixed at this moment (both streams then run on
    /// the card's clock), so it must not depend on how long the input took to start or on a
    /// burst it delivered first; [`Card::write`] then trims it to one block.
    pub fn start(&mut self) -> Result<(), String> {
        let start = |s: &cpal::Stream| {
            s.play()
                .map_err(|e| format!("cannot start the sound card: {e}"))
        };
        if let (Some(s), Some(cap)) = (&self.in_stream, &mut self.cap) {
            start(s)?;
            let until = Instant::now() + Duration::from_secs(2);
            while cap.occupied_len() == 0 {
                if Instant::now() > until {
                    return Err("the sound card's input delivered nothing in 2 s".into());
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            cap.clear();
        }
        self.prime();
        if let Some(s) = &self.out_stream {
            start(s)?;
        }
        self.counters.armed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Stop counting under/overruns (before the streams drain or close).
    pub fn disarm(&self) {
        self.counters.armed.store(false, Ordering::Relaxed);
    }

    /// Queue one block per line (8 kHz; equal lengths). Waits only if the ring is full.
    pub fn write(&mut self, blocks: &[&[i16]]) {
        debug_assert_eq!(blocks.len(), self.n, "one block per line");
        let Some(play) = &mut self.play else { return };
        let n = self.n;
        let mut frames = usize::MAX;
        for (up, b) in self.ups.iter_mut().zip(blocks) {
            self.fbuf.clear();
            self.fbuf.extend(b.iter().map(|&v| v as f32));
            up.push(&self.fbuf);
            frames = frames.min(up.ready());
        }
        if frames == usize::MAX || frames == 0 {
            return;
        }
        self.inter.clear();
        self.inter.resize(frames * n, 0);
        self.fbuf.resize(frames, 0.0);
        for (k, up) in self.ups.iter_mut().enumerate() {
            up.pop(&mut self.fbuf[..frames]);
            for (i, &v) in self.fbuf[..frames].iter().enumerate() {
                self.inter[i * n + k] = v.round().clamp(-32768.0, 32767.0) as i16;
            }
        }
        // How much of the primed ring the device keeps is the device's business (the PulseAudio
        // plugin takes ~6 ms of its 16 ms buffer at first, not all of it), and a stall in the
        // sound server (it consumed less than real time, while the input went on) leaves the ring
        // standing higher for good: latency added, and nothing in cpal says so. So watch the
        // ring's low point before a write over windows — writes 5 … 20 (50–200 ms in, the lines
        // still idle), then every second — and drop the output above one block of margin. At
        // start that is settling; later it is a stall, counted with the xruns.
        let queued = play.occupied_len() / n;
        let block =
            self.block * self.output.as_ref().map_or(1, |g| g.rate as usize) / SAMPLE_RATE as usize;
        if let Some(frames) = self.settle.on_write(queued, block) {
            self.counters.stalls.fetch_add(1, Ordering::Relaxed);
            self.counters
                .stall_frames
                .fetch_add(frames as u64, Ordering::Relaxed);
        }
        let st = &mut self.settle;
        let skip = st.trim.min(frames);
        st.trim -= skip;
        crate::engine::ring::push_wait(play, &self.inter[skip * n..]);
    }

    /// Frames queued for the output (device rate).
    pub fn queued_out(&self) -> usize {
        self.play.as_ref().map_or(0, |p| p.occupied_len() / self.n)
    }

    /// Fill one block per line with the next 8 kHz input, waiting up to `timeout`.
    pub fn read(&mut self, outs: &mut [&mut [i16]], timeout: Duration) -> Result<(), CardError> {
        let n = self.n;
        let len = outs.first().map_or(0, |o| o.len());
        let Some(cap) = &mut self.cap else {
            return Err(CardError::Stalled);
        };
        let until = Instant::now() + timeout;
        while self.downs.iter().any(|d| d.ready() < len) {
            if self.counters.gone.load(Ordering::Relaxed) {
                return Err(CardError::Gone);
            }
            let got = cap.pop_slice(&mut self.scratch) / n * n;
            if got > 0 {
                self.started.get_or_insert_with(Instant::now);
                for (k, d) in self.downs.iter_mut().enumerate() {
                    self.fbuf.clear();
                    self.fbuf.extend(
                        self.scratch[..got]
                            .iter()
                            .skip(k)
                            .step_by(n)
                            .map(|&v| v as f32),
                    );
                    d.push(&self.fbuf);
                }
            } else if Instant::now() > until {
                return Err(CardError::Stalled);
            } else {
                // Half a millisecond: fine against a 2–4 ms device period.
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        self.fbuf.resize(len, 0.0);
        for (o, d) in outs.iter_mut().zip(self.downs.iter_mut()) {
            d.pop(&mut self.fbuf[..len]);
            for (x, &v) in o.iter_mut().zip(&self.fbuf[..len]) {
                *x = v.round().clamp(-32768.0, 32767.0) as i16;
            }
        }
        Ok(())
    }

    /// One line for the log: what was granted and what the callbacks counted.
    pub fn describe(&self) -> String {
        let mut s = Vec::new();
        if let Some(g) = &self.output {
            s.push(format!("output {g}"));
        }
        if let Some(g) = &self.input {
            s.push(format!("input {g}"));
        }
        s.push(self.priority.clone());
        s.join("; ")
    }

    /// The counters in one line.
    pub fn tally(&self) -> String {
        let c = &self.counters;
        format!(
            "xruns: {} ({} late output callbacks, {} samples of silence played; {} late input callbacks, {} samples dropped; {} device stalls, {} frames of output dropped to restore the latency), stream errors: {}",
            c.xruns(),
            c.underruns.load(Ordering::Relaxed),
            c.underrun_samples.load(Ordering::Relaxed),
            c.overruns.load(Ordering::Relaxed),
            c.overrun_samples.load(Ordering::Relaxed),
            c.stalls.load(Ordering::Relaxed),
            c.stall_frames.load(Ordering::Relaxed),
            c.stream_errors.load(Ordering::Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Settle;

    /// `n` writes whose pre-write level saw-tooths between `lo` and `lo + 32` frames (the
    /// device's periods); returns the stalls reported.
    fn run(s: &mut Settle, n: usize, lo: usize) -> Vec<usize> {
        let mut stalls = Vec::new();
        for k in 0..n {
            stalls.extend(s.on_write(lo + (k % 2) * 32, 80));
            s.trim = 0;
        }
        stalls
    }

    #[test]
    fn the_ring_settles_to_one_block_and_a_stall_is_counted_and_undone() {
        let mut s = Settle::new();
        // Start: the device kept little of the priming; the ring stands at 160 frames.
        for _ in 0..19 {
            assert_eq!(s.on_write(160, 80), None);
        }
        assert_eq!(s.on_write(165, 80), None, "settling is not a stall");
        assert_eq!(s.trim, 80, "down to one block");
        s.trim = 0;
        // Steady at one block for ten seconds: nothing.
        assert!(run(&mut s, 1000, 80).is_empty());
        // Within half a block of it: still nothing.
        assert!(run(&mut s, 300, 110).is_empty());
        // The server stalled for 100 ms: the ring stands 800 frames higher for a second.
        assert_eq!(run(&mut s, 100, 880), vec![800]);
        // A late loop leaves the ring lower, never a stall.
        assert!(run(&mut s, 500, 20).is_empty());
    }
}
