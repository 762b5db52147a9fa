//! The correlator banks of `detect --kinds mf,dtmf` alone, with no frame judged: each channel of a
//! WAV file through an MF and a DTMF bank built as the receivers build theirs (same frequencies,
//! hop, window, energy and spectral gates, lookback), read block by block as `detect` reads it.
//! Not a timing loop: `scripts/spandsp-compare` counts the instructions of this whole process
//! beside those of `e911 detect` and SpanDSP's harness, to show what share of the receivers'
//! cost the banks are (issue 18's throughput analysis, `docs/performance.md`).
//!
//! `cargo bench --bench banks_only -- FILE.wav [--hop-scale K]` (a bench target only so that it
//! builds in release with the benches; it prints one line and exits). `--hop-scale 2` runs the
//! same windows at twice the hop: the banks of a receiver deciding half as often.

use e911_tandem::audio::wav::WavStream;
use e911_tandem::dsp::correlator::{CorrelatorBank, KernelPlanner, OnFrame};
use e911_tandem::register::dtmf::dtmf_design;
use e911_tandem::register::mf::mf_design;
use e911_tandem::register::tone_pair::{PairDesign, PairReceiver, Plan};

/// What stands in for the judge: counts the frames, and those whose sums were kept.
struct Count<'a> {
    frames: &'a mut u64,
    kept: &'a mut u64,
}

impl OnFrame for Count<'_> {
    #[inline(always)]
    fn frame(&mut self, bank: &CorrelatorBank) {
        *self.frames += 1;
        *self.kept += bank.is_valid() as u64;
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the file is the argument that is neither a flag nor a
    // flag's value.
    let Some(path) = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--") && a.parse::<usize>().is_err())
    else {
        eprintln!("banks_only: usage: cargo bench --bench banks_only -- FILE.wav");
        std::process::exit(2);
    };
    let mut s = match WavStream::open(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("banks_only: {e}");
            std::process::exit(1);
        }
    };
    // `--hop-scale K`: hops K times longer over the same windows (K divides both designs'
    // block counts: 1, 2 or 4): what the banks would cost at a K times coarser decision rate.
    let args: Vec<String> = std::env::args().collect();
    let k = args
        .iter()
        .position(|a| a == "--hop-scale")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(1), |v| v.parse::<usize>())
        .ok()
        .filter(|k| [1, 2, 4].contains(k))
        .unwrap_or_else(|| {
            eprintln!("banks_only: --hop-scale takes 1, 2 or 4");
            std::process::exit(2);
        });
    let mut planner = KernelPlanner::new();
    let bank = |mut d: PairDesign, planner: &mut KernelPlanner| {
        d.hop *= k;
        d.blocks /= k;
        PairReceiver::bank_in(&d, &Plan::of(&d), planner)
    };
    let ch = s.channels();
    let mut banks: Vec<[CorrelatorBank; 2]> = (0..ch)
        .map(|_| {
            [
                bank(mf_design(), &mut planner),
                bank(dtmf_design(), &mut planner),
            ]
        })
        .collect();
    let mut bufs: Vec<Vec<i16>> = vec![Vec::new(); ch];
    // Frames, and frames whose sums were kept (the window passed both gates), per bank kind.
    let (mut frames, mut kept) = ([0u64; 2], [0u64; 2]);
    loop {
        let n = match s.read(1 << 15, &mut bufs) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("banks_only: {e}");
                std::process::exit(1);
            }
        };
        if n == 0 {
            break;
        }
        for (pair, b) in banks.iter_mut().zip(&bufs) {
            for (k, bank) in pair.iter_mut().enumerate() {
                // The receivers' own loop ([`CorrelatorBank::run`]), with a count for the judge.
                let mut count = Count {
                    frames: &mut frames[k],
                    kept: &mut kept[k],
                };
                bank.run(b, &mut count);
            }
        }
    }
    println!(
        "banks alone (hops ×{k}): {ch} channels; MF frames {} ({} kept), DTMF frames {} ({} kept)",
        frames[0], kept[0], frames[1], kept[1]
    );
}
