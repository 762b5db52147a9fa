//! `live play` and `live listen`: one line of the card, out or in.

use std::io::Write;
use std::time::Duration;

use super::CardArgs;
use crate::detect::{ChannelDetector, Kinds};
use crate::engine::BLOCK;
use crate::live::{Card, CardOpts};

fn opts(card: &CardArgs, input: bool, output: bool) -> CardOpts {
    CardOpts {
        channels: 1,
        first: card.first_channel as usize,
        input,
        output,
        buffer_ms: card.buffer_ms,
        block: BLOCK,
    }
}

pub fn play(script: &std::path::Path, channel: usize, card: &CardArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(script)
        .map_err(|e| anyhow::anyhow!("{}: {e}", script.display()))?;
    let base = script.parent().unwrap_or(std::path::Path::new("."));
    let r = crate::files::script(
        &script.display().to_string(),
        &text,
        base,
        &crate::generate::script::Limits::default(),
    )
    .map_err(anyhow::Error::msg)?;
    let x = r.channels.get(channel).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: channel {channel}, but the script has {}",
            script.display(),
            r.channels.len()
        )
    })?;
    let mut d = Card::open(&opts(card, false, true)).map_err(anyhow::Error::msg)?;
    d.start().map_err(anyhow::Error::msg)?;
    eprintln!(
        "playing {:.1} s on {}",
        crate::units::samples_to_s(x.len() as u64),
        d.describe()
    );
    for c in x.chunks(BLOCK) {
        d.write(&[c]);
    }
    while d.queued_out() > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    d.disarm();
    std::thread::sleep(Duration::from_millis(50));
    eprintln!("{}", d.tally());
    Ok(())
}

pub fn listen(seconds: f64, kinds: &str, card: &CardArgs) -> anyhow::Result<()> {
    let kinds = Kinds::parse(kinds).map_err(anyhow::Error::msg)?;
    let mut d = Card::open(&opts(card, true, false)).map_err(anyhow::Error::msg)?;
    d.start().map_err(anyhow::Error::msg)?;
    eprintln!("listening on {} for {seconds} s", d.describe());
    let mut det = ChannelDetector::new(0, kinds).report_on_recognition();
    let mut buf = [0i16; BLOCK];
    let blocks = (seconds * 100.0) as usize;
    let out = std::io::stdout();
    let mut o = out.lock();
    let stop = crate::cli::interrupt::flag();
    for _ in 0..blocks {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        d.read(&mut [&mut buf], Duration::from_secs(2))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        det.process(&buf);
        // MF and DTMF the moment they are recognised; the rest when complete.
        for e in det.take_recognised() {
            writeln!(
                o,
                "{:>10.1} ms  {:<4} {:<10} recognised after {:.1} ms",
                e.start_ms,
                e.kind,
                e.signal,
                e.reported_ms - e.start_ms
            )?;
        }
        for e in det
            .take()
            .into_iter()
            .filter(|e| !matches!(e.kind, "mf" | "dtmf"))
        {
            writeln!(
                o,
                "{:>10.1} ms  {:<4} {:<10} {:>6.1} ms long, reported after {:.1} ms",
                e.start_ms,
                e.kind,
                e.signal,
                e.end_ms - e.start_ms,
                e.reported_ms - e.start_ms
            )?;
        }
        o.flush()?;
    }
    d.disarm();
    eprintln!("{}", d.tally());
    Ok(())
}
