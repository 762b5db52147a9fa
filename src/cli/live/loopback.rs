//! `live loopback`: the round trip through a loopback, measured by the stream's own sample
//! counts (cpal's timestamps say nothing through the PulseAudio plugin).
//!
//! We write one block and read one block, in turn, paced by the input; so when the block that
//! holds output sample `w` is written, `w` input samples have been read, and a signal written at
//! `w` and found at input sample `j` took `j − w` samples of real time: our ring, the device
//! buffers and the server, both ways.
//!
//! The device round trip is that less what our own output ring held ahead of the burst when it
//! was written (about one block: `Card::write` keeps it there).
//!
//! Each probe (every 600 ms) is a 20 ms burst of 1004 Hz at −10 dBm0 (found by its first sample
//! above −30 dBm0's peak: the device round trip) and, 300 ms later, an MF KP (reported by the
//! receiver the moment it is recognised: the signal round trip). A probe whose burst is not found
//! within 290 ms, or whose written → found time lands more than 5 ms from the median, is a
//! glitch. Then an MF spill, which
//! must come back exactly.

use std::time::Duration;

use super::CardArgs;
use crate::detect::{ChannelDetector, Kinds};
use crate::engine::{percentile, BLOCK};
use crate::generate::sender::{quantise, LineSender, MfTiming, ToneKind};
use crate::live::{Card, CardOpts};
use crate::register::mf::MfSignal;
use crate::units::{dbm0_to_peak, ms_to_samples, samples_to_ms};

const PERIOD_MS: f64 = 600.0;
const KP_AT_MS: f64 = 300.0;
const WINDOW_MS: f64 = 290.0;

fn stats(v: &[f32]) -> String {
    if v.is_empty() {
        return "none measured".into();
    }
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(v, 50.0),
        percentile(v, 99.0),
        v.iter().copied().fold(f32::MIN, f32::max)
    )
}

pub fn run(probes: u32, spill: &str, card: &CardArgs) -> anyhow::Result<()> {
    let sigs = MfSignal::parse_sequence(spill).map_err(anyhow::Error::msg)?;
    let mut d = Card::open(&CardOpts {
        channels: 1,
        first: card.first_channel as usize,
        input: true,
        output: true,
        buffer_ms: card.buffer_ms,
        block: BLOCK,
    })
    .map_err(anyhow::Error::msg)?;
    d.start().map_err(anyhow::Error::msg)?;
    eprintln!("loopback: {}", d.describe());

    let s = |ms: f64| ms_to_samples(ms) as u64;
    // The first probe a second in, after the output ring has settled (`Card::write`).
    let t0 = s(1000.0);
    let mut tx = LineSender::new();
    let mut bursts = Vec::new();
    let mut kps = Vec::new();
    for i in 0..probes as u64 {
        let p = t0 + i * s(PERIOD_MS);
        tx.tones(p, s(20.0), &[(1004, -10.0)], None, ToneKind::Signal);
        tx.mf(p + s(KP_AT_MS), &[MfSignal::KP], &MfTiming::default());
        bursts.push(p);
        kps.push(p + s(KP_AT_MS));
    }
    let spill_at = t0 + probes as u64 * s(PERIOD_MS);
    let end = tx.mf(spill_at, &sigs, &MfTiming::default()) + s(1000.0);

    let thr = dbm0_to_peak(-30.0) as f32;
    let mut det = ChannelDetector::new(0, Kinds::parse("mf").unwrap()).report_on_recognition();
    let (mut inb, mut f, mut outb) = ([0i16; BLOCK], [0f32; BLOCK], [0i16; BLOCK]);
    let (mut device_rt, mut signal_rt) = (Vec::new(), Vec::new());
    let (mut written_found, mut ring_ms) = (Vec::new(), Vec::new());
    let mut queued_at = vec![0f32; bursts.len()];
    let out_rate = d
        .output
        .as_ref()
        .map_or(crate::units::SAMPLE_RATE, |g| g.rate);
    let mut next_burst = 0usize;
    let mut got = Vec::new();
    let mut lost = 0u32;
    let stop = crate::cli::interrupt::flag();
    let mut t = 0u64;
    while t < end {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        f.fill(0.0);
        tx.render(t, &mut f);
        quantise(&f, &mut outb);
        // What our output ring holds ahead of this block (8 kHz samples).
        let queued = d.queued_out() as f64 * crate::units::SAMPLE_RATE as f64 / out_rate as f64;
        let k = bursts.partition_point(|&b| b < t);
        if k < bursts.len() && bursts[k] < t + BLOCK as u64 {
            queued_at[k] = samples_to_ms(queued.round() as u64) as f32;
        }
        d.write(&[&outb]);
        d.read(&mut [&mut inb], Duration::from_secs(2))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // Bursts: the first loud sample at or after where it was written, within the window.
        for (k, &x) in inb.iter().enumerate() {
            let j = t + k as u64;
            while next_burst < bursts.len() && j > bursts[next_burst] + s(WINDOW_MS) {
                lost += 1;
                next_burst += 1;
            }
            if next_burst < bursts.len() && j >= bursts[next_burst] && (x as f32).abs() > thr {
                let total = samples_to_ms(j - bursts[next_burst]) as f32;
                written_found.push(total);
                device_rt.push(total - queued_at[next_burst]);
                ring_ms.push(queued_at[next_burst]);
                next_burst += 1;
            }
        }
        det.process(&inb);
        for e in det.take_recognised() {
            if e.signal == "KP" && e.reported < spill_at {
                if let Some(&w) = kps.iter().rev().find(|&&w| w <= e.reported) {
                    signal_rt.push(samples_to_ms(e.reported - w) as f32);
                }
            }
        }
        for e in det.take() {
            if e.start >= spill_at {
                got.push(e.signal);
            }
        }
        t += BLOCK as u64;
    }
    d.disarm();
    for e in det.finish() {
        if e.start >= spill_at {
            got.push(e.signal);
        }
    }
    lost += (bursts.len() - next_burst) as u32;
    // A glitch: the stream's latency moved (burst written → found, which our own ring's
    // saw-tooth does not blur), or a burst never came back.
    let median = percentile(&written_found, 50.0);
    let off = written_found
        .iter()
        .filter(|&&v| (v - median).abs() > 5.0)
        .count() as u32;
    let want: Vec<String> = sigs.iter().map(|s| s.name().to_string()).collect();
    println!(
        "device round trip (burst leaves our output ring → found in the input), {} of {probes} probes: {}",
        device_rt.len(),
        stats(&device_rt)
    );
    println!(
        "  + our output ring (one block of margin once settled): {}",
        stats(&ring_ms)
    );
    println!(
        "  = burst written → found in the input: {}",
        stats(&written_found)
    );
    println!(
        "signal round trip (KP written → KP reported), {} of {probes} probes: {}",
        signal_rt.len(),
        stats(&signal_rt)
    );
    println!(
        "glitches: {} ({lost} probes lost, {off} more than 5 ms off the median)",
        lost + off
    );
    println!("sent:  {}", want.join(" "));
    println!("heard: {}", got.join(" "));
    println!("{}", d.tally());
    if stop.load(std::sync::atomic::Ordering::Relaxed) {
        anyhow::bail!("interrupted");
    }
    if got != want {
        anyhow::bail!("the spill did not come back exactly");
    }
    Ok(())
}
