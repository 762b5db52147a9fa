//! `e911 route`: the tandem on recorded end-office audio (and recorded PSAP audio), modelled
//! PSAPs for the rest; prints one record per call and writes the legs with `--out`.

use std::io::Write;
use std::path::PathBuf;

use super::{outputs, Format};
use crate::audio::wav::write_wav;
use crate::route::CallRecord;

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |t| format!("{t:.1} ms"))
}

/// One call in text: where it went (or why it has not), then its transfers and logs.
pub fn text_record(r: &CallRecord) -> String {
    let mut s = format!(
        "call {:>3}  {} ch {:<2} seized {:>9.1} ms  called {:<4} ANI {:<10} ({:<7}) ESN {:>5} ({:<7}) → ",
        r.call,
        r.trunk,
        r.channel,
        r.seized_ms,
        r.called,
        r.ani.as_deref().unwrap_or("-"),
        r.ani_status,
        r.esn.map(|e| e.to_string()).unwrap_or_default(),
        r.esn_source.unwrap_or("-"),
    );
    let psap = r.psap.as_deref().unwrap_or("-");
    match (r.position, &r.outpulsed) {
        (Some(p), Some(out)) => s.push_str(&format!(
            "{psap:<14} pos {p:<2} out `{out}`  answered {}  released {}  position released {}",
            ms(r.answered_ms),
            ms(r.released_ms),
            ms(r.position_released_ms)
        )),
        _ => s.push_str(&format!(
            "{psap:<14} QUEUED: all positions busy when the run ended  released {}",
            ms(r.released_ms)
        )),
    }
    if r.abandoned {
        s.push_str(&format!(
            "  ABANDONED {} while {}",
            ms(r.abandoned_ms),
            r.abandoned_while.as_deref().unwrap_or("-")
        ));
    }
    s.push('\n');
    for x in &r.transfers {
        s.push_str(&format!(
            "          {} flashed {:.1} ms, dialled `{}` → {}{} {}{}\n",
            x.from,
            x.flashed_ms,
            x.code,
            x.target.as_deref().unwrap_or("-"),
            x.position.map(|p| format!(" pos {p}")).unwrap_or_default(),
            x.outcome,
            x.outpulsed
                .as_deref()
                .map(|o| format!(", sent `{o}`"))
                .unwrap_or_default()
        ));
    }
    for l in &r.logs {
        s.push_str(&format!("          log {l}\n"));
    }
    s
}

pub fn parse_hold_ms(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86_400_000.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}`: a time in ms, 0 … 86400000")),
    }
}

/// `e911 route`'s options.
#[derive(clap::Args, Debug)]
pub struct RouteArgs {
    #[arg(long)]
    pub datafill: PathBuf,
    /// What a PSAP sends back (wink, answer, hang-up on 2600 Hz SF): NAME=FILE.wav, one
    /// channel per position in position order, on the same clock as IN.wav. Repeatable.
    #[arg(long = "psap-in")]
    pub psap_in: Vec<String>,
    #[arg(long)]
    pub trunk: String,
    pub input: PathBuf,
    /// Write the tandem's audio on every leg it used (to-GRPKEY.wav, to-PSAP.wav) and calls.jsonl.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// How long each modelled PSAP (one without --psap-in) holds a call after answering
    /// before it hangs up, in ms (0 … 86400000).
    #[arg(long, default_value_t = crate::sim::attendant::HOLD_MS, value_parser = parse_hold_ms)]
    pub psap_hold_ms: f64,
    /// Overwrite output files that exist (never an input).
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: RouteArgs) -> anyhow::Result<()> {
    let (datafill, input, out, format, force) = (
        a.datafill.as_path(),
        a.input.as_path(),
        a.out.as_deref(),
        a.format,
        a.force,
    );
    let (psap_in, trunk) = (&a.psap_in, a.trunk.as_str());
    let hold = crate::units::ms_to_samples(a.psap_hold_ms) as u64;
    let loaded = crate::files::datafill(datafill).map_err(anyhow::Error::msg)?;
    if let Some(dir) = out {
        outputs::check_dir(dir)?;
        let mut legs: Vec<String> = vec![trunk.to_ascii_uppercase()];
        legs.extend(loaded.office.psaps.keys().cloned());
        let mut inputs = loaded.files.clone();
        inputs.push(input.to_path_buf());
        inputs.extend(
            psap_in
                .iter()
                .filter_map(|s| s.split_once('=').map(|x| PathBuf::from(x.1))),
        );
        outputs::check(
            "--out",
            &outputs::leg_files(dir, &legs, &["to"]),
            &inputs,
            force,
        )?;
    }
    if let Some(e) = loaded.errors().next() {
        anyhow::bail!("{e} (run `e911 datafill check` for every problem)");
    }
    let audio = crate::audio::wav::read_wav(input)?;
    if let Some(d) = &audio.damaged {
        anyhow::bail!("{d}");
    }
    let trunks = audio.channels.len();
    if trunks > crate::route::MAX_TRUNKS {
        anyhow::bail!(
            "{}: {trunks} channels, but a trunk group has at most {} trunks (one channel each)",
            input.display(),
            crate::route::MAX_TRUNKS
        );
    }
    let frames = audio.channels.first().map_or(0, |c| c.len()) as u64;
    let positions: u64 = loaded
        .office
        .psaps
        .values()
        .map(|p| p.positions as u64)
        .sum();
    let need = crate::route::memory_estimate(trunks as u64 + positions, frames, out.is_some());
    let have = super::memory_budget();
    if need > have {
        anyhow::bail!(
            "{}: {trunks} trunk(s) and {positions} PSAP position(s) over {:.1} s need about {} MiB; {} MiB is available",
            input.display(),
            crate::units::samples_to_s(frames),
            need >> 20,
            have >> 20
        );
    }
    let mut psaps = std::collections::BTreeMap::new();
    for spec in psap_in {
        let (name, file) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--psap-in `{spec}`: want NAME=FILE.wav"))?;
        let a = crate::audio::wav::read_wav(std::path::Path::new(file))?;
        if let Some(d) = &a.damaged {
            anyhow::bail!("{d}");
        }
        psaps.insert(name.to_ascii_uppercase(), a.channels);
    }
    let opts = crate::engine::Opts {
        stop: Some(super::interrupt::flag()),
        progress: super::progress::bar(
            frames + 20 * crate::units::SECOND,
            frames > 120 * crate::units::SECOND,
        )
        .map(|f| f as std::sync::Arc<dyn Fn(u64) + Send + Sync>),
        ..Default::default()
    };
    let run = crate::route::run_on(
        &loaded.office,
        &trunk.to_ascii_uppercase(),
        &audio.channels,
        &psaps,
        Some(&opts),
        hold,
        out.is_some(),
    )
    .map_err(|e| {
        use crate::route::RouteError as R;
        use crate::tandem::switch::TandemError as T;
        // The library names fields; the flags they came from are the command line's.
        match e {
            R::Tandem(T::UnknownTrunkGroup(_)) => anyhow::anyhow!("--trunk: {e}"),
            R::TooManyTrunks(_) => anyhow::anyhow!("{}: {e}", input.display()),
            _ => anyhow::anyhow!("--psap-in: {e}"),
        }
    })?;
    if let Some(p) = &opts.progress {
        p(u64::MAX);
    }
    let stdout = std::io::stdout();
    let mut o = std::io::BufWriter::new(stdout.lock());
    for r in &run.records {
        match format {
            Format::Jsonl => writeln!(o, "{}", serde_json::to_string(r)?)?,
            Format::Text => write!(o, "{}", text_record(r))?,
        }
    }
    if let Some(at) = run.interrupted_at {
        let line = format!(
            "INTERRUPTED (SIGINT) at {:.2} s of audio: the calls above are everything decided so far",
            crate::units::samples_to_s(at)
        );
        match format {
            Format::Text => writeln!(o, "{line}")?,
            Format::Jsonl => eprintln!("e911: {line}"),
        }
    }
    for (group, ch) in &run.in_setup {
        let line = format!("{group}/{ch}: SEIZED BUT NOT YET ROUTED WHEN THE RUN ENDED");
        match format {
            Format::Text => writeln!(o, "{line}")?,
            Format::Jsonl => eprintln!("e911: {line}"),
        }
    }
    o.flush()?;
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        for (leg, chans) in &run.legs {
            write_wav(
                &dir.join(format!("to-{leg}.wav")),
                chans,
                crate::units::SAMPLE_RATE,
            )?;
        }
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join("calls.jsonl"))
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?,
        );
        for r in &run.records {
            writeln!(f, "{}", serde_json::to_string(r)?)?;
        }
    }
    Ok(())
}
