//! Live sound-card I/O (cargo feature `live`, cpal): list devices, play signalling, listen and
//! detect, measure a loopback round trip, and put the sound card on a trunk of a running tandem.
//!
//! The real-time path is the two cpal callbacks and nothing else: the output callback pops
//! device-rate samples from a ring, the input callback pushes them into another (first channel
//! only), both with [`try_pop`]/[`try_push`] — no allocation, lock, print or wait; what they
//! cannot move is counted as under/overrun. Rate conversion to and from 8 kHz happens on the
//! engine's side of the rings ([`crate::audio::resample::Stream`]); a device that runs at 8 kHz
//! itself (PulseAudio does) needs none.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use crate::audio::resample::Stream as Resampler;
use crate::engine::ring::{ring, try_pop, try_push, Counters, Rx, Tx};
use crate::units::SAMPLE_RATE;

/// Ring length in device samples (1 s at 48 kHz).
const RING: usize = 48_000;

/// One opened device direction.
pub struct Opened {
    pub name: String,
    pub rate: u32,
    pub channels: u16,
    pub stream: cpal::Stream,
}

fn host() -> cpal::Host {
    // Name the host: with other hosts compiled in, `default_host` may prefer them.
    cpal::host_from_id(cpal::HostId::Alsa).unwrap_or_else(|_| cpal::default_host())
}

/// The stream config, asking for a 20 ms device buffer when the device allows it (the default
/// buffer of the ALSA PulseAudio plugin adds ~200 ms each way).
fn config_of(cfg: &cpal::SupportedStreamConfig) -> cpal::StreamConfig {
    let mut c = cfg.config();
    let want = cfg.sample_rate().0 / 50;
    if let cpal::SupportedBufferSize::Range { min, max } = cfg.buffer_size() {
        if (*min..=*max).contains(&want) {
            c.buffer_size = cpal::BufferSize::Fixed(want);
        }
    }
    c
}

/// Pick a config: 8 kHz if the device does it, else its default rate; f32 or i16 samples.
fn pick(
    ranges: Vec<cpal::SupportedStreamConfigRange>,
    default: Option<cpal::SupportedStreamConfig>,
) -> Option<cpal::SupportedStreamConfig> {
    let ok = |f: cpal::SampleFormat| matches!(f, cpal::SampleFormat::F32 | cpal::SampleFormat::I16);
    if let Some(r) = ranges.iter().find(|r| {
        ok(r.sample_format())
            && r.min_sample_rate().0 <= SAMPLE_RATE
            && r.max_sample_rate().0 >= SAMPLE_RATE
    }) {
        return Some((*r).with_sample_rate(cpal::SampleRate(SAMPLE_RATE)));
    }
    default.filter(|d| ok(d.sample_format()))
}

/// Describe the default host's devices (defaults only: enumerating every ALSA device prints
/// warnings from plugins that have no hardware behind them).
pub fn devices() -> Result<String, String> {
    let h = host();
    let mut s = format!("host: {:?}\n", h.id());
    match h.default_output_device() {
        Some(d) => {
            let c = d
                .default_output_config()
                .map(|c| {
                    format!(
                        "{} Hz, {} ch, {:?}",
                        c.sample_rate().0,
                        c.channels(),
                        c.sample_format()
                    )
                })
                .unwrap_or_else(|e| format!("no config: {e}"));
            s += &format!("output: {} ({c})\n", d.name().unwrap_or_default());
        }
        None => s += "output: none\n",
    }
    match h.default_input_device() {
        Some(d) => {
            let c = d
                .default_input_config()
                .map(|c| {
                    format!(
                        "{} Hz, {} ch, {:?}",
                        c.sample_rate().0,
                        c.channels(),
                        c.sample_format()
                    )
                })
                .unwrap_or_else(|e| format!("no config: {e}"));
            s += &format!("input: {} ({c})\n", d.name().unwrap_or_default());
        }
        None => s += "input: none\n",
    }
    Ok(s)
}

/// Open the default output: the callback plays what is in the returned ring (device rate,
/// mono, on every channel), silence when it runs dry (counted).
pub fn open_output(c: Arc<Counters>) -> Result<(Opened, Tx), String> {
    let h = host();
    let dev = h
        .default_output_device()
        .ok_or("no output device (is a sound card or the loopback running?)")?;
    let name = dev.name().unwrap_or_default();
    let ranges = dev
        .supported_output_configs()
        .map_err(|e| format!("output {name}: {e}"))?
        .collect();
    let cfg = pick(ranges, dev.default_output_config().ok())
        .ok_or_else(|| format!("output {name}: no 16-bit or float format"))?;
    let (rate, channels) = (cfg.sample_rate().0, cfg.channels());
    let ch = channels as usize;
    let build = |conf: &cpal::StreamConfig| -> Result<(cpal::Stream, Tx), cpal::BuildStreamError> {
        let (tx, mut rx) = ring(RING, 1);
        let c = c.clone();
        let err = |e: cpal::StreamError| eprintln!("e911 live: output stream: {e}");
        let mut mono = vec![0i16; 8192];
        let s = match cfg.sample_format() {
            cpal::SampleFormat::F32 => dev.build_output_stream(
                conf,
                move |data: &mut [f32], _| {
                    let n = (data.len() / ch).min(mono.len());
                    try_pop(&mut rx, &mut mono[..n], &c);
                    for (f, &s) in data.chunks_mut(ch).zip(&mono[..n]) {
                        f.fill(s as f32 / 32768.0);
                    }
                    c.callbacks.fetch_add(1, Ordering::Relaxed);
                },
                err,
                None,
            ),
            _ => dev.build_output_stream(
                conf,
                move |data: &mut [i16], _| {
                    let n = (data.len() / ch).min(mono.len());
                    try_pop(&mut rx, &mut mono[..n], &c);
                    for (f, &s) in data.chunks_mut(ch).zip(&mono[..n]) {
                        f.fill(s);
                    }
                    c.callbacks.fetch_add(1, Ordering::Relaxed);
                },
                err,
                None,
            ),
        }?;
        Ok((s, tx))
    };
    // A short device buffer if the device takes it, else its default.
    let (stream, tx) = build(&config_of(&cfg))
        .or_else(|_| build(&cfg.config()))
        .map_err(|e| format!("output {name}: {e}"))?;
    Ok((
        Opened {
            name,
            rate,
            channels,
            stream,
        },
        tx,
    ))
}

/// Open the default input: the callback pushes the first channel into the returned ring
/// (device rate).
pub fn open_input(c: Arc<Counters>) -> Result<(Opened, Rx), String> {
    let h = host();
    let dev = h
        .default_input_device()
        .ok_or("no input device (is a sound card or the loopback running?)")?;
    let name = dev.name().unwrap_or_default();
    let ranges = dev
        .supported_input_configs()
        .map_err(|e| format!("input {name}: {e}"))?
        .collect();
    let cfg = pick(ranges, dev.default_input_config().ok())
        .ok_or_else(|| format!("input {name}: no 16-bit or float format"))?;
    let (rate, channels) = (cfg.sample_rate().0, cfg.channels());
    let ch = channels as usize;
    let build = |conf: &cpal::StreamConfig| -> Result<(cpal::Stream, Rx), cpal::BuildStreamError> {
        let (mut tx, rx) = ring(RING, 1);
        let c = c.clone();
        let err = |e: cpal::StreamError| eprintln!("e911 live: input stream: {e}");
        let mut mono = vec![0i16; 8192];
        let s = match cfg.sample_format() {
            cpal::SampleFormat::F32 => dev.build_input_stream(
                conf,
                move |data: &[f32], _| {
                    let n = (data.len() / ch).min(mono.len());
                    for (d, f) in mono[..n].iter_mut().zip(data.chunks(ch)) {
                        *d = (f[0] * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                    }
                    try_push(&mut tx, &mono[..n], &c);
                    c.callbacks.fetch_add(1, Ordering::Relaxed);
                },
                err,
                None,
            ),
            _ => dev.build_input_stream(
                conf,
                move |data: &[i16], _| {
                    let n = (data.len() / ch).min(mono.len());
                    for (d, f) in mono[..n].iter_mut().zip(data.chunks(ch)) {
                        *d = f[0];
                    }
                    try_push(&mut tx, &mono[..n], &c);
                    c.callbacks.fetch_add(1, Ordering::Relaxed);
                },
                err,
                None,
            ),
        }?;
        Ok((s, rx))
    };
    let (stream, rx) = build(&config_of(&cfg))
        .or_else(|_| build(&cfg.config()))
        .map_err(|e| format!("input {name}: {e}"))?;
    Ok((
        Opened {
            name,
            rate,
            channels,
            stream,
        },
        rx,
    ))
}

/// The engine side of a duplex sound card at 8 kHz: `read` blocks of what the input heard,
/// `write` blocks to play. Resamples when the device is not at 8 kHz.
pub struct Duplex {
    pub input: Option<Opened>,
    pub output: Option<Opened>,
    cap: Option<Rx>,
    play: Option<Tx>,
    up: Option<Resampler>,
    down: Option<Resampler>,
    pub counters: Arc<Counters>,
    /// When the first input samples were seen.
    pub started: Option<Instant>,
    scratch: Vec<i16>,
    fbuf: Vec<f32>,
}

impl Duplex {
    /// Open the default input and/or output.
    pub fn open(input: bool, output: bool) -> Result<Duplex, String> {
        let counters = Arc::new(Counters::default());
        let (mut d, mut cap, mut play, mut up, mut down) = (None, None, None, None, None);
        let mut o = None;
        if output {
            let (op, tx) = open_output(counters.clone())?;
            up = Some(Resampler::new(SAMPLE_RATE, op.rate)?);
            play = Some(tx);
            o = Some(op);
        }
        if input {
            let (ip, rx) = open_input(counters.clone())?;
            down = Some(Resampler::new(ip.rate, SAMPLE_RATE)?);
            cap = Some(rx);
            d = Some(ip);
        }
        Ok(Duplex {
            input: d,
            output: o,
            cap,
            play,
            up,
            down,
            counters,
            started: None,
            scratch: vec![0; 4096],
            fbuf: Vec::new(),
        })
    }

    /// Start both streams (input first, so nothing played is missed).
    pub fn start(&self) -> Result<(), String> {
        if let Some(i) = &self.input {
            i.stream.play().map_err(|e| format!("input: {e}"))?;
        }
        if let Some(o) = &self.output {
            o.stream.play().map_err(|e| format!("output: {e}"))?;
        }
        Ok(())
    }

    /// Queue 8 kHz samples for the output (waits while the ring is full).
    pub fn write(&mut self, x: &[i16]) {
        let (Some(up), Some(play)) = (&mut self.up, &mut self.play) else {
            return;
        };
        let f: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        up.push(&f);
        let mut buf = vec![0f32; up.ready()];
        up.pop(&mut buf);
        let y: Vec<i16> = buf
            .iter()
            .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        crate::engine::ring::push_wait(play, &y);
    }

    /// Samples queued for the output, at the device rate.
    pub fn queued_out(&self) -> usize {
        self.play
            .as_ref()
            .map_or(0, |p| RING - ringbuf::traits::Observer::vacant_len(p))
    }

    /// Fill `out` with the next 8 kHz input samples, waiting up to `timeout` for them.
    pub fn read(&mut self, out: &mut [i16], timeout: Duration) -> bool {
        let (Some(down), Some(cap)) = (&mut self.down, &mut self.cap) else {
            return false;
        };
        let until = Instant::now() + timeout;
        while down.ready() < out.len() {
            let n = ringbuf::traits::Consumer::pop_slice(cap, &mut self.scratch);
            if n > 0 {
                self.started.get_or_insert_with(Instant::now);
                let f: Vec<f32> = self.scratch[..n].iter().map(|&v| v as f32).collect();
                down.push(&f);
            } else if Instant::now() > until {
                return false;
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.fbuf.resize(out.len(), 0.0);
        down.pop(&mut self.fbuf);
        for (d, &s) in out.iter_mut().zip(&self.fbuf) {
            *d = s.round().clamp(-32768.0, 32767.0) as i16;
        }
        true
    }
}
