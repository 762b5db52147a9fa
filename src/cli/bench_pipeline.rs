//! `e911 bench --trunks N`: the full pipeline (engine, MF + DTMF + SF receivers on every trunk,
//! call processing, the models) on an office of N trunks — real-time factor, trunks per core,
//! memory per trunk, block latency through the rings — each run and their median.

use super::bench::cores;

/// What the full-pipeline bench measured.
#[derive(Debug, Clone)]
pub struct PipelineReport {
    pub trunks: usize,
    pub block_ms: f64,
    pub delay_blocks: usize,
    /// Runs summarised (1 for a single run) and the real-time factor's range over them.
    pub runs: usize,
    pub range: (f64, f64),
    pub ports: usize,
    pub workers: usize,
    pub cores: usize,
    pub calls: usize,
    pub routed: usize,
    pub simulated_s: f64,
    pub wall_s: f64,
    pub realtime_factor: f64,
    pub trunks_per_core: f64,
    pub kib_per_trunk: f64,
    pub block_p50_us: f32,
    pub block_p99_us: f32,
    /// Busy seconds per stage: source (end offices + PSAP models), DSP workers, control.
    pub busy: (f64, f64, f64),
}

impl PipelineReport {
    /// One run in a line.
    pub fn line(&self) -> String {
        format!(
            "{:.2}× real time, {:.0} trunks per core, busy s: source {:.2} / workers {:.2} / control {:.2}",
            self.realtime_factor, self.trunks_per_core, self.busy.0, self.busy.1, self.busy.2
        )
    }

    /// The median run by real-time factor, with the factor's range noted, and memory as the
    /// first run measured it (later runs reuse memory the allocator kept).
    pub fn median(runs: &[PipelineReport]) -> PipelineReport {
        let mut v: Vec<&PipelineReport> = runs.iter().collect();
        v.sort_by(|a, b| a.realtime_factor.total_cmp(&b.realtime_factor));
        let mut m = v[v.len() / 2].clone();
        m.kib_per_trunk = runs[0].kib_per_trunk;
        m.range = (v[0].realtime_factor, v[v.len() - 1].realtime_factor);
        m.runs = runs.len();
        m
    }

    pub fn text(&self) -> String {
        format!(
            "pipeline: {} trunks ({} ports incl. PSAP positions), {} DSP worker(s) on {} core(s), {} ms blocks, \
             far end hears the tandem {} block(s) later{}\n\
             receivers: MF + DTMF + SF (with dial pulses) on every trunk; SF + DTMF on every PSAP position\n\
             calls: {} placed, {} routed\n\
             {}{:.1} s simulated in {:.2} s wall: {:.2}× real time{}\n\
             trunks in real time per core: {:.0} (trunks × real-time factor ÷ cores)\n\
             memory per trunk: {:.1} KiB (resident growth ÷ trunks)\n\
             block latency through the rings (source push → tandem answer sent): p50 {:.0} µs, p99 {:.0} µs\n\
             busy: source (end-office + PSAP models) {:.2} s, DSP workers {:.2} s, control (call processing, senders, bridge) {:.2} s\n",
            self.trunks,
            self.ports,
            self.workers,
            self.cores,
            self.block_ms,
            self.delay_blocks,
            if self.delay_blocks > 1 {
                " (stages overlapped)"
            } else {
                " (stages take turns)"
            },
            self.calls,
            self.routed,
            if self.runs > 1 {
                format!("median of {} runs: ", self.runs)
            } else {
                String::new()
            },
            self.simulated_s,
            self.wall_s,
            self.realtime_factor,
            if self.runs > 1 {
                format!(" (range {:.2}–{:.2}×)", self.range.0, self.range.1)
            } else {
                String::new()
            },
            self.trunks_per_core,
            self.kib_per_trunk,
            self.block_p50_us,
            self.block_p99_us,
            self.busy.0,
            self.busy.1,
            self.busy.2
        )
    }
}

fn rss_kib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// The scenario of the pipeline bench: the Cary office with one end office of `n` trunks; one
/// call on every tenth trunk, spread over the run, 8 s each; the rest idle (2600 Hz both ways).
pub fn pipeline_scenario(n: usize, seconds: f64) -> Result<crate::sim::scenario::Scenario, String> {
    let dat = include_str!("../../docs/datafill/cary.dat").replace(
        "CARYPOLICE      1DIGIT  SF    4 ",
        "CARYPOLICE      1DIGIT  SF    99",
    );
    let mut toml = format!(
        "name = \"bench\"\ndatafill = \"cary.dat\"\nduration_ms = {}\n[trunks]\nCARYEO1 = {n}\n[attendant]\nhold_ms = 4000\n",
        seconds * 1000.0
    );
    let span = (seconds - 12.0).max(1.0) * 1000.0;
    for (k, i) in (0..n).step_by(10).enumerate() {
        let at = (k as f64 * 977.0) % span;
        toml.push_str(&format!(
            "[[call]]\nat_ms = {at}\ntrunk = \"CARYEO1\"\nchannel = {i}\nani = \"919555{:04}\"\nhold_ms = 8000\n",
            i % 10_000
        ));
    }
    crate::sim::scenario::Scenario::parse("bench", &toml, &|_| {
        Ok((std::path::PathBuf::from("cary.dat"), dat.clone()))
    })
    .map_err(|e| e.to_string())
}

/// What `e911 bench --trunks` runs.
#[derive(Debug, Clone)]
pub struct PipelineOpts {
    pub trunks: usize,
    pub seconds: f64,
    pub threads: usize,
    pub block_ms: f64,
    pub delay_blocks: usize,
    pub runs: usize,
}

/// Run the full pipeline `o.runs` times; `each` sees every run as it ends.
pub fn pipeline(
    o: &PipelineOpts,
    each: &mut dyn FnMut(usize, &PipelineReport),
) -> Result<Vec<PipelineReport>, String> {
    let n = o.trunks;
    if n == 0 {
        return Err("--trunks: at least 1".into());
    }
    if !(1.0..=100.0).contains(&o.block_ms) {
        return Err(format!("--block-ms {}: 1–100", o.block_ms));
    }
    if !(1..=3).contains(&o.delay_blocks) {
        return Err(format!("--delay-blocks {}: 1–3", o.delay_blocks));
    }
    if o.runs == 0 {
        return Err("--runs: at least 1".into());
    }
    if o.seconds.is_nan() || o.seconds <= 0.0 {
        return Err(format!("--pipeline-seconds {}: more than 0", o.seconds));
    }
    let block = crate::units::ms_to_samples(o.block_ms);
    let before = rss_kib();
    let sc = pipeline_scenario(n, o.seconds)?;
    let opts = crate::engine::Opts {
        workers: o.threads,
        trunk_rx: Some(crate::line::port::RxSet::ALL),
        block,
        delay_blocks: o.delay_blocks,
        ..Default::default()
    };
    let mut out = Vec::new();
    for i in 0..o.runs {
        let r = pipeline_run(&sc, &opts, o, before)?;
        each(i, &r);
        out.push(r);
    }
    Ok(out)
}

fn pipeline_run(
    sc: &crate::sim::scenario::Scenario,
    opts: &crate::engine::Opts,
    o: &PipelineOpts,
    before: Option<f64>,
) -> Result<PipelineReport, String> {
    let n = o.trunks;
    let (run, stats) = crate::sim::run_sim(sc, opts, None)?;
    let after = rss_kib();
    let c = cores();
    let rtf = stats.realtime_factor();
    Ok(PipelineReport {
        trunks: n,
        block_ms: o.block_ms,
        delay_blocks: o.delay_blocks,
        runs: 1,
        range: (rtf, rtf),
        ports: stats.ports,
        workers: stats.workers,
        cores: c,
        calls: sc.calls.len(),
        routed: run.calls.iter().filter(|r| r.record.psap.is_some()).count(),
        simulated_s: crate::units::samples_to_s(stats.samples),
        wall_s: stats.wall.as_secs_f64(),
        realtime_factor: rtf,
        trunks_per_core: n as f64 * rtf / c as f64,
        kib_per_trunk: match (before, after) {
            (Some(b), Some(a)) => (a - b).max(0.0) / n as f64,
            _ => f64::NAN,
        },
        block_p50_us: stats.latency_us.percentile(50.0),
        block_p99_us: stats.latency_us.percentile(99.0),
        busy: (
            stats.busy_source.as_secs_f64(),
            stats.busy_workers.as_secs_f64(),
            stats.busy_control.as_secs_f64(),
        ),
    })
}
