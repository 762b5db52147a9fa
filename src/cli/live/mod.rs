//! `e911 live`: the sound card as lines of the office (cargo feature `live`). Three roles, each
//! with the rest of the office modelled as in `simulate`: the card as the tandem's trunks and
//! positions (`live tandem`), as an end office (`live eo`), as a PSAP position (`live psap`);
//! and the tools around them (`devices`, `play`, `listen`, `loopback`). See `docs/live.md`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand, Debug)]
pub enum LiveCmd {
    /// Show the default input and output devices.
    Devices,
    /// Play one channel of a generate script (docs/generate.md) on the default output.
    Play {
        script: PathBuf,
        #[arg(long, default_value_t = 0)]
        channel: usize,
        #[command(flatten)]
        card: CardArgs,
    },
    /// Listen on the default input and print every event the moment it is recognised.
    Listen {
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value = "mf,dtmf,sf,dp")]
        kinds: String,
        #[command(flatten)]
        card: CardArgs,
    },
    /// Measure the round trip through a loopback (or a cable from output to input): the device
    /// round trip (a burst written, found in the input) and the signal round trip (KP written →
    /// KP reported) over `--probes` probes, then an MF spill that must come back exactly.
    Loopback {
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        probes: u32,
        #[arg(long, default_value = "KP 0 5551234 ST")]
        spill: String,
        #[command(flatten)]
        card: CardArgs,
    },
    /// The card as the tandem's lines: its channels carry, in order, the first `--trunks`
    /// trunks of GRPKEY, then the positions of each `--psap` (a real PSAP set). Everything else
    /// is modelled.
    #[command(alias = "trunk")]
    Tandem(TandemArgs),
    /// The card as an end office (or PBX) facing a real tandem or gateway: the scenario's calls,
    /// in real time, on its trunks (channels in the scenario's port order).
    Eo(EoArgs),
    /// The card as a PSAP's positions facing a real tandem: wink, decode the spill, show the ALI
    /// screen, answer, and on request flash and dial a transfer code.
    Psap(PsapArgs),
}

/// The sound card.
#[derive(Args, Debug, Clone)]
pub struct CardArgs {
    /// The smallest device buffer to try, in ms; larger ones follow until one is granted
    /// (8, 16, 24, 32, 48, 64, 100).
    #[arg(long, default_value_t = 16.0, value_parser = parse_buffer_ms)]
    pub buffer_ms: f64,
    /// The first device channel of our lines (lines k → channel FIRST+k): several processes can
    /// share one multi-channel card (each writes its own channels, silence on the rest).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..64))]
    pub first_channel: u16,
}

fn parse_buffer_ms(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of ms"))?;
    if !(1.0..=100.0).contains(&v) {
        return Err(format!("{v} ms is outside 1 … 100"));
    }
    Ok(v)
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Jsonl,
}

/// What every role prints and keeps.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Stop after this many seconds (Ctrl-C stops earlier, keeping what was decided).
    #[arg(long, value_parser = parse_seconds)]
    pub seconds: Option<f64>,
    /// The call log as it happens: `text` for people, `jsonl` for machines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Keep what was heard and sent on each card channel as WAV files in DIR
    /// (`heard-chN.wav`, `sent-chN.wav`, 8 kHz).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Overwrite existing recordings in `--record`.
    #[arg(long)]
    pub force: bool,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.1..=86_400.0).contains(&v) {
        return Err(format!("{v} s is outside 0.1 … 86400"));
    }
    Ok(v)
}

#[derive(Args, Debug)]
pub struct TandemArgs {
    #[arg(long)]
    pub datafill: PathBuf,
    /// The incoming trunk group on the card (GRPKEY of TRKGRP).
    #[arg(long)]
    pub trunk: String,
    /// How many of its trunks are on the card (channels 0 … N−1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub trunks: u16,
    /// A PSAP whose positions are on the card after the trunks: `NAME` (all its positions) or
    /// `NAME:N` (its first N positions; the rest modelled). Repeatable.
    #[arg(long)]
    pub psap: Vec<String>,
    /// ALI records for the modelled PSAPs' screens and `--expect`'s report.
    #[arg(long)]
    pub ali: Option<PathBuf>,
    /// A compliance check: the calls the equipment should place, in order, and where each must
    /// go (docs/live.md); prints pass/fail per call.
    #[arg(long)]
    pub expect: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub card: CardArgs,
}

#[derive(Args, Debug)]
pub struct EoArgs {
    /// A scenario (docs/simulate.md): its trunks are the card's channels, its calls are placed.
    pub scenario: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub card: CardArgs,
}

#[derive(Args, Debug)]
pub struct PsapArgs {
    #[arg(long)]
    pub datafill: PathBuf,
    /// The PSAP (E911PSAP) whose positions the card is.
    #[arg(long)]
    pub psap: String,
    /// How many of its positions are on the card (channels 0 … N−1; default 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub positions: u16,
    /// ALI records for the screen.
    #[arg(long)]
    pub ali: Option<PathBuf>,
    /// After answering, flash and dial this code (`*11` … `*16`).
    #[arg(long)]
    pub transfer: Option<String>,
    /// …this long after answering (`5s`, `800ms`).
    #[arg(long, default_value = "5s", value_parser = parse_duration_ms)]
    pub after: f64,
    /// Hang up this long after answering.
    #[arg(long, default_value = "20s", value_parser = parse_duration_ms)]
    pub hold: f64,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub card: CardArgs,
}

/// `5s`, `2.5s`, `800ms` → ms (0 … 24 h).
pub fn parse_duration_ms(s: &str) -> Result<f64, String> {
    let (num, mul) = if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return Err(format!("{s:?}: give a unit, e.g. 5s or 800ms"));
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 5s or 800ms)"))?;
    let ms = v * mul;
    if !(0.0..=86_400_000.0).contains(&ms) {
        return Err(format!("{s:?} is outside 0 … 24 h"));
    }
    Ok(ms)
}

#[cfg(not(feature = "live"))]
pub fn run(_: LiveCmd) -> anyhow::Result<()> {
    anyhow::bail!(
        "this e911 was built without sound-card support: build with the `live` feature \
         (needs libasound2-dev and pkg-config): cargo run --release --features live -- live …"
    )
}

#[cfg(feature = "live")]
mod basic;
#[cfg(feature = "live")]
mod eo;
#[cfg(feature = "live")]
mod expect;
#[cfg(feature = "live")]
mod loopback;
#[cfg(feature = "live")]
mod psap;
#[cfg(feature = "live")]
mod session;
#[cfg(feature = "live")]
mod tandem;

#[cfg(feature = "live")]
pub fn run(cmd: LiveCmd) -> anyhow::Result<()> {
    match cmd {
        LiveCmd::Devices => {
            print!("{}", crate::live::devices().map_err(anyhow::Error::msg)?);
            Ok(())
        }
        LiveCmd::Play {
            script,
            channel,
            card,
        } => basic::play(&script, channel, &card),
        LiveCmd::Listen {
            seconds,
            kinds,
            card,
        } => basic::listen(seconds, &kinds, &card),
        LiveCmd::Loopback {
            probes,
            spill,
            card,
        } => loopback::run(probes, &spill, &card),
        LiveCmd::Tandem(a) => tandem::run(a),
        LiveCmd::Eo(a) => eo::run(a),
        LiveCmd::Psap(a) => psap::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_refuse_nonsense() {
        assert_eq!(parse_duration_ms("5s"), Ok(5000.0));
        assert_eq!(parse_duration_ms("800ms"), Ok(800.0));
        assert!(parse_duration_ms("5").is_err());
        assert!(parse_duration_ms("-1s").is_err());
        assert!(parse_duration_ms("NaNs").is_err());
        assert!(parse_buffer_ms("0.5").is_err());
    }
}
