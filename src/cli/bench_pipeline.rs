//! `e911 bench --trunks N`: the full pipeline (engine, MF + DTMF + SF receivers on every trunk,
//! call processing, the models) on an office of N trunks — real-time factor, trunks per core,
//! memory per trunk, MF pool occupancy, block latency through the pipeline — each run and their median.

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
    /// Fraction of trunks in a call at a time, and whether every receiver ran all the time.
    pub busy_fraction: f64,
    pub all_receivers: bool,
    /// The MF receiver pool: peak attached, waits.
    pub pool: crate::tandem::switch::PoolStats,
}

impl PipelineReport {
    /// One run in a line.
    pub fn line(&self) -> String {
        format!(
            "{:.2}× real time, {:.0} trunks per core with {} calls placed, {} routed; busy s: source {:.2} / workers {:.2} / control {:.2}",
            self.realtime_factor,
            self.trunks_per_core,
            self.calls,
            self.routed,
            self.busy.0,
            self.busy.1,
            self.busy.2
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
             traffic: {:.0} % of the trunks in a call at a time (calls of 8 s)\n\
             receivers: {}\n\
             calls: {} placed, {} routed; MF receivers attached at most {} at once ({} seizure(s) waited for one)\n\
             {}{:.1} s simulated in {:.2} s wall: {:.2}× real time{}\n\
             trunks in real time per core: {:.0} (trunks × real-time factor ÷ cores, with the calls above)\n\
             memory per trunk: {:.1} KiB (resident growth ÷ trunks)\n\
             block latency through the pipeline (source hand-over → tandem answer sent): p50 {:.0} µs, p99 {:.0} µs\n\
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
            self.busy_fraction * 100.0,
            if self.all_receivers {
                "MF + DTMF + SF (with dial pulses) on every trunk, all the time"
            } else {
                "attached as calls need them: SF on every trunk, MF from a seizure to its ANI, DTMF after a PSAP's flash"
            },
            self.calls,
            self.routed,
            self.pool.peak_busy,
            self.pool.waits,
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

/// The shortest pipeline run: two holding times (the traffic reaches its level after one) and
/// the 3 s a call needs to end before the run does.
pub const MIN_PIPELINE_S: f64 = 20.0;

/// A call's seizure-to-hang-up time in the pipeline bench (ms).
pub const BENCH_HOLD_MS: f64 = 8000.0;

/// The office of the pipeline bench for `n` trunks with `busy` of them in a call at a time: one
/// E911 trunk group (MF, SF, called 911, ANI) and enough 99-position PSAPs (SF supervised, each
/// its own ESN; E911SRDB spreads the callers over them) for every delivered call.
pub fn bench_datafill(n: usize, busy: f64) -> String {
    let calls = (n as f64 * busy).ceil().max(1.0);
    // A position is held ~6 s of a call's ~10 (answer 0.5 s after the spill, 4 s, the guard).
    let psaps = ((calls * 0.7 / 99.0).ceil() as usize + 1).clamp(1, 100);
    let mut d = String::from("TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\n");
    for p in 0..psaps {
        d.push_str(&format!("BENCH{p} 1DIGIT SF 99 NONE POLICE\n"));
    }
    d.push_str("\nTABLE E911NPD\nNPD SNPA\n0 919\n\nTABLE E911ESN\n");
    d.push_str("ESN FLASH PRIMPSAP PSAP1 PSAP2 PSAP3 PSAP4 PSAP5 PSAP6\n");
    for p in 0..psaps {
        d.push_str(&format!(
            "{} N BENCH{p} NONE NONE NONE NONE NONE NONE\n",
            100 + p
        ));
    }
    d.push_str("\nTABLE E911SRDB\nTN ESN\n");
    for t in 0..10_000 {
        d.push_str(&format!("919555{t:04} {}\n", 100 + t % psaps));
    }
    d.push_str("\nTABLE TRKGRP\nGRPKEY GRPTYP SIG SUPV CALLED ANI NPA DEFESN ESCO ANIDELAY\n");
    for g in 0..groups(n).len() {
        d.push_str(&format!("BENCHEO{g} E911 MF SF 911 Y 919 100 11 0\n"));
    }
    d
}

/// A trunk group has at most 4 096 trunks: the bench's `n` trunks in groups of up to 4 000.
fn groups(n: usize) -> Vec<usize> {
    let g = n.div_ceil(4000).max(1);
    (0..g).map(|i| n / g + usize::from(i < n % g)).collect()
}

/// The scenario of the pipeline bench: `n` trunks of which `busy` (a fraction) are in a call
/// at a time — calls of 8 s (seizure to hang-up) start at a steady rate, each on the next trunk
/// in turn (a trunk is reused after 8 s ÷ `busy`), each with its own TN; the rest idle (2600 Hz
/// both ways). Attendants hold 4 s.
pub fn pipeline_scenario(
    n: usize,
    seconds: f64,
    busy: f64,
) -> Result<crate::sim::scenario::Scenario, String> {
    let dat = bench_datafill(n, busy);
    let sizes = groups(n);
    let mut toml = format!(
        "name = \"bench\"\ndatafill = \"bench.dat\"\nduration_ms = {}\n[attendant]\nhold_ms = 4000\n[trunks]\n",
        seconds * 1000.0
    );
    for (g, k) in sizes.iter().enumerate() {
        toml.push_str(&format!("BENCHEO{g} = {k}\n"));
    }
    let concurrent = (n as f64 * busy).max(1.0);
    let every = BENCH_HOLD_MS / concurrent;
    // Calls that can finish (with the disconnect recognised) before the run ends.
    let last = seconds * 1000.0 - BENCH_HOLD_MS - 3000.0;
    let mut i = 0usize;
    while (i as f64) * every < last.max(0.0) {
        // Trunk i mod n, counted across the groups.
        let (mut g, mut c) = (0, i % n);
        while c >= sizes[g] {
            c -= sizes[g];
            g += 1;
        }
        toml.push_str(&format!(
            "[[call]]\nat_ms = {:.1}\ntrunk = \"BENCHEO{g}\"\nchannel = {c}\nani = \"919555{:04}\"\nhold_ms = {BENCH_HOLD_MS}\n",
            i as f64 * every,
            i % 10_000
        ));
        i += 1;
    }
    crate::sim::scenario::Scenario::parse("bench", &toml, &|_| {
        Ok((std::path::PathBuf::from("bench.dat"), dat.clone()))
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
    /// Fraction of the trunks in a call at a time.
    pub busy: f64,
    /// Run MF, DTMF and SF on every trunk all the time (a stress figure) instead of attaching
    /// them as calls need them.
    pub all_receivers: bool,
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
    if !(o.busy > 0.0 && o.busy <= 0.5) {
        return Err(format!("--busy {}: more than 0, at most 0.5", o.busy));
    }
    if o.seconds.is_nan() || o.seconds < MIN_PIPELINE_S {
        return Err(format!(
            "--pipeline-seconds {}: at least {MIN_PIPELINE_S} (calls of 8 s need 8 s to reach the traffic level and must end before the run does)",
            o.seconds
        ));
    }
    let block = crate::units::ms_to_samples(o.block_ms);
    let before = rss_kib();
    let sc = pipeline_scenario(n, o.seconds, o.busy)?;
    let opts = crate::engine::Opts {
        workers: o.threads,
        trunk_rx: o.all_receivers.then_some(crate::line::port::RxSet::ALL),
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
    let routed = run.calls.iter().filter(|r| r.record.psap.is_some()).count();
    // A throughput figure is for traffic that ran: none routed, no figure.
    if routed == 0 && !crate::cli::interrupt::interrupted() {
        return Err(format!(
            "the pipeline run routed none of its {} call(s): no throughput to report",
            sc.calls.len()
        ));
    }
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
        routed,
        busy_fraction: o.busy,
        all_receivers: o.all_receivers,
        pool: run.mf_pool,
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
