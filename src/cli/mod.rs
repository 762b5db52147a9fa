//! The command line: clap parses, each command validates into a config, then calls the library.
//! Exit codes (contract): 0 success, 1 invalid input (message names file/line/field), 2 usage.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub mod bench;
pub mod bench_pipeline;
pub mod ecrf;
pub mod interrupt;
mod legs;
pub mod live;
pub mod office_data;
pub mod outputs;
pub mod progress;
pub mod route;
pub mod simulate;
pub mod sip;

use crate::audio::wav::write_wav;
use crate::detect::Kinds;

#[derive(Parser, Debug)]
#[command(
    name = "e911",
    version,
    about = "E911 selective-routing tandem simulator"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Synthesise signalling from a script (see docs/generate.md): MF spills, DTMF, 2600 Hz SF
    /// supervision, dial pulses, tones, voice, with impairments (level, twist, frequency offset,
    /// skew, noise, G.711, dropouts).
    Generate {
        /// Script file (`-` for stdin).
        script: PathBuf,
        /// Output WAV (16-bit PCM; 8 kHz unless the script says `rate`).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Also write the ground truth of every placed signal as JSON lines.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Overwrite outputs that exist (never an input).
        #[arg(long)]
        force: bool,
    },
    /// Print every MF, DTMF, SF and dial-pulse event on every channel of a WAV file.
    Detect {
        /// WAV file (`-` for standard input).
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Receivers to run: comma list of mf, dtmf, sf (tone on/off, seize, wink, flash,
        /// disconnect), dp (dial-pulse digits).
        #[arg(long, default_value = "mf,dtmf,sf,dp", value_parser = Kinds::parse)]
        kinds: Kinds,
        /// Worker threads (0 = one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Measure detection latency over the accept envelope, and throughput.
    Bench(bench::BenchArgs),
    /// Run the tandem on recorded end-office audio: each channel of IN.wav is one trunk of the
    /// group. PSAPs without --psap-in are modelled (wink, answer, hold).
    Route(route::RouteArgs),
    /// Run a whole office in closed loop — end offices, the tandem, PSAPs — with every signal
    /// generated, carried as audio and detected (docs/simulate.md). With no SCENARIO: the
    /// embedded default office (Cary, NC).
    Simulate(simulate::SimulateArgs),
    /// Sound-card I/O (built with `--features live`): the card as the tandem's lines, an end
    /// office or a PSAP (tandem, eo, psap), and devices, play, listen, loopback.
    Live {
        #[command(subcommand)]
        cmd: live::LiveCmd,
    },
    /// The SIP-trunk E9-1-1 provider on real sockets (docs/sip.md).
    Sip {
        #[command(subcommand)]
        cmd: sip::SipCmd,
    },
    /// NG9-1-1: an ECRF answering LoST from the office's data (docs/ng911.md).
    Ecrf {
        #[command(subcommand)]
        cmd: ecrf::EcrfCmd,
    },
    /// MSAG (docs/location.md).
    Msag {
        #[command(subcommand)]
        cmd: MsagCmd,
    },
    /// Office datafill (docs/datafill.md).
    Datafill {
        #[command(subcommand)]
        cmd: DatafillCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum MsagCmd {
    /// Validate the addresses of NENA 02-010 TN records (an ALI file) against an MSAG; print
    /// each TN's ESN or its error code (I, M, E, C, T, P, A, O); exit 1 if any fails.
    Validate {
        #[arg(long)]
        msag: PathBuf,
        /// ALI file (NENA 02-010 TN records).
        ali: PathBuf,
        /// Write the E911SRDB table (datafill) of the validated TNs here.
        #[arg(long)]
        srdb: Option<PathBuf>,
        /// Overwrite the --srdb file if it exists (never an input).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DatafillCmd {
    /// Validate datafill (a file, or a directory of *.dat files): every problem as
    /// FILE:LINE: TABLE.FIELD: message; exit 1 if any is an error.
    Check { path: PathBuf },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Jsonl,
}

/// Entry point for the binary.
pub fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    match run(cli) {
        // Everything decided was printed and written; the exit status still says it was cut short.
        Ok(()) if interrupt::interrupted() => ExitCode::from(interrupt::exit_status()),
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our standard output is gone (`| head`): it has what it wanted. Quietly.
        Err(e) if stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e911: {}", error_line(&e));
            // A bad option value is a usage error, whoever found it (clap or the command).
            ExitCode::from(if e.downcast_ref::<Usage>().is_some() {
                2
            } else {
                1
            })
        }
    }
}

/// `println!` panics when the reader of standard output is gone (`e911 bench | head`): that
/// reader has what it wanted, so the run ends quietly with status 0 (or the signal's, when
/// interrupted), as a closed pipe does where the error is returned ([`stdout_closed`]). Commands
/// whose work continues after printing (`msag validate --srdb`, `datafill check`) print through
/// [`say`], which never panics, so they finish and exit with their own status. Every other
/// panic is reported as before.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            // Interrupted first: the signal's status still says so.
            let code = if interrupt::interrupted() {
                i32::from(interrupt::exit_status())
            } else {
                0
            };
            std::process::exit(code);
        }
        default(info);
    }));
}

/// Print a line on standard output; a closed pipe is ignored (the command goes on: its files
/// and its exit status still matter).
fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Did the run stop because its standard output was closed (a broken pipe)?
fn stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A bad option value found by a command after parsing: a usage error (exit 2, as clap's own).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Fail with a [`Usage`] error.
macro_rules! usage {
    ($($t:tt)*) => { return Err($crate::cli::Usage(format!($($t)*)).into()) };
}
pub(crate) use usage;

/// An error as one line: its causes after it, each said once (an error that already quotes its
/// cause, as `path: cannot read: Is a directory` does, is not followed by it again), and control
/// characters escaped (a newline in a path cannot split the line, an ESC cannot reach the
/// terminal).
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for c in e.chain() {
        let s = c.to_string();
        if line.contains(&s) {
            continue;
        }
        if !line.is_empty() {
            line += ": ";
        }
        line += &s;
    }
    crate::text::one_line(&line)
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Generate {
            script,
            out,
            truth,
            force,
        } => generate(script, out, truth, force),
        Cmd::Detect {
            file,
            format,
            kinds,
            threads,
        } => detect(file, format, kinds, threads),
        Cmd::Bench(a) => bench::run(a),
        Cmd::Route(a) => route::run(a),
        Cmd::Datafill {
            cmd: DatafillCmd::Check { path },
        } => datafill_check(&path),
        Cmd::Live { cmd } => live::run(cmd),
        Cmd::Sip { cmd } => sip::run(cmd),
        Cmd::Ecrf { cmd } => ecrf::run(cmd),
        Cmd::Msag {
            cmd:
                MsagCmd::Validate {
                    msag,
                    ali,
                    srdb,
                    force,
                },
        } => msag_validate(&msag, &ali, srdb.as_deref(), force),
        Cmd::Simulate(a) => simulate::run(a),
    }
}

fn msag_validate(
    msag: &std::path::Path,
    ali: &std::path::Path,
    srdb: Option<&std::path::Path>,
    force: bool,
) -> anyhow::Result<()> {
    if let Some(p) = srdb {
        outputs::check(
            "--srdb",
            &[p.to_path_buf()],
            &[msag.to_path_buf(), ali.to_path_buf()],
            force,
        )?;
    }
    use crate::location::msag::{Address, Msag};
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    };
    // Every bad MSAG line on a line of its own, then one line that says the run stops.
    let m = Msag::parse(&read(msag)?).map_err(|e| {
        for l in &e {
            eprintln!("{}:{l}", crate::text::one_line(&msag.display().to_string()));
        }
        anyhow::anyhow!("{}: {} line(s) rejected", msag.display(), e.len())
    })?;
    let (a, errors) = crate::location::ali::Ali::parse(&read(ali)?);
    for e in &errors {
        eprintln!(
            "{}",
            crate::text::one_line(&format!("{}:{e}", ali.display()))
        );
    }
    let mut rows = Vec::new();
    let mut failed = 0;
    for (tn, r) in &a.records {
        match m.validate(&Address::of_ali(r)) {
            Ok(range) => {
                let note = match r.esn {
                    Some(e) if e != range.esn => format!(" (the ALI record says ESN {e})"),
                    _ => String::new(),
                };
                say(&format!(
                    "{tn}  ok  ESN {}  MSAG line {}{note}",
                    range.esn, range.line
                ));
                rows.push((*tn, range.esn));
            }
            Err(f) => {
                failed += 1;
                let place = format!("{} {}", r.address(), r.community);
                say(&format!("{tn}  {f}  {}", crate::text::one_line(&place)));
            }
        }
    }
    say(&format!("{} of {} validated", rows.len(), a.records.len()));
    if let Some(p) = srdb {
        let mut s = String::from("TABLE E911SRDB\nTN          ESN\n");
        for (tn, esn) in &rows {
            s.push_str(&format!("{tn}  {esn}\n"));
        }
        std::fs::write(p, s).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    }
    if failed > 0 || !errors.is_empty() {
        anyhow::bail!(
            "{}: {failed} record(s) did not validate, {} line(s) rejected",
            ali.display(),
            errors.len()
        );
    }
    Ok(())
}

fn datafill_check(path: &std::path::Path) -> anyhow::Result<()> {
    let loaded = crate::files::datafill(path).map_err(anyhow::Error::msg)?;
    for p in &loaded.problems {
        say(&p.to_string());
    }
    let o = &loaded.office;
    let errors = loaded.errors().count();
    if errors > 0 {
        anyhow::bail!("{}: {errors} error(s) in the datafill", path.display());
    }
    say(&format!(
        "{}: ok — {} PSAPs, {} NPDs, {} ESNs, {} E911SRDB rows, {} E911 trunk groups",
        path.display(),
        o.psaps.len(),
        o.npd.len(),
        o.esns.len(),
        o.srdb.len(),
        o.trunk_groups.len()
    ));
    Ok(())
}

fn generate(
    script: PathBuf,
    out: PathBuf,
    truth: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<()> {
    if truth.as_ref().is_some_and(|t| *t == out) {
        anyhow::bail!("{}: -o and --truth name the same file", out.display());
    }
    let mut outs = vec![out.clone()];
    outs.extend(truth.clone());
    let script_input: Vec<PathBuf> = if script.as_os_str() == "-" {
        Vec::new()
    } else {
        vec![script.clone()]
    };
    outputs::check("-o/--truth", &outs, &script_input, force)?;
    let (name, text, base) = if script.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        ("<stdin>".to_string(), s, PathBuf::from("."))
    } else {
        let text = std::fs::read_to_string(&script)
            .map_err(|e| anyhow::anyhow!("{}: cannot read script: {e}", script.display()))?;
        let base = script.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        (script.display().to_string(), text, base)
    };
    let limits = crate::generate::script::Limits {
        memory_bytes: memory_budget(),
    };
    let r = crate::files::script(&name, &text, &base, &limits).map_err(anyhow::Error::msg)?;
    for w in &r.warnings {
        eprintln!("e911: warning: {}", crate::text::one_line(&w.to_string()));
    }
    // Voice files the script mixed in are inputs too.
    outputs::check("-o/--truth", &outs, &r.inputs, force)?;
    write_wav(&out, &r.channels, r.rate)?;
    if let Some(t) = truth {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&t).map_err(|e| anyhow::anyhow!("{}: {e}", t.display()))?,
        );
        for (c, ts) in r.truth.iter().enumerate() {
            for x in ts {
                writeln!(
                    f,
                    "{}",
                    serde_json::json!({"channel": c, "kind": x.kind, "signal": x.signal,
                        "start_ms": crate::units::samples_to_ms(x.start),
                        "end_ms": crate::units::samples_to_ms(x.end)})
                )?;
            }
        }
    }
    let secs = crate::units::samples_to_s(r.channels.first().map_or(0, |c| c.len() as u64));
    eprintln!(
        "wrote {}: {} channel(s), {:.3} s, {} Hz",
        out.display(),
        r.channels.len(),
        secs,
        r.rate
    );
    Ok(())
}

/// Standard input, whole, within the memory budget.
fn read_stdin_wav() -> anyhow::Result<Vec<u8>> {
    let limit = memory_budget();
    let mut b = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::io::stdin().lock(), limit + 1),
        &mut b,
    )
    .map_err(|e| anyhow::anyhow!("<stdin>: {e}"))?;
    if b.len() as u64 > limit {
        anyhow::bail!(
            "<stdin>: more than {} MiB (half the memory available): give the WAV as a file",
            limit >> 20
        );
    }
    Ok(b)
}

/// Memory a command may fill with audio (bytes): half of what the system has available now
/// (`MemAvailable`), or 2 GiB where that cannot be read.
pub fn memory_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(2 << 30, |kib| kib * 1024 / 2)
}

fn detect(file: PathBuf, format: Format, kinds: Kinds, threads: usize) -> anyhow::Result<()> {
    // Streamed: the file is read block by block and each block's events printed once every
    // channel has settled past them (time order across channels), so memory does not grow with the recording's length. A damaged file: print what
    // the recovered audio holds, then fail with the reason.
    // `-`: a WAV on standard input (`sox … -t wav - | e911 detect -`), read whole first (a WAV
    // header gives its length up front; a pipe cannot be sought).
    let stdin_bytes: Vec<u8>;
    let mut s = if file.as_os_str() == "-" {
        stdin_bytes = read_stdin_wav()?;
        crate::audio::wav::WavStream::from_bytes(std::path::Path::new("<stdin>"), &stdin_bytes)?
    } else {
        crate::audio::wav::WavStream::open(&file)?
    };
    let frames = s.frames();
    // A bar when the run takes ~10 s or more (≈ 6 000 channel-s per core-s).
    let bar = progress::bar(
        frames,
        frames * s.channels() as u64 > crate::units::SECOND * 60_000 * 2,
    );
    let stop = interrupt::flag();
    let tick = |done: u64| {
        if let Some(b) = &bar {
            b(done);
        }
    };
    let watch = crate::detect::Watch {
        stop: Some(&stop),
        progress: Some(&tick),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if format == Format::Text {
        writeln!(
            out,
            "{:>3}  {:<5} {:<10} {:>10} {:>10} {:>11}",
            "ch", "kind", "signal", "start_ms", "end_ms", "reported_ms"
        )?;
    }
    let mut emit = |e: &crate::detect::Detection| -> std::io::Result<()> {
        match format {
            Format::Jsonl => writeln!(out, "{}", serde_json::to_string(e)?),
            Format::Text => writeln!(
                out,
                "{:>3}  {:<5} {:<10} {:>10.1} {:>10.1} {:>11.1}",
                e.channel, e.kind, e.signal, e.start_ms, e.end_ms, e.reported_ms
            ),
        }
    };
    let stopped = crate::detect::detect_stream(&mut s, kinds, threads, &watch, &mut emit).map_err(
        |e| match e {
            // Kept an io::Error, so a closed pipe is known as one.
            crate::detect::StreamError::Out(io) => anyhow::Error::from(io),
            e => anyhow::Error::from(e),
        },
    )?;
    tick(u64::MAX);
    out.flush()?;
    if let Some(at) = stopped {
        eprintln!(
            "e911: {}: interrupted ({}) at {:.2} s: the events up to there are above",
            file.display(),
            crate::stop::cause(),
            crate::units::samples_to_s(at)
        );
    }
    let damaged = s.damaged();
    match damaged {
        Some(m) => anyhow::bail!("{m}"),
        None => Ok(()),
    }
}
