//! WAV files read as a stream: the header is checked when the file is opened, then the audio
//! comes out block by block as 8 kHz 16-bit channels, whatever the encoding (8/16/24/32-bit PCM,
//! 32-bit float through hound; μ-law and A-law, which hound does not read, from the data chunk)
//! and rate (rubato, block by block, the same samples as converting the whole file at once). A
//! long recording costs the memory of one block, not of its length.

use std::collections::VecDeque;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rubato::{FftFixedInOut, Resampler};

use super::wav::{bad, unsupported, WavError, MAX_RATE, MIN_RATE};
use crate::dsp::g711::Law;
use crate::units::SAMPLE_RATE;

/// What a stream reads from: a file, or bytes already in memory.
pub trait Input: Read + Seek + Send {}
impl<T: Read + Seek + Send> Input for T {}

type Src<'a> = BufReader<Box<dyn Input + 'a>>;

enum Raw<'a> {
    /// PCM 16-bit: the data chunk's bytes, `left` of them still to read.
    Pcm16 { r: Src<'a>, left: u64 },
    /// G.711 bytes, one per sample.
    G711 { r: Src<'a>, left: u64, law: Law },
    /// Anything else hound reads, scaled to 16-bit units.
    Int {
        s: hound::WavIntoSamples<Src<'a>, i32>,
        scale: f32,
    },
    Float {
        s: hound::WavIntoSamples<Src<'a>, f32>,
    },
}

/// A WAV file being read.
pub struct WavStream<'a> {
    path: PathBuf,
    channels: usize,
    source_rate: u32,
    frames: u64,
    raw: Raw<'a>,
    rs: Option<FileResampler>,
    damaged: Option<String>,
    /// hound's declared frames (for its truncation message) and the frames decoded so far.
    declared_frames: u64,
    decoded: u64,
    bytes: Vec<u8>,
    flat: Vec<f32>,
    done: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WavError + '_ {
    move |source| WavError::Io {
        path: path.to_path_buf(),
        op: "cannot read",
        source,
    }
}

/// A valid WAV encoding this tool does not read, by its `fmt ` tag and bits (the WAV crate calls
/// some of these ill-formed; they are not): what to say, with what to convert to.
fn not_read(tag: u16, bits: u16) -> Option<String> {
    let name = match tag {
        1 | 6 | 7 | 0xFFFE => return None,
        3 if bits == 32 => return None,
        3 => format!("{bits}-bit float"),
        2 => "Microsoft ADPCM".into(),
        0x11 => "IMA ADPCM".into(),
        0x31 => "GSM 6.10".into(),
        0x55 => "MPEG layer 3".into(),
        t => format!("format tag 0x{t:04X}"),
    };
    Some(format!(
        "{name} WAV: unsupported (a valid encoding this tool does not read); convert it to 16-bit PCM (e.g. `sox IN.wav -e signed -b 16 OUT.wav`)"
    ))
}

/// The chunks a stream needs: the `fmt ` body and where the data chunk starts, its declared
/// length and the length present in the file.
struct Layout {
    fmt: Option<Vec<u8>>,
    data: Option<(u64, u64, u64)>,
}

fn layout(path: &Path, r: &mut dyn Input, file_len: u64) -> Result<Layout, WavError> {
    let mut head = [0u8; 12];
    r.seek(SeekFrom::Start(0)).map_err(io(path))?;
    r.read_exact(&mut head).map_err(io(path))?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(bad(path, "not a WAV file (no RIFF/WAVE header)"));
    }
    let mut l = Layout {
        fmt: None,
        data: None,
    };
    let mut pos = 12u64;
    while pos + 8 <= file_len && (l.fmt.is_none() || l.data.is_none()) {
        let mut h = [0u8; 8];
        r.seek(SeekFrom::Start(pos)).map_err(io(path))?;
        r.read_exact(&mut h).map_err(io(path))?;
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as u64;
        let body = pos + 8;
        let present = len.min(file_len - body);
        match &h[0..4] {
            b"fmt " if l.fmt.is_none() => {
                let mut f = vec![0u8; present.min(64) as usize];
                r.read_exact(&mut f).map_err(io(path))?;
                l.fmt = Some(f);
            }
            b"data" if l.data.is_none() => l.data = Some((body, len, present)),
            _ => {}
        }
        pos = body + len + (len & 1);
    }
    Ok(l)
}

impl<'a> WavStream<'a> {
    /// Open a WAV file: its header is checked now, the audio read by [`WavStream::read`].
    pub fn open(path: &Path) -> Result<WavStream<'static>, WavError> {
        let f = std::fs::File::open(path).map_err(io(path))?;
        let len = f.metadata().map_err(io(path))?.len();
        WavStream::from_input(path, Box::new(f), len)
    }

    /// As [`WavStream::open`], from bytes in memory (`path` names them in errors).
    pub fn from_bytes(path: &Path, bytes: &'a [u8]) -> Result<WavStream<'a>, WavError> {
        WavStream::from_input(
            path,
            Box::new(std::io::Cursor::new(bytes)),
            bytes.len() as u64,
        )
    }

    fn from_input(
        path: &Path,
        mut input: Box<dyn Input + 'a>,
        file_len: u64,
    ) -> Result<WavStream<'a>, WavError> {
        if file_len == 0 {
            return Err(bad(path, "empty file"));
        }
        if file_len < 12 {
            return Err(bad(path, "not a WAV file (no RIFF/WAVE header)"));
        }
        let l = layout(path, &mut *input, file_len)?;
        let fmt = l.fmt.as_deref().filter(|f| f.len() >= 16);
        let field16 = |f: &[u8], i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
        let (tag, ch, rate, bits) = match fmt {
            Some(f) => (
                field16(f, 0),
                field16(f, 2) as usize,
                u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                field16(f, 14),
            ),
            None => (0, 0, 0, 0),
        };
        // WAVE_FORMAT_EXTENSIBLE (what hound writes for > 2 channels) with the PCM sub-format.
        let pcm = tag == 1
            || (tag == 0xFFFE && fmt.is_some_and(|f| f.len() >= 26 && field16(f, 24) == 1));
        let path_buf = path.to_path_buf();
        let mut damaged = None;
        let (raw, frames_in, declared_frames) = if fmt.is_some()
            && ((pcm && bits == 16 && rate == SAMPLE_RATE && ch > 0) || tag == 7 || tag == 6)
        {
            let g711 = tag == 7 || tag == 6;
            if ch == 0 {
                return Err(bad(path, "zero channels"));
            }
            let (off, declared, present) = l.data.ok_or_else(|| bad(path, "no data chunk"))?;
            let frame = if g711 { ch as u64 } else { 2 * ch as u64 };
            let frames = present / frame;
            if declared > present || present % frame != 0 {
                damaged = Some(if g711 {
                    format!(
                        "truncated: data chunk declares {declared} bytes, {present} present; decoded {frames} complete frames"
                    )
                } else {
                    format!(
                        "truncated: data chunk declares {} frames, {frames} complete frames present",
                        declared / frame
                    )
                });
            }
            input.seek(SeekFrom::Start(off)).map_err(io(path))?;
            let r = BufReader::with_capacity(1 << 16, input);
            let left = frames * frame;
            let raw = match tag {
                7 => Raw::G711 {
                    r,
                    left,
                    law: Law::Ulaw,
                },
                6 => Raw::G711 {
                    r,
                    left,
                    law: Law::Alaw,
                },
                _ => Raw::Pcm16 { r, left },
            };
            (raw, frames, 0)
        } else {
            if let Some(why) = fmt.and_then(|_| not_read(tag, bits)) {
                return Err(unsupported(path, why));
            }
            input.seek(SeekFrom::Start(0)).map_err(io(path))?;
            let reader = hound::WavReader::new(BufReader::with_capacity(1 << 16, input))
                .map_err(|e| match e {
                    hound::Error::Unsupported => unsupported(
                        path,
                        "unsupported WAV encoding (supported: PCM 8/16/24/32-bit, float 32-bit, μ-law, A-law)",
                    ),
                    other => bad(path, format!("bad WAV: {other}")),
                })?;
            let spec = reader.spec();
            let ch = spec.channels as usize;
            if ch == 0 {
                return Err(bad(path, "zero channels"));
            }
            let declared = reader.len() as u64;
            let width = spec.bits_per_sample.div_ceil(8).max(1) as u64;
            // Whole samples present (the data chunk may be cut short).
            let present = l
                .data
                .map_or(declared, |(_, _, p)| (p / width).min(declared));
            if present == declared && !declared.is_multiple_of(ch as u64) {
                return Err(WavError::Truncated {
                    path: path_buf,
                    msg: "data ends mid-frame".into(),
                });
            }
            let raw = match spec.sample_format {
                hound::SampleFormat::Float => {
                    if spec.bits_per_sample != 32 {
                        return Err(unsupported(
                            path,
                            format!("unsupported float width {} bits", spec.bits_per_sample),
                        ));
                    }
                    Raw::Float {
                        s: reader.into_samples::<f32>(),
                    }
                }
                hound::SampleFormat::Int => {
                    let bits = spec.bits_per_sample;
                    if !(1..=32).contains(&bits) {
                        return Err(unsupported(
                            path,
                            format!("unsupported PCM width {bits} bits"),
                        ));
                    }
                    Raw::Int {
                        s: reader.into_samples::<i32>(),
                        scale: 2f32.powi(16 - bits as i32),
                    }
                }
            };
            return WavStream::finish_open(
                path_buf,
                raw,
                ch,
                spec.sample_rate,
                present / ch as u64,
                declared / ch as u64,
                None,
            );
        };
        WavStream::finish_open(path_buf, raw, ch, rate, frames_in, declared_frames, damaged)
    }

    fn finish_open(
        path: PathBuf,
        raw: Raw<'a>,
        channels: usize,
        rate: u32,
        frames_in: u64,
        declared_frames: u64,
        damaged: Option<String>,
    ) -> Result<WavStream<'a>, WavError> {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(unsupported(
                &path,
                format!("sample rate {rate} Hz is outside {MIN_RATE}–{MAX_RATE} Hz"),
            ));
        }
        let rs = (rate != SAMPLE_RATE)
            .then(|| FileResampler::new(rate, SAMPLE_RATE, channels, frames_in))
            .transpose()
            .map_err(|m| unsupported(&path, m))?;
        let frames = match &rs {
            Some(r) => r.expected as u64,
            None => frames_in,
        };
        Ok(WavStream {
            path,
            channels,
            source_rate: rate,
            frames,
            raw,
            rs,
            damaged,
            declared_frames,
            decoded: 0,
            bytes: Vec::new(),
            flat: Vec::new(),
            done: false,
        })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The file's rate before resampling.
    pub fn source_rate(&self) -> u32 {
        self.source_rate
    }

    /// 8 kHz frames the stream gives (fewer if the file holds bad sample data part way).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// What was wrong with the file, once known (a truncated data chunk is known at open; bad
    /// sample data when the stream reaches it). The audio before it is read normally.
    pub fn damaged(&self) -> Option<String> {
        self.damaged
            .as_ref()
            .map(|m| format!("{}: {m}", self.path.display()))
    }

    /// The next up to `max` frames into `out` (one vector per channel, cleared first). Returns
    /// how many; 0 at the end.
    pub fn read(&mut self, max: usize, out: &mut [Vec<i16>]) -> Result<usize, WavError> {
        for o in out.iter_mut() {
            o.clear();
        }
        let ch = self.channels;
        if self.rs.is_none() {
            if let Raw::Pcm16 { r, left } = &mut self.raw {
                let n = (max as u64).min(*left / (2 * ch) as u64) as usize;
                self.bytes.resize(n * 2 * ch, 0);
                r.read_exact(&mut self.bytes).map_err(io(&self.path))?;
                *left -= self.bytes.len() as u64;
                // One pass over the frames, a few of them at a time into every channel: a pass
                // per channel would read the whole block once for each.
                let out = &mut out[..ch];
                for o in out.iter_mut() {
                    o.resize(n, 0);
                }
                const RUN: usize = 64;
                for (run, frames) in self.bytes.chunks(RUN * 2 * ch).enumerate() {
                    let at = run * RUN;
                    for (c, o) in out.iter_mut().enumerate() {
                        let dst = &mut o[at..at + frames.len() / (2 * ch)];
                        for (d, f) in dst.iter_mut().zip(frames.chunks_exact(2 * ch)) {
                            *d = i16::from_le_bytes([f[2 * c], f[2 * c + 1]]);
                        }
                    }
                }
                return Ok(n);
            }
        }
        // Decoded to f32 (16-bit units), then resampled or rounded.
        loop {
            if let Some(rs) = &mut self.rs {
                if rs.ready() >= max || (self.done && rs.finished()) {
                    let n = rs.pop(max, out);
                    return Ok(n);
                }
                if self.done {
                    rs.flush().map_err(|m| unsupported(&self.path, m))?;
                    continue;
                }
            }
            let want = if self.rs.is_some() { 1024 } else { max };
            let n = self.decode(want)?;
            match &mut self.rs {
                Some(rs) => {
                    rs.push(&self.flat[..n * ch], ch)
                        .map_err(|m| unsupported(&self.path, m))?;
                    if n == 0 {
                        self.done = true;
                    }
                }
                None => {
                    for (c, o) in out.iter_mut().enumerate().take(ch) {
                        o.extend(
                            self.flat[..n * ch]
                                .iter()
                                .skip(c)
                                .step_by(ch)
                                .map(|v| v.round().clamp(-32768.0, 32767.0) as i16),
                        );
                    }
                    return Ok(n);
                }
            }
        }
    }

    /// Up to `frames` whole frames into `self.flat` (interleaved); 0 at the end.
    fn decode(&mut self, frames: usize) -> Result<usize, WavError> {
        let ch = self.channels;
        self.flat.clear();
        if self.done {
            return Ok(0);
        }
        let law = match &self.raw {
            Raw::G711 { law, .. } => Some(*law),
            _ => None,
        };
        let failed = match &mut self.raw {
            Raw::Pcm16 { r, left } | Raw::G711 { r, left, .. } => {
                let width = if law.is_some() { 1 } else { 2 };
                let n = (frames as u64).min(*left / (width * ch) as u64) as usize;
                self.bytes.resize(n * width * ch, 0);
                r.read_exact(&mut self.bytes).map_err(io(&self.path))?;
                *left -= self.bytes.len() as u64;
                match law {
                    Some(l) => self
                        .flat
                        .extend(self.bytes.iter().map(|&b| l.decode(b) as f32)),
                    None => self.flat.extend(
                        self.bytes
                            .chunks_exact(2)
                            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32),
                    ),
                }
                None
            }
            Raw::Int { s, scale } => {
                let scale = *scale;
                pull(s, frames * ch, &mut self.flat, |v| v as f32 * scale)
            }
            Raw::Float { s } => pull(s, frames * ch, &mut self.flat, |v: f32| {
                if v.is_finite() {
                    v * 32768.0
                } else {
                    0.0
                }
            }),
        };
        if let Some(e) = failed {
            let at = self.decoded + (self.flat.len() / ch) as u64;
            self.damaged
                .get_or_insert(damage(e, self.declared_frames, at));
        }
        let n = self.flat.len() / ch;
        self.flat.truncate(n * ch);
        self.decoded += n as u64;
        if n < frames {
            self.done = true;
        }
        Ok(n)
    }
}

/// Up to `n` samples from hound into `flat`, converted; the error that stopped it, if one did.
fn pull<S>(
    s: &mut impl Iterator<Item = Result<S, hound::Error>>,
    n: usize,
    flat: &mut Vec<f32>,
    conv: impl Fn(S) -> f32,
) -> Option<hound::Error> {
    for _ in 0..n {
        match s.next()? {
            Ok(v) => flat.push(conv(v)),
            Err(e) => return Some(e),
        }
    }
    None
}

fn damage(e: hound::Error, declared: u64, frames: u64) -> String {
    match e {
        hound::Error::IoError(_) => format!(
            "truncated: data chunk declares {declared} frames, {frames} complete frames present"
        ),
        other => format!("bad sample data after frame {frames}: {other}"),
    }
}

/// Rate conversion of a whole file fed in pieces: rubato's FFT resampler over 1 024-frame chunks,
/// the last one partial, its delay removed and the output as long as the input's duration —
/// sample for sample what [`super::resample::resample`] gives on the whole file.
struct FileResampler {
    /// Built on first use (a header may declare 65 535 channels over no audio at all).
    rs: Option<FftFixedInOut<f32>>,
    channels: usize,
    inbuf: Vec<Vec<f32>>,
    out: Vec<VecDeque<f32>>,
    /// Output samples still to drop (the resampler's delay), delivered, and due in all.
    skip: usize,
    given: usize,
    expected: usize,
    from: u32,
    to: u32,
    fed: usize,
    /// Input consumed by the resampler (`pos` of the whole-file loop), and output made.
    pos: usize,
    made: usize,
    flushed: bool,
}

impl FileResampler {
    fn new(from: u32, to: u32, channels: usize, frames: u64) -> Result<Self, String> {
        // The ratio is checked now, on one channel.
        let one = Self::build(from, to, 1)?;
        let skip = one.output_delay();
        Ok(FileResampler {
            rs: None,
            channels,
            inbuf: vec![Vec::new(); channels],
            out: vec![VecDeque::new(); channels],
            skip,
            given: 0,
            expected: super::resample::expected_len(frames as usize, from, to),
            from,
            to,
            fed: 0,
            pos: 0,
            made: 0,
            flushed: false,
        })
    }

    fn build(from: u32, to: u32, channels: usize) -> Result<FftFixedInOut<f32>, String> {
        FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, channels)
            .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))
    }

    fn rs(&mut self) -> Result<&mut FftFixedInOut<f32>, String> {
        if self.rs.is_none() {
            self.rs = Some(Self::build(self.from, self.to, self.channels)?);
        }
        Ok(self.rs.as_mut().expect("built above"))
    }

    fn take(&mut self, produced: Vec<Vec<f32>>) {
        let n = produced.first().map_or(0, |p| p.len());
        self.made += n;
        let drop = self.skip.min(n);
        self.skip -= drop;
        for (o, p) in self.out.iter_mut().zip(produced) {
            o.extend(&p[drop..]);
        }
    }

    /// Interleaved frames in; whole chunks are converted as soon as they are there.
    fn push(&mut self, flat: &[f32], ch: usize) -> Result<(), String> {
        for (c, buf) in self.inbuf.iter_mut().enumerate() {
            buf.extend(flat.iter().skip(c).step_by(ch));
        }
        self.fed += flat.len() / ch.max(1);
        if flat.is_empty() {
            return Ok(());
        }
        loop {
            let need = self.rs()?.input_frames_next();
            if self.inbuf[0].len() < need {
                return Ok(());
            }
            let chunk: Vec<&[f32]> = self.inbuf.iter().map(|b| &b[..need]).collect();
            let y = self
                .rs
                .as_mut()
                .expect("built above")
                .process(&chunk, None)
                .map_err(|e| format!("resampling failed: {e}"))?;
            self.take(y);
            for b in self.inbuf.iter_mut() {
                b.drain(..need);
            }
            self.pos += need;
        }
    }

    /// The input has ended: the partial chunk, then the resampler's tail, up to the length due.
    fn flush(&mut self) -> Result<(), String> {
        let n_in = self.fed;
        self.expected = super::resample::expected_len(n_in, self.from, self.to);
        self.flushed = true;
        if n_in == 0 {
            return Ok(());
        }
        let delay = self.rs()?.output_delay();
        while self.made < self.expected + delay {
            let rs = self.rs.as_mut().expect("built above");
            let need = rs.input_frames_next();
            let y = if self.pos < n_in {
                let chunk: Vec<&[f32]> = self.inbuf.iter().map(|b| &b[..]).collect();
                rs.process_partial(Some(&chunk), None)
            } else {
                rs.process_partial::<&[f32]>(None, None)
            }
            .map_err(|e| format!("resampling failed: {e}"))?;
            self.take(y);
            for b in self.inbuf.iter_mut() {
                b.clear();
            }
            self.pos += need;
            if self.pos > n_in + 4 * need {
                break;
            }
        }
        Ok(())
    }

    fn ready(&self) -> usize {
        self.out[0]
            .len()
            .min(self.expected - self.given.min(self.expected))
    }

    fn finished(&self) -> bool {
        self.flushed
    }

    /// Up to `max` samples per channel; once flushed, silence pads to the length due.
    fn pop(&mut self, max: usize, out: &mut [Vec<i16>]) -> usize {
        let due = self.expected.saturating_sub(self.given);
        let n = if self.flushed {
            max.min(due)
        } else {
            max.min(self.ready())
        };
        for (o, q) in out.iter_mut().zip(self.out.iter_mut()).take(self.channels) {
            let k = n.min(q.len());
            o.extend(
                q.drain(..k)
                    .map(|v| v.round().clamp(-32768.0, 32767.0) as i16),
            );
            o.resize(n, 0);
        }
        self.given += n;
        n
    }
}
