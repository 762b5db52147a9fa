//! `--out DIR`'s leg files, written as the run goes: one WAV per leg (the trunk group's, one per
//! PSAP), one channel per trunk or position, each block appended as the engine hands it over, so
//! a long run keeps no audio in memory. Each file is written under a temporary name
//! (`.to-LEG.wav.part`) and, at the end, cut to its leg's length and renamed — or removed, for a
//! PSAP that had no call.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::tandem::switch::PortInfo;
use crate::units::SAMPLE_RATE;

struct Leg {
    name: String,
    psap: bool,
    ports: Vec<usize>,
    part: PathBuf,
    out: PathBuf,
    w: hound::WavWriter<BufWriter<File>>,
}

/// The leg files of one run.
pub struct LegWriters {
    legs: Vec<Leg>,
    error: Option<String>,
}

impl LegWriters {
    /// Files in `dir` for every leg of `ports` (grouped by leg, in port order).
    pub fn create(dir: &Path, ports: &[PortInfo]) -> anyhow::Result<LegWriters> {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let mut legs: Vec<Leg> = Vec::new();
        for (p, info) in ports.iter().enumerate() {
            if let Some(l) = legs.iter_mut().find(|l| l.name == info.leg) {
                l.ports.push(p);
                continue;
            }
            let n = ports.iter().filter(|q| q.leg == info.leg).count();
            let part = dir.join(format!(".to-{}.wav.part", info.leg));
            let spec = hound::WavSpec {
                channels: n as u16,
                sample_rate: SAMPLE_RATE,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let w = hound::WavWriter::create(&part, spec)
                .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", part.display()))?;
            legs.push(Leg {
                name: info.leg.clone(),
                psap: info.psap,
                ports: vec![p],
                out: dir.join(format!("to-{}.wav", info.leg)),
                part,
                w,
            });
        }
        Ok(LegWriters { legs, error: None })
    }

    /// One block of what the tandem sent, one vector per port.
    pub fn write(&mut self, sent: &[Vec<i16>]) {
        if self.error.is_some() {
            return;
        }
        for l in &mut self.legs {
            let n = sent.get(l.ports[0]).map_or(0, |b| b.len());
            let mut w = l.w.get_i16_writer((n * l.ports.len()) as u32);
            let chans: Vec<&[i16]> = l.ports.iter().map(|&p| &sent[p][..n]).collect();
            for i in 0..n {
                for c in &chans {
                    w.write_sample(c[i]);
                }
            }
            if let Err(e) = w.flush() {
                self.error = Some(format!("{}: cannot write: {e}", l.part.display()));
                return;
            }
        }
    }

    /// Close every file: the trunk group's leg cut to `frames.0`, each PSAP's to `frames.1`,
    /// renamed to `to-LEG.wav`; the legs of PSAPs not in `used` removed.
    pub fn finish(self, frames: (u64, u64), used: &BTreeSet<String>) -> anyhow::Result<()> {
        let mut first = self.error.map(anyhow::Error::msg);
        for l in self.legs {
            let keep = !l.psap || used.contains(&l.name);
            let ch = l.ports.len() as u64;
            let r = l
                .w
                .finalize()
                .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", l.part.display()))
                .and_then(|_| {
                    if !keep {
                        return std::fs::remove_file(&l.part)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", l.part.display()));
                    }
                    let len = if l.psap { frames.1 } else { frames.0 };
                    cut(&l.part, len * ch * 2)
                        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", l.part.display()))?;
                    std::fs::rename(&l.part, &l.out)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", l.out.display()))
                });
            if let Err(e) = r {
                let _ = std::fs::remove_file(&l.part);
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Cut a finished WAV's data chunk to at most `bytes` and fix its RIFF and data sizes.
fn cut(path: &Path, bytes: u64) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let mut head = vec![0u8; 256];
    let got = f.read(&mut head)?;
    head.truncate(got);
    let mut pos = 12;
    while pos + 8 <= head.len() {
        let len =
            u32::from_le_bytes([head[pos + 4], head[pos + 5], head[pos + 6], head[pos + 7]]) as u64;
        if &head[pos..pos + 4] == b"data" {
            if len <= bytes {
                return Ok(());
            }
            let body = pos as u64 + 8;
            f.set_len(body + bytes)?;
            f.seek(SeekFrom::Start(pos as u64 + 4))?;
            f.write_all(&(bytes as u32).to_le_bytes())?;
            f.seek(SeekFrom::Start(4))?;
            f.write_all(&((body + bytes - 8) as u32).to_le_bytes())?;
            return Ok(());
        }
        pos += 8 + len as usize + (len as usize & 1);
    }
    Err(std::io::Error::other("no data chunk"))
}
