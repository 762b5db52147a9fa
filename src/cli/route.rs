//! `e911 route`: the tandem on recorded end-office audio (and recorded PSAP audio), modelled
//! PSAPs for the rest; prints one record per call and writes the legs with `--out`.

use std::io::Write;
use std::path::PathBuf;

use super::{outputs, Format};
use crate::route::CallRecord;

/// One call in text: the same block `simulate` prints for a call (seconds, dashed numbers).
pub fn text_record(r: &CallRecord) -> String {
    crate::sim::report::record_block(r)
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
    // Streamed: the recordings are read and the legs written as the run goes.
    let audio = crate::audio::wav::WavStream::open(input)?;
    if let Some(d) = audio.damaged() {
        anyhow::bail!("{d}");
    }
    let trunks = audio.channels();
    if trunks > crate::route::MAX_TRUNKS {
        anyhow::bail!(
            "{}: {trunks} channels, but a trunk group has at most {} trunks (one channel each)",
            input.display(),
            crate::route::MAX_TRUNKS
        );
    }
    let frames = audio.frames();
    let positions: u64 = loaded
        .office
        .psaps
        .values()
        .map(|p| p.positions as u64)
        .sum();
    let need = crate::route::memory_estimate(trunks as u64 + positions);
    let have = super::memory_budget();
    if need > have {
        anyhow::bail!(
            "{}: {trunks} trunk(s) and {positions} PSAP position(s) need about {} MiB; {} MiB is available",
            input.display(),
            need >> 20,
            have >> 20
        );
    }
    let mut psaps = std::collections::BTreeMap::new();
    for spec in psap_in {
        let (name, file) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--psap-in `{spec}`: want NAME=FILE.wav"))?;
        if psaps.contains_key(&name.to_ascii_uppercase()) {
            super::usage!(
                "--psap-in {name}: given twice (one recording per PSAP, one channel per position)"
            );
        }
        let a = crate::audio::wav::WavStream::open(std::path::Path::new(file))?;
        if let Some(d) = a.damaged() {
            anyhow::bail!("{d}");
        }
        psaps.insert(
            name.to_ascii_uppercase(),
            crate::route::Input::Stream(Box::new(a)),
        );
    }
    let opts = crate::engine::Opts {
        stop: Some(super::interrupt::flag()),
        progress: super::progress::bar(frames, frames > 120 * crate::units::SECOND)
            .map(|f| f as std::sync::Arc<dyn Fn(u64) + Send + Sync>),
        ..Default::default()
    };
    // The leg files are opened once the ports are known (the first block), and every block
    // is appended as it is made.
    let mut legs: Option<super::legs::LegWriters> = None;
    let mut leg_error: Option<anyhow::Error> = None;
    let group = trunk.to_ascii_uppercase();
    let port_list = crate::tandem::switch::Tandem::new(
        &loaded.office,
        &[(group.clone(), trunks)],
        &psaps.keys().cloned().collect(),
    )
    .map(|t| t.ports().to_vec());
    let mut write = |_: u64, sent: &[Vec<i16>], _: &[Vec<i16>]| {
        if leg_error.is_some() {
            return;
        }
        if legs.is_none() {
            if let (Some(dir), Ok(ports)) = (out, &port_list) {
                match super::legs::LegWriters::create(dir, ports) {
                    Ok(l) => legs = Some(l),
                    Err(e) => {
                        leg_error = Some(e);
                        return;
                    }
                }
            }
        }
        if let Some(l) = legs.as_mut() {
            l.write(sent);
        }
    };
    let sink: Option<&mut crate::engine::Sink<'_>> = if out.is_some() {
        Some(&mut write)
    } else {
        None
    };
    let run = crate::route::run_inputs(
        &loaded.office,
        &group,
        crate::route::Input::Stream(Box::new(audio)),
        psaps,
        Some(&opts),
        hold,
        sink,
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
            "INTERRUPTED ({}) at {:.2} s of audio: the calls above are everything decided so far",
            crate::stop::cause(),
            crate::units::samples_to_s(at)
        );
        match format {
            Format::Text => writeln!(o, "{line}")?,
            Format::Jsonl => eprintln!("e911: {line}"),
        }
    }
    if let Some(line) = run.mf_pool.summary() {
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
    if let Some(e) = leg_error {
        return Err(e);
    }
    if let Some(e) = &run.source_error {
        anyhow::bail!("{e} (the calls above were decided on the audio before it)");
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        if let Some(l) = legs {
            l.finish(run.leg_frames, &run.used)?;
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
