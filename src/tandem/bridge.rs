//! What every port sends, block by block: its line sender (SF supervision, MF, progress tones)
//! and, for the parties of a call that talk, the conference bridge — each party hears the sum of
//! the others' voices (a three-way conference adds no pad), taken through the 2600 Hz notch on
//! SF lines so a caller's voice cannot read as supervision on the next trunk. Buffers are sized
//! once (one voice buffer per port, one mix buffer): a steady block allocates nothing.

use crate::generate::sender::{quantise, LineSender};
use crate::line::notch::SfNotch;

/// One port's sending side.
#[derive(Debug, Clone)]
pub struct PortLine {
    pub tx: LineSender,
    pub notch: SfNotch,
    /// The voice received on this port goes through the 2600 Hz notch before anyone hears it.
    pub notched: bool,
}

impl PortLine {
    /// A line that starts with `idle_dbm0` of 2600 Hz on it (SF on-hook), or nothing.
    pub fn new(idle_dbm0: Option<f64>, notched: bool) -> Self {
        let mut tx = LineSender::new();
        if idle_dbm0.is_some() {
            tx.sf(0, idle_dbm0);
        }
        PortLine {
            tx,
            notch: SfNotch::default(),
            notched,
        }
    }
}

/// The bridge's buffers.
#[derive(Debug, Clone)]
pub struct Bridge {
    mix: Vec<f32>,
    voice: Vec<Vec<f32>>,
}

impl Bridge {
    /// A bridge for `ports` ports (the buffers grow to the block size on first use, then stay).
    pub fn new(ports: usize) -> Self {
        Bridge {
            mix: Vec::new(),
            voice: vec![Vec::new(); ports],
        }
    }

    /// One conference of this block from `now`: every port of `parties` (two or more) hears the
    /// others' voices with its own signals on top.
    pub fn conference(
        &mut self,
        now: u64,
        parties: &[usize],
        lines: &mut [PortLine],
        input: &[&[i16]],
        output: &mut [&mut [i16]],
        n: usize,
    ) {
        for &p in parties {
            let v = &mut self.voice[p];
            v.clear();
            v.resize(n, 0.0);
            let x = input.get(p).copied().unwrap_or(&[]);
            let m = x.len().min(n);
            let line = &mut lines[p];
            if line.notched {
                line.notch.filter_into(&x[..m], &mut v[..m]);
            } else {
                for (d, &s) in v.iter_mut().zip(&x[..m]) {
                    *d = s as f32;
                }
            }
        }
        for &p in parties {
            self.mix.clear();
            self.mix.resize(n, 0.0);
            for &q in parties.iter().filter(|&&q| q != p) {
                for (d, &s) in self.mix.iter_mut().zip(&self.voice[q]) {
                    *d += s;
                }
            }
            lines[p].tx.render(now, &mut self.mix);
            quantise(&self.mix, output[p]);
        }
    }

    /// Every port not rendered by a conference this block: its signals alone.
    pub fn signals(
        &mut self,
        now: u64,
        lines: &mut [PortLine],
        output: &mut [&mut [i16]],
        n: usize,
    ) {
        self.mix.clear();
        self.mix.resize(n, 0.0);
        for (line, out) in lines.iter_mut().zip(output.iter_mut()) {
            if line.tx.rendered() > now {
                continue; // rendered with its conference
            }
            if line.tx.silent(now, n) {
                // An idle line with nothing on it (an unsupervised position): silence.
                line.tx.skip(now, n);
                out[..n].fill(0);
                continue;
            }
            if line.tx.render_steady(now, &mut out[..n]) {
                continue; // an idle line's tone, from the cache
            }
            self.mix.iter_mut().for_each(|s| *s = 0.0);
            line.tx.render(now, &mut self.mix);
            quantise(&self.mix, out);
        }
    }
}
