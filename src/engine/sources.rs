//! Sources that are not the simulated world: recordings (`e911 route`), in memory or streamed
//! from WAV files a block at a time.

use super::Source;
use super::{Lead, LineSignal};
use crate::audio::wav::{WavError, WavStream};

/// Frames a streamed recording reads at a time.
const CHUNK: usize = 4096;

/// One recording: its audio, and the port each of its channels feeds.
pub struct Recording<'a> {
    audio: Audio<'a>,
    ports: Vec<usize>,
}

enum Audio<'a> {
    Memory(Vec<&'a [i16]>),
    Stream {
        s: Box<WavStream<'a>>,
        frames: u64,
        /// What has been read and not yet passed, per channel, from stream time `start`.
        buf: Vec<Vec<i16>>,
        start: u64,
        /// Scratch for one read.
        chunk: Vec<Vec<i16>>,
        ended: bool,
    },
}

impl<'a> Recording<'a> {
    /// Channels in memory, channel `c` feeding port `ports[c]`.
    pub fn memory(chans: Vec<&'a [i16]>, ports: Vec<usize>) -> Self {
        Recording {
            audio: Audio::Memory(chans),
            ports,
        }
    }

    /// A WAV stream, channel `c` feeding port `ports[c]`.
    pub fn stream(s: WavStream<'a>, ports: Vec<usize>) -> Self {
        let ch = s.channels();
        Recording {
            audio: Audio::Stream {
                frames: s.frames(),
                s: Box::new(s),
                buf: vec![Vec::with_capacity(2 * CHUNK); ch],
                start: 0,
                chunk: vec![Vec::with_capacity(CHUNK); ch],
                ended: false,
            },
            ports,
        }
    }

    /// Length in frames.
    pub fn len(&self) -> u64 {
        match &self.audio {
            Audio::Memory(c) => c.iter().map(|c| c.len()).max().unwrap_or(0) as u64,
            Audio::Stream { frames, .. } => *frames,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What was wrong with a streamed file, if anything (see [`WavStream::damaged`]).
    pub fn damaged(&self) -> Option<String> {
        match &self.audio {
            Audio::Stream { s, .. } => s.damaged(),
            Audio::Memory(_) => None,
        }
    }

    /// Channel `c`'s samples `[now, now + n)` into `o` (silence past its end); how many were
    /// recorded.
    fn block(&mut self, c: usize, now: u64, o: &mut [i16]) -> Result<usize, WavError> {
        let n = o.len() as u64;
        match &mut self.audio {
            Audio::Memory(chans) => {
                let a = chans[c];
                let s = (now as usize).min(a.len());
                let e = (now as usize + n as usize).min(a.len());
                o[..e - s].copy_from_slice(&a[s..e]);
                o[e - s..].fill(0);
                Ok(e - s)
            }
            Audio::Stream { buf, start, .. } => {
                let from = ((now - *start) as usize).min(buf[c].len());
                let k = o.len().min(buf[c].len() - from);
                o[..k].copy_from_slice(&buf[c][from..from + k]);
                o[k..].fill(0);
                Ok(k)
            }
        }
    }

    /// Have `[now, now + n)` of every channel read (blocks come in order).
    fn fill(&mut self, now: u64, n: usize) -> Result<(), WavError> {
        let Audio::Stream {
            s,
            buf,
            start,
            chunk,
            ended,
            ..
        } = &mut self.audio
        else {
            return Ok(());
        };
        // What is behind `now` is not needed again.
        let pass = ((now.saturating_sub(*start)) as usize).min(buf[0].len());
        if pass >= CHUNK {
            for b in buf.iter_mut() {
                b.drain(..pass);
            }
            *start += pass as u64;
        }
        while !*ended && *start + (buf[0].len() as u64) < now + n as u64 {
            if s.read(CHUNK, chunk)? == 0 {
                *ended = true;
            }
            for (b, c) in buf.iter_mut().zip(chunk.iter()) {
                b.extend_from_slice(c);
            }
        }
        Ok(())
    }
}

/// Recorded audio per port, on one clock from 0. Ports without a recording hear nothing; a
/// recording that has ended is silent to its receivers (valid length 0). On `SUPV NONE` trunks
/// the recording's start seizes and its end disconnects (out of band). A streamed file that
/// fails part way ends there; [`FileSource::error`] says why.
pub struct FileSource<'a> {
    recordings: Vec<Recording<'a>>,
    none_supv: Vec<bool>,
    error: Option<WavError>,
    /// Scratch: ports fed by a recording this block.
    fed: Vec<bool>,
}

impl<'a> FileSource<'a> {
    /// `recordings` feed the ports they name; `none_supv[p]`: port `p` is a trunk without in-band
    /// supervision.
    pub fn new(recordings: Vec<Recording<'a>>, none_supv: Vec<bool>) -> Self {
        let fed = vec![false; none_supv.len()];
        FileSource {
            recordings,
            none_supv,
            error: None,
            fed,
        }
    }

    /// Length of the longest recording.
    pub fn len(&self) -> u64 {
        self.recordings.iter().map(|r| r.len()).max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A read error that ended a streamed recording early.
    pub fn error(&self) -> Option<&WavError> {
        self.error.as_ref()
    }

    /// What was wrong with the recordings (the first damaged one), once known.
    pub fn damaged(&self) -> Option<String> {
        self.recordings.iter().find_map(|r| r.damaged())
    }
}

impl Source for FileSource<'_> {
    fn step(
        &mut self,
        now: u64,
        _from_tandem: &[&[i16]],
        _notices: &[LineSignal],
        out: &mut [&mut [i16]],
        valid: &mut [usize],
        line: &mut Vec<LineSignal>,
    ) {
        let n = out.first().map_or(0, |o| o.len());
        let fed = &mut self.fed;
        fed.clear();
        fed.resize(out.len(), false);
        for r in &mut self.recordings {
            let len = r.len();
            if let Err(e) = r.fill(now, n) {
                self.error.get_or_insert(e);
            }
            for c in 0..r.ports.len() {
                let p = r.ports[c];
                let got = match r.block(c, now, out[p]) {
                    Ok(g) => g,
                    Err(e) => {
                        self.error.get_or_insert(e);
                        out[p].fill(0);
                        0
                    }
                };
                valid[p] = got;
                fed[p] = true;
                if self.none_supv[p] && len > 0 {
                    if now == 0 {
                        line.push((p, 0, Lead::OffHook));
                    }
                    if (now..now + n as u64).contains(&len) {
                        line.push((p, len, Lead::OnHook));
                    }
                }
            }
        }
        // Ports without a recording hear nothing: their blocks are still the zeros they came
        // as (a source gets back the blocks it wrote, see `Source::step`).
        for (v, &f) in valid.iter_mut().zip(fed.iter()) {
            if !f {
                *v = 0;
            }
        }
    }
}
