//! `e911 simulate`: load (or take the embedded) scenario, run it, print the call log, write legs.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Format;
use crate::sim::scenario::Scenario;
use crate::tandem::switch::PortInfo;

/// Streaming WAV writers for every leg in both directions.
struct Legs {
    /// (leg, ports of the leg in channel order, writer of what the tandem sent, of what came in)
    legs: Vec<(String, Vec<usize>, LegWriter, LegWriter)>,
}

type LegWriter = hound::WavWriter<std::io::BufWriter<std::fs::File>>;

impl Legs {
    fn new(dir: &Path, ports: &[PortInfo]) -> anyhow::Result<Legs> {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let mut names: Vec<String> = Vec::new();
        for p in ports {
            if !names.contains(&p.leg) {
                names.push(p.leg.clone());
            }
        }
        let mut legs = Vec::new();
        for name in names {
            let idx: Vec<usize> = (0..ports.len()).filter(|&i| ports[i].leg == name).collect();
            let spec = hound::WavSpec {
                channels: idx.len() as u16,
                sample_rate: crate::units::SAMPLE_RATE,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let open = |f: String| {
                let path = dir.join(f);
                hound::WavWriter::create(&path, spec)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            };
            let to = open(format!("to-{name}.wav"))?;
            let from = open(format!("from-{name}.wav"))?;
            legs.push((name, idx, to, from));
        }
        Ok(Legs { legs })
    }

    fn write(&mut self, sent: &[Vec<i16>], heard: &[Vec<i16>]) -> Result<(), hound::Error> {
        let n = sent.first().map_or(0, |b| b.len());
        for (_, idx, to, from) in self.legs.iter_mut() {
            for i in 0..n {
                for &p in idx.iter() {
                    to.write_sample(sent[p][i])?;
                    from.write_sample(heard[p][i])?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), hound::Error> {
        for (_, _, to, from) in self.legs {
            to.finalize()?;
            from.finalize()?;
        }
        Ok(())
    }
}

/// `e911 simulate`'s options.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Scenario file (TOML).
    pub scenario: Option<PathBuf>,
    /// Write each leg's audio (to-LEG.wav: what the tandem sent; from-LEG.wav: what the end
    /// office or PSAP sent; one channel per trunk/position) and calls.jsonl.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Print the embedded default scenario (to FILE if given) and exit. Its data files are
    /// named `builtin:…` (the bundled copies); replace them with paths relative to the
    /// scenario file to use your own.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub print_default: Option<PathBuf>,
    /// Overwrite output files that exist (never an input).
    #[arg(long)]
    pub force: bool,
    /// DSP worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Pace the simulation to the wall clock (10 ms blocks) instead of running flat out.
    #[arg(long)]
    pub realtime: bool,
}

pub fn run(a: SimulateArgs) -> anyhow::Result<()> {
    let (scenario, out, print_default) = (
        a.scenario.as_deref(),
        a.out.as_deref(),
        a.print_default.as_deref(),
    );
    let (format, force, threads, realtime) = (a.format, a.force, a.threads, a.realtime);
    if let Some(dest) = print_default {
        if scenario.is_some() {
            anyhow::bail!(
                "--print-default takes the file to write as its value: --print-default FILE"
            );
        }
        let text = Scenario::printable_default();
        if dest == Path::new("-") {
            print!("{text}");
        } else {
            super::outputs::check("--print-default", &[dest.to_path_buf()], &[], force)?;
            std::fs::write(dest, text).map_err(|e| anyhow::anyhow!("{}: {e}", dest.display()))?;
            eprintln!("wrote {}", dest.display());
        }
        return Ok(());
    }
    let sc = match scenario {
        Some(p) => crate::files::scenario(p).map_err(anyhow::Error::msg)?,
        None => Scenario::default_office(),
    };
    for w in &sc.warnings {
        eprintln!("e911: warning: {w}");
    }
    if let Some(dir) = out {
        super::outputs::check_dir(dir)?;
        let mut legs: Vec<String> = sc.trunks.iter().map(|t| t.0.clone()).collect();
        legs.extend(sc.office.psaps.keys().cloned());
        super::outputs::check(
            "--out",
            &super::outputs::leg_files(dir, &legs, &["to", "from"]),
            &sc.inputs,
            force,
        )?;
    }
    let mut legs: Option<Legs> = None;
    let mut err: Option<anyhow::Error> = None;
    let total = sc.duration;
    // A bar when the run takes ~10 s of wall time or more (about 170× real time flat out).
    let progress = super::progress::bar(
        total,
        if realtime {
            total > 10 * crate::units::SECOND
        } else {
            total > 1800 * crate::units::SECOND
        },
    );
    // The tandem's ports, for the legs' names and channels.
    let ports: Vec<PortInfo> = crate::sim::build(&sc)
        .map_err(anyhow::Error::msg)?
        .0
        .ports()
        .to_vec();
    let mut tap = |_now: u64, sent: &[Vec<i16>], heard: &[Vec<i16>]| {
        if err.is_some() {
            return;
        }
        if let Some(dir) = out {
            if legs.is_none() {
                match Legs::new(dir, &ports) {
                    Ok(l) => legs = Some(l),
                    Err(e) => {
                        err = Some(e);
                        return;
                    }
                }
            }
            if let Err(e) = legs.as_mut().unwrap().write(sent, heard) {
                err = Some(anyhow::anyhow!("{}: {e}", dir.display()));
            }
        }
    };
    let opts = crate::engine::Opts {
        workers: threads,
        realtime,
        stop: Some(super::interrupt::flag()),
        progress: progress.clone(),
        ..Default::default()
    };
    let tap: Option<&mut crate::engine::Sink<'_>> =
        if out.is_some() { Some(&mut tap) } else { None };
    let (run, stats) = crate::sim::run_sim(&sc, &opts, tap).map_err(anyhow::Error::msg)?;
    if let Some(p) = &progress {
        p(u64::MAX);
    }
    if let Some(e) = err {
        return Err(e);
    }
    // The files first: a reader that closes standard output early (`| head`) ends the printing,
    // not what `--out` keeps.
    if let (Some(dir), Some(l)) = (out, legs) {
        l.finish()
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.join("calls.jsonl"))
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?,
        );
        for l in run.json_lines() {
            writeln!(f, "{l}")?;
        }
    }
    let stdout = std::io::stdout();
    let mut o = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Text => write!(o, "{}", crate::sim::report::call_log(&sc.name, &run))?,
        Format::Jsonl => {
            for l in run.json_lines() {
                writeln!(o, "{l}")?;
            }
        }
    }
    o.flush()?;
    eprintln!(
        "engine: {} ports, {} DSP worker(s), {:.1} s simulated in {:.2} s ({:.0}× real time){}",
        stats.ports,
        stats.workers,
        crate::units::samples_to_s(stats.samples),
        stats.wall.as_secs_f64(),
        stats.realtime_factor(),
        if realtime {
            format!(", {} late block(s)", stats.late_blocks)
        } else {
            String::new()
        }
    );
    Ok(())
}
