//! WAV in and out. Reading ([`WavStream`], or [`read_wav`] for a whole file) accepts 8/16/24/32-bit
//! PCM, 32-bit float, μ-law and A-law, any channel count and any rate (resampled to 8 kHz);
//! writing produces 16-bit PCM.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::resample::resample;
pub use super::stream::WavStream;
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

pub(super) fn bad(path: &Path, msg: impl Into<String>) -> WavError {
    WavError::Format {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

pub(super) fn unsupported(path: &Path, msg: impl Into<String>) -> WavError {
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

/// Read a WAV file of any supported encoding into 8 kHz 16-bit channels (the whole file: a
/// long recording is better read as a [`WavStream`]).
pub fn read_wav(path: &Path) -> Result<Audio, WavError> {
    read_all(WavStream::open(path)?)
}

/// As [`read_wav`], from bytes already in memory (`path` names them in errors).
pub fn read_wav_bytes(path: &Path, bytes: &[u8]) -> Result<Audio, WavError> {
    read_all(WavStream::from_bytes(path, bytes)?)
}

fn read_all(mut s: WavStream<'_>) -> Result<Audio, WavError> {
    let ch = s.channels();
    let mut channels: Vec<Vec<i16>> =
        vec![Vec::with_capacity(s.frames().min(1 << 24) as usize); ch];
    let mut buf = vec![Vec::new(); ch];
    while s.read(1 << 14, &mut buf)? > 0 {
        for (c, b) in channels.iter_mut().zip(&buf) {
            c.extend_from_slice(b);
        }
    }
    Ok(Audio {
        channels,
        source_rate: s.source_rate(),
        damaged: s.damaged(),
    })
}

/// The WAV every recording of ours is: 16-bit PCM at 8 kHz, `channels` channels.
pub fn spec(channels: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// A one-channel 8 kHz 16-bit WAV writer on a new file (a line's recording, written as it runs).
pub fn create_mono_writer(
    path: &Path,
) -> Result<hound::WavWriter<std::io::BufWriter<std::fs::File>>, hound::Error> {
    hound::WavWriter::create(path, spec(1))
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
        sample_rate: rate,
        ..spec(data.len() as u16)
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
