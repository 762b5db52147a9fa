//! What every live role shares: the card opened for its lines, paced block by block on the
//! card's input, recordings of each channel, and a clean end (seconds reached, Ctrl-C, or the
//! device gone) that keeps everything decided.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{CardArgs, Format, RunArgs};
use crate::engine::BLOCK;
use crate::live::{Card, CardError, CardOpts};

/// The office of a datafill file, every table valid, and the files it was read from (inputs that
/// no output may overwrite).
pub fn office(path: &Path) -> anyhow::Result<(crate::tandem::tables::Office, Vec<PathBuf>)> {
    let loaded = crate::files::datafill(path).map_err(anyhow::Error::msg)?;
    if let Some(e) = loaded.errors().next() {
        anyhow::bail!("{e} (run `e911 datafill check` for every problem)");
    }
    Ok((loaded.office, loaded.files))
}

/// An ALI file, every line valid.
pub fn ali(p: &Path) -> anyhow::Result<crate::location::ali::Ali> {
    let t = std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    let (ali, errors) = crate::location::ali::Ali::parse(&t);
    if let Some(e) = errors.first() {
        anyhow::bail!("{}:{e}", p.display());
    }
    Ok(ali)
}

type Wav = hound::WavWriter<std::io::BufWriter<std::fs::File>>;

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Seconds,
    Interrupted,
    /// The role has nothing more to do (every call placed and finished).
    Done,
    Card(CardError),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Seconds => write!(f, "--seconds reached"),
            End::Interrupted => write!(f, "interrupted ({})", crate::stop::cause()),
            End::Done => write!(f, "every call finished"),
            End::Card(e) => write!(f, "{e}"),
        }
    }
}

pub struct Session {
    pub card: Card,
    /// Stream time (8 kHz samples) of the next block.
    pub now: u64,
    end_at: u64,
    stop: Arc<AtomicBool>,
    /// Per line: what it heard, what was sent, and their files.
    rec: Vec<(Wav, Wav, Vec<PathBuf>)>,
    /// What each line heard in the block just read.
    pub heard: Vec<Vec<i16>>,
    pub format: Format,
    pub ended: Option<End>,
}

/// The recording files of `n` channels in `dir`.
pub fn record_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .flat_map(|k| {
            [
                dir.join(format!("heard-ch{k}.wav")),
                dir.join(format!("sent-ch{k}.wav")),
            ]
        })
        .collect()
}

impl Session {
    /// Open and start the card for `n` lines. Outputs are checked against `inputs` first.
    pub fn open(
        card: &CardArgs,
        run: &RunArgs,
        n: usize,
        inputs: &[PathBuf],
    ) -> anyhow::Result<Session> {
        // Outputs are checked first, but made only once the card is open: a run that cannot
        // start leaves nothing behind (and nothing that refuses the next run as "exists").
        let files = run.record.as_ref().map(|dir| record_files(dir, n));
        if let (Some(dir), Some(files)) = (&run.record, &files) {
            crate::cli::outputs::check_dir(dir)?;
            crate::cli::outputs::check("--record", files, inputs, run.force)?;
        }
        let opts = CardOpts {
            channels: n,
            first: card.first_channel as usize,
            input: true,
            output: true,
            buffer_ms: card.buffer_ms,
            block: BLOCK,
        };
        let mut c = Card::open(&opts).map_err(anyhow::Error::msg)?;
        eprintln!(
            "sound card: {} (lines on channels {}…{})",
            c.describe(),
            opts.first,
            opts.first + n - 1
        );
        c.start().map_err(anyhow::Error::msg)?;
        let mut rec = Vec::new();
        if let (Some(dir), Some(files)) = (&run.record, &files) {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            for pair in files.chunks(2) {
                let open = |p: &PathBuf| {
                    crate::audio::wav::create_mono_writer(p)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
                };
                rec.push((open(&pair[0])?, open(&pair[1])?, pair.to_vec()));
            }
        }
        Ok(Session {
            card: c,
            now: 0,
            end_at: run.seconds.map_or(u64::MAX, crate::units::s_to_samples),
            stop: crate::cli::interrupt::flag(),
            rec,
            heard: vec![vec![0; BLOCK]; n],
            format: run.format,
            ended: None,
        })
    }

    /// End the session at `t` (stream time) at the latest.
    pub fn end_by(&mut self, t: u64) {
        self.end_at = self.end_at.min(t);
    }

    /// Read the next block into `heard`; `false` (and `ended` set) when the session is over.
    pub fn read(&mut self) -> bool {
        if self.ended.is_some() {
            return false;
        }
        if self.now >= self.end_at {
            self.ended = Some(End::Seconds);
            return false;
        }
        if self.stop.load(Ordering::Relaxed) {
            self.ended = Some(End::Interrupted);
            return false;
        }
        let mut outs: Vec<&mut [i16]> = self.heard.iter_mut().map(|v| v.as_mut_slice()).collect();
        if let Err(e) = self.card.read(&mut outs, Duration::from_secs(2)) {
            self.ended = Some(End::Card(e));
            return false;
        }
        true
    }

    /// Send one block per line (after [`Session::read`]); the stream moves on a block.
    pub fn write(&mut self, sent: &[&[i16]]) {
        self.card.write(sent);
        for ((h, s), (wh, ws, _)) in self.heard.iter().zip(sent).zip(&mut self.rec) {
            for &x in h {
                let _ = wh.write_sample(x);
            }
            for &x in s.iter() {
                let _ = ws.write_sample(x);
            }
        }
        self.now += BLOCK as u64;
    }

    /// Mark the role done (ends at the next read).
    pub fn done(&mut self) {
        self.ended.get_or_insert(End::Done);
    }

    /// Close: recordings finalised; returns the card's tally for the log.
    pub fn close(mut self) -> anyhow::Result<String> {
        self.card.disarm();
        let empty = self.now == 0;
        for (h, s, files) in self.rec.drain(..) {
            h.finalize()?;
            s.finalize()?;
            // A run that never moved a block recorded nothing: no header-only files left.
            if empty {
                for f in files {
                    let _ = std::fs::remove_file(f);
                }
            }
        }
        Ok(format!(
            "{:.1} s on the card; {}; ended: {}",
            crate::units::samples_to_s(self.now),
            self.card.tally(),
            self.ended
                .as_ref()
                .map_or("-".to_string(), |e| e.to_string())
        ))
    }

    /// Print one log line (text) or JSON object (jsonl) as it happens.
    pub fn log(&self, text: &str, json: &serde_json::Value) {
        let out = std::io::stdout();
        let mut o = out.lock();
        let _ = match self.format {
            Format::Text => writeln!(o, "{text}"),
            Format::Jsonl => writeln!(o, "{json}"),
        };
        let _ = o.flush();
    }
}
