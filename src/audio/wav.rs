//! WAV in and out. Reading accepts 8/16/24/32-bit PCM, 32-bit float, μ-law and A-law, any channel
//! count and any rate (resampled to 8 kHz); writing produces 16-bit PCM. PCM and float go through
//! hound; G.711 WAVs (format tags 7 and 6, which hound does not read) through a small RIFF reader.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::resample::resample;
use crate::dsp::g711::Law;
use crate::units::SAMPLE_RATE;

/// Why a WAV file cannot be read or written. Every kind names the file; `Io` says whether a retry
/// can help (the file system), the others that the file itself must change.
#[derive(Debug, Error)]
pub enum WavError {
    /// The file could not be read or written.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    /// Not a WAV, or a damaged header.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    /// A WAV this tool does not read (encoding, sample width, rate).
    #[error("{}: {msg}", path.display())]
    Unsupported { path: PathBuf, msg: String },
    /// The audio ends inside a frame.
    #[error("{}: {msg}", path.display())]
    Truncated { path: PathBuf, msg: String },
}

/// Sample rates read (Hz): from a 1 kHz recording to 768 kHz studio audio. A header outside
/// this is damage, and resampling from it would take minutes.
pub const MIN_RATE: u32 = 1000;
pub const MAX_RATE: u32 = 768_000;

fn bad(path: &Path, msg: impl Into<String>) -> WavError {
    WavError::Format {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn unsupported(path: &Path, msg: impl Into<String>) -> WavError {
    WavError::Unsupported {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> WavError + 'a {
    move |source| WavError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn write_err(path: &Path) -> impl Fn(hound::Error) -> WavError + '_ {
    move |e| match e {
        hound::Error::IoError(source) => WavError::Io {
            path: path.to_path_buf(),
            op: "cannot write",
            source,
        },
        other => bad(path, format!("cannot write: {other}")),
    }
}

/// Audio as the engine wants it: 8 kHz, 16-bit, one vector per channel.
#[derive(Debug, Clone)]
pub struct Audio {
    pub channels: Vec<Vec<i16>>,
    /// Rate of the file before resampling.
    pub source_rate: u32,
    /// Set when the file was damaged but some audio could be recovered (e.g. a truncated data
    /// chunk: every complete frame is kept). Callers process what there is, then report this.
    pub damaged: Option<String>,
}

/// Read a WAV file of any supported encoding into 8 kHz 16-bit channels.
pub fn read_wav(path: &Path) -> Result<Audio, WavError> {
    let bytes = std::fs::read(path).map_err(io(path, "cannot read"))?;
    read_wav_bytes(path, &bytes)
}

/// As [`read_wav`], from bytes already in memory (`path` names them in errors).
pub fn read_wav_bytes(path: &Path, bytes: &[u8]) -> Result<Audio, WavError> {
    if bytes.is_empty() {
        return Err(bad(path, "empty file"));
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad(path, "not a WAV file (no RIFF/WAVE header)"));
    }
    if let Some(audio) = pcm16_at_8k(path, bytes)? {
        return Ok(audio);
    }
    let (rate, chans, damaged) = match fmt_tag(bytes) {
        Some((7, ch, rate)) => {
            let (c, d) = g711_channels(path, bytes, Law::Ulaw, ch)?;
            (rate, c, d)
        }
        Some((6, ch, rate)) => {
            let (c, d) = g711_channels(path, bytes, Law::Alaw, ch)?;
            (rate, c, d)
        }
        _ => {
            let (rate, (c, d)) = hound_decode(path, bytes)?;
            (rate, c, d)
        }
    };
    if chans.is_empty() {
        return Err(bad(path, "zero channels"));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(unsupported(
            path,
            format!("sample rate {rate} Hz is outside {MIN_RATE}–{MAX_RATE} Hz"),
        ));
    }
    let chans = if rate != SAMPLE_RATE {
        resample(&chans, rate, SAMPLE_RATE).map_err(|m| unsupported(path, m))?
    } else {
        chans
    };
    let channels = chans
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
                .collect()
        })
        .collect();
    Ok(Audio {
        channels,
        source_rate: rate,
        damaged: damaged.map(|m| format!("{}: {m}", path.display())),
    })
}

/// A WAV in the engine's own format (PCM 16-bit, 8 kHz) seen in place: the interleaved data bytes
/// (whole frames only), the channel count, and what was wrong if the file was truncated.
pub struct Pcm16View<'a> {
    pub data: &'a [u8],
    pub channels: usize,
    pub damaged: Option<String>,
}

/// `Some` when `bytes` is a PCM 16-bit 8 kHz WAV (plain or WAVE_FORMAT_EXTENSIBLE).
pub fn pcm16_view<'a>(path: &Path, bytes: &'a [u8]) -> Result<Option<Pcm16View<'a>>, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok(None);
    }
    let Some((off, len)) = find_chunk(bytes, b"fmt ") else {
        return Ok(None);
    };
    if len < 16 {
        return Ok(None);
    }
    let f = &bytes[off..];
    let tag = u16::from_le_bytes([f[0], f[1]]);
    let ch = u16::from_le_bytes([f[2], f[3]]) as usize;
    let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
    let bits = u16::from_le_bytes([f[14], f[15]]);
    // WAVE_FORMAT_EXTENSIBLE (what hound writes for > 2 channels) with the PCM sub-format.
    let pcm = tag == 1 || (tag == 0xFFFE && len >= 26 && u16::from_le_bytes([f[24], f[25]]) == 1);
    if !pcm || bits != 16 || rate != SAMPLE_RATE || ch == 0 {
        return Ok(None);
    }
    let (off, len, declared) =
        find_chunk_declared(bytes, b"data").ok_or_else(|| bad(path, "no data chunk"))?;
    let frame = 2 * ch;
    let frames = len / frame;
    let damaged = (declared > len || len % frame != 0).then(|| {
        format!(
            "{}: truncated: data chunk declares {} frames, {frames} complete frames present",
            path.display(),
            declared / frame
        )
    });
    Ok(Some(Pcm16View {
        data: &bytes[off..off + frames * frame],
        channels: ch,
        damaged,
    }))
}

/// Fast path for the engine's own format (plain PCM, 16-bit, 8 kHz): straight to `i16` channels,
/// no float round trip. `None` for anything else (hound and the resampler take it). Measured: the
/// float path cost as much as the MF receiver on a 32-trunk file.
fn pcm16_at_8k(path: &Path, bytes: &[u8]) -> Result<Option<Audio>, WavError> {
    let Some(v) = pcm16_view(path, bytes)? else {
        return Ok(None);
    };
    let ch = v.channels;
    let frame = 2 * ch;
    let frames = v.data.len() / frame;
    // De-interleave a few thousand frames at a time, one channel per pass, so each pass reads
    // from cache and writes one contiguous run.
    let mut channels: Vec<Vec<i16>> = vec![Vec::with_capacity(frames); ch];
    for block in v.data.chunks(4096 * frame) {
        for (c, out) in channels.iter_mut().enumerate() {
            out.extend(
                block
                    .chunks_exact(frame)
                    .map(|fr| i16::from_le_bytes([fr[2 * c], fr[2 * c + 1]])),
            );
        }
    }
    Ok(Some(Audio {
        channels,
        source_rate: SAMPLE_RATE,
        damaged: v.damaged,
    }))
}

/// `(format tag, channels, rate)` from the `fmt ` chunk, if one can be found.
fn fmt_tag(bytes: &[u8]) -> Option<(u16, u16, u32)> {
    let (off, len) = find_chunk(bytes, b"fmt ")?;
    if len < 16 {
        return None;
    }
    let b = &bytes[off..];
    let tag = u16::from_le_bytes([b[0], b[1]]);
    let ch = u16::from_le_bytes([b[2], b[3]]);
    let rate = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    Some((tag, ch, rate))
}

/// Offset and length of a chunk's body (length clipped to the file).
fn find_chunk(bytes: &[u8], id: &[u8; 4]) -> Option<(usize, usize)> {
    find_chunk_declared(bytes, id).map(|(o, l, _)| (o, l))
}

/// Offset, length clipped to the file, and the length the header declares.
fn find_chunk_declared(bytes: &[u8], id: &[u8; 4]) -> Option<(usize, usize, usize)> {
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let cid = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body = pos + 8;
        if cid == id {
            return Some((body, len.min(bytes.len() - body), len));
        }
        pos = body.checked_add(len + (len & 1))?;
    }
    None
}

type Decoded = (Vec<Vec<f32>>, Option<String>);

fn g711_channels(path: &Path, bytes: &[u8], law: Law, ch: u16) -> Result<Decoded, WavError> {
    if ch == 0 {
        return Err(bad(path, "zero channels"));
    }
    let (off, len, declared) =
        find_chunk_declared(bytes, b"data").ok_or_else(|| bad(path, "no data chunk"))?;
    let ch = ch as usize;
    let whole = len - len % ch;
    let data = &bytes[off..off + whole];
    let damaged = (declared > len || whole < len).then(|| {
        format!(
            "truncated: data chunk declares {declared} bytes, {len} present; decoded {} complete frames",
            whole / ch
        )
    });
    let mut out = vec![Vec::with_capacity(data.len() / ch); ch];
    for frame in data.chunks_exact(ch) {
        for (c, &code) in frame.iter().enumerate() {
            out[c].push(law.decode(code) as f32);
        }
    }
    Ok((out, damaged))
}

fn hound_decode(path: &Path, bytes: &[u8]) -> Result<(u32, Decoded), WavError> {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| {
        bad(
            path,
            match e {
                hound::Error::Unsupported => return unsupported(path, "unsupported WAV encoding (supported: PCM 8/16/24/32-bit, float 32-bit, μ-law, A-law)"),
                other => format!("bad WAV: {other}"),
            },
        )
    })?;
    let spec = reader.spec();
    let ch = spec.channels as usize;
    if ch == 0 {
        return Err(bad(path, "zero channels"));
    }
    let declared = reader.len() as usize;
    let mut flat: Vec<f32> = Vec::with_capacity(declared);
    let mut damaged = None;
    match spec.sample_format {
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(unsupported(
                    path,
                    format!("unsupported float width {} bits", spec.bits_per_sample),
                ));
            }
            for s in reader.into_samples::<f32>() {
                match s {
                    Ok(v) if v.is_finite() => flat.push(v * 32768.0),
                    Ok(_) => flat.push(0.0),
                    Err(e) => {
                        damaged = Some(e);
                        break;
                    }
                }
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
            let scale = 2f32.powi(16 - bits as i32);
            for s in reader.into_samples::<i32>() {
                match s {
                    Ok(v) => flat.push(v as f32 * scale),
                    Err(e) => {
                        damaged = Some(e);
                        break;
                    }
                }
            }
        }
    }
    let frames = flat.len() / ch;
    let damaged = damaged.map(|e| match e {
        hound::Error::IoError(_) => format!(
            "truncated: data chunk declares {} frames, {frames} complete frames present",
            declared / ch
        ),
        other => format!("bad sample data after frame {frames}: {other}"),
    });
    if damaged.is_none() && !flat.len().is_multiple_of(ch) {
        return Err(WavError::Truncated {
            path: path.to_path_buf(),
            msg: "data ends mid-frame".into(),
        });
    }
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(frames); ch];
    for frame in flat.chunks_exact(ch) {
        for (c, &v) in frame.iter().enumerate() {
            out[c].push(v);
        }
    }
    Ok((spec.sample_rate, (out, damaged)))
}

/// Write 8 kHz 16-bit channels as a WAV at `rate` (resampled if not 8000).
pub fn write_wav(path: &Path, channels: &[Vec<i16>], rate: u32) -> Result<(), WavError> {
    if channels.is_empty() {
        return Err(bad(path, "nothing to write: zero channels"));
    }
    let data: Vec<Vec<i16>> = if rate != SAMPLE_RATE {
        let f: Vec<Vec<f32>> = channels
            .iter()
            .map(|c| c.iter().map(|&v| v as f32).collect())
            .collect();
        resample(&f, SAMPLE_RATE, rate)
            .map_err(|m| unsupported(path, m))?
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
                    .collect()
            })
            .collect()
    } else {
        channels.to_vec()
    };
    let spec = hound::WavSpec {
        channels: data.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(write_err(path))?;
    let n = data.iter().map(|c| c.len()).max().unwrap_or(0);
    for i in 0..n {
        for c in &data {
            w.write_sample(c.get(i).copied().unwrap_or(0))
                .map_err(write_err(path))?;
        }
    }
    w.finalize().map_err(write_err(path))
}

/// Write a G.711 WAV (format tag 7 or 6), 8 kHz: for fixtures and interoperability tests.
pub fn write_g711_wav(path: &Path, channels: &[Vec<i16>], law: Law) -> Result<(), WavError> {
    use crate::dsp::g711::{linear_to_alaw, linear_to_ulaw};
    let ch = channels.len();
    let n = channels.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut data = Vec::with_capacity(n * ch);
    for i in 0..n {
        for c in channels {
            let v = c.get(i).copied().unwrap_or(0);
            data.push(match law {
                Law::Ulaw => linear_to_ulaw(v),
                Law::Alaw => linear_to_alaw(v),
            });
        }
    }
    let tag: u16 = if law == Law::Ulaw { 7 } else { 6 };
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&((4 + 26 + 8 + data.len()) as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&18u32.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&(ch as u16).to_le_bytes());
    b.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    b.extend_from_slice(&(SAMPLE_RATE * ch as u32).to_le_bytes());
    b.extend_from_slice(&(ch as u16).to_le_bytes());
    b.extend_from_slice(&8u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    std::fs::write(path, b).map_err(io(path, "cannot write"))
}
