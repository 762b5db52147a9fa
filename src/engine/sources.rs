//! Sources that are not the simulated world: recordings (`e911 route`).

use super::Source;
use super::{Lead, LineSignal};

/// Recorded audio per port, on one clock from 0. Ports without a recording hear nothing; a
/// recording that has ended is silent to its receivers (valid length 0). On `SUPV NONE` trunks
/// the recording's start seizes and its end disconnects (out of band).
pub struct FileSource<'a> {
    chans: Vec<Option<&'a [i16]>>,
    none_supv: Vec<bool>,
}

impl<'a> FileSource<'a> {
    /// `chans[p]`: the recording for port `p`; `none_supv[p]`: a trunk without in-band supervision.
    pub fn new(chans: Vec<Option<&'a [i16]>>, none_supv: Vec<bool>) -> Self {
        FileSource { chans, none_supv }
    }

    /// Length of the longest recording.
    pub fn len(&self) -> u64 {
        self.chans
            .iter()
            .flatten()
            .map(|c| c.len())
            .max()
            .unwrap_or(0) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        for (p, o) in out.iter_mut().enumerate() {
            let Some(a) = self.chans[p] else {
                o.fill(0);
                valid[p] = 0;
                continue;
            };
            let s = (now as usize).min(a.len());
            let e = (now as usize + n).min(a.len());
            o[..e - s].copy_from_slice(&a[s..e]);
            o[e - s..].fill(0);
            valid[p] = e - s;
            if self.none_supv[p] && !a.is_empty() {
                if now == 0 {
                    line.push((p, 0, Lead::OffHook));
                }
                let end = a.len() as u64;
                if (now..now + n as u64).contains(&end) {
                    line.push((p, end, Lead::OnHook));
                }
            }
        }
    }
}
