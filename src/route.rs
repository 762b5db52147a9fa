//! The `e911 route` driver: runs the [`Tandem`] over recorded end-office audio (and, optionally,
//! recorded PSAP audio) on one clock, block by block, and collects what it sent on every leg.
//!
//! Each channel of the input is one trunk of the group. PSAPs with recorded audio (`psap_in`, one
//! channel per position) are heard: their wink, answer, hook flash, DTMF transfer codes and hang-up
//! drive the tandem. PSAPs without it are modelled (see [`crate::tandem::switch`]).
//!
//! It takes and returns sample buffers; files are the CLI's business. It sits above the engine
//! and the tandem (it puts one on the other), as `sim` does.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::sources::{FileSource, Recording};
use crate::engine::{self, Opts};
use crate::sim::attendant::{Attendants, WithAttendants};
pub use crate::tandem::switch::{CallRecord, TransferRecord};
use crate::tandem::switch::{Tandem, TandemError};
use crate::tandem::tables::{Office, Supv};
use crate::units::ms_to_samples;

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RouteRun {
    /// Every call, in seizure order, numbered in that order.
    pub records: Vec<CallRecord>,
    /// Trunks seized but not yet routed when the run ended: `(GRPKEY, trunk)`.
    pub in_setup: Vec<(String, usize)>,
    /// Samples run when the run was stopped early (SIGINT); `None` for a whole run.
    pub interrupted_at: Option<u64>,
    /// Audio the tandem sent, per leg (`GRPKEY` or PSAP name), one channel per trunk/position
    /// (only when kept: [`run_on`] with `keep_legs`).
    pub legs: BTreeMap<String, Vec<Vec<i16>>>,
    /// Every port, in the order the sink was given them.
    pub ports: Vec<crate::tandem::switch::PortInfo>,
    /// PSAPs that had a call (the legs worth writing).
    pub used: BTreeSet<String>,
    /// How long the legs are: the trunk group's (its recording's length) and the PSAPs' (on
    /// while there was activity), in frames.
    pub leg_frames: (u64, u64),
    /// A streamed recording that could not be read to its end (the run used what was read).
    pub source_error: Option<String>,
    /// What the MF receiver pool went through.
    pub mf_pool: crate::tandem::switch::PoolStats,
}

/// Why a route run cannot start (the CLI names the flag each comes from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("PSAP audio for {name}: {channels} channel(s), but {name} has {positions} position(s) (one channel per position)")]
    PositionCount {
        name: String,
        channels: usize,
        positions: u32,
    },
    #[error("{0} trunks: a trunk group has at most {MAX_TRUNKS}")]
    TooManyTrunks(usize),
    #[error(transparent)]
    Tandem(#[from] TandemError),
}

/// Block size of the driver (10 ms).
const BLOCK: usize = 80;

/// Blocks the recordings and their receivers may run ahead of call processing on the engine
/// (80 ms). A receiver the tandem attaches (MF at a seizure, DTMF at a flash) then starts that
/// much after the decision: well before an end office's KP (its wink comes 150 ms after the
/// seizure is recognised) or a PSAP attendant's first digit after the recall dial tone.
pub const ROUTE_LOOKAHEAD: usize = 8;

/// The most trunks a group may have (one input channel each).
pub const MAX_TRUNKS: usize = 4096;

/// Memory a run over `ports` ports needs (bytes, an upper estimate): each port's receivers,
/// senders and bridge buffers (~600 KiB, measured when every port ran every receiver: 1 024
/// trunks took 568 MB). Recordings are streamed and legs written as they are made, so the
/// recording's length does not count.
pub fn memory_estimate(ports: u64) -> u64 {
    ports * 600 * 1024
}

/// A recording for [`run_inputs`]: channels in memory, or a WAV file read as the run goes.
pub enum Input<'a> {
    Memory(Vec<&'a [i16]>),
    Stream(Box<crate::audio::wav::WavStream<'a>>),
}

impl<'a> Input<'a> {
    pub fn channels(&self) -> usize {
        match self {
            Input::Memory(c) => c.len(),
            Input::Stream(s) => s.channels(),
        }
    }

    fn recording(self, ports: Vec<usize>) -> Recording<'a> {
        match self {
            Input::Memory(c) => Recording::memory(c, ports),
            Input::Stream(s) => Recording::stream(*s, ports),
        }
    }
}

/// Run the tandem on `group`'s trunks (`audio[c]` = trunk `c`, 8 kHz) with modelled PSAPs.
pub fn run(office: &Office, group: &str, audio: &[Vec<i16>]) -> Result<RouteRun, RouteError> {
    run_with_psaps(office, group, audio, &BTreeMap::new())
}

/// As [`run`], with what some PSAPs sent back (`psap_in[name][position]`, on the same clock).
pub fn run_with_psaps(
    office: &Office,
    group: &str,
    audio: &[Vec<i16>],
    psap_in: &BTreeMap<String, Vec<Vec<i16>>>,
) -> Result<RouteRun, RouteError> {
    run_on(
        office,
        group,
        audio,
        psap_in,
        None,
        ms_to_samples(crate::sim::attendant::HOLD_MS) as u64,
        true,
    )
}

/// As [`run_with_psaps`], on the multi-threaded engine when `engine` is given (same results);
/// modelled PSAPs hang up `hold` samples after answering. With `keep_legs` what the tandem sent
/// is kept in `legs` (in memory: for tests and small runs; the CLI writes legs as they are made).
pub fn run_on(
    office: &Office,
    group: &str,
    audio: &[Vec<i16>],
    psap_in: &BTreeMap<String, Vec<Vec<i16>>>,
    engine: Option<&Opts>,
    hold: u64,
    keep_legs: bool,
) -> Result<RouteRun, RouteError> {
    let trunks = Input::Memory(audio.iter().map(|c| c.as_slice()).collect());
    let psaps = psap_in
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Input::Memory(v.iter().map(|c| c.as_slice()).collect()),
            )
        })
        .collect();
    let mut outs: Vec<Vec<i16>> = Vec::new();
    let mut keep = |_: u64, sent: &[Vec<i16>], _: &[Vec<i16>]| {
        if outs.is_empty() {
            outs = vec![Vec::new(); sent.len()];
        }
        for (d, b) in outs.iter_mut().zip(sent) {
            d.extend_from_slice(b);
        }
    };
    // No sink at all when nothing is kept: the engine then copies nothing for it either.
    let sink: Option<&mut engine::Sink<'_>> = if keep_legs { Some(&mut keep) } else { None };
    let mut run = run_inputs(office, group, trunks, psaps, engine, hold, sink)?;
    let (len, psap_len) = run.leg_frames;
    for (p, mut o) in run.ports.iter().zip(outs) {
        if p.psap && !run.used.contains(&p.leg) {
            continue;
        }
        o.truncate(if p.psap { psap_len } else { len } as usize);
        run.legs.entry(p.leg.clone()).or_default().push(o);
    }
    Ok(run)
}

/// The run itself, on recordings in memory or streamed: every block of what the tandem sent
/// goes to `sink` (`(now, sent per port, heard per port)`, ports in [`RouteRun::ports`] order);
/// the legs are then [`RouteRun::leg_frames`] long.
pub fn run_inputs(
    office: &Office,
    group: &str,
    trunks: Input<'_>,
    psap_in: BTreeMap<String, Input<'_>>,
    engine: Option<&Opts>,
    hold: u64,
    sink: Option<&mut engine::Sink<'_>>,
) -> Result<RouteRun, RouteError> {
    for (name, input) in &psap_in {
        let p = office
            .psaps
            .get(name)
            .ok_or_else(|| TandemError::UnknownPsap(name.clone()))?;
        if input.channels() != p.positions as usize {
            return Err(RouteError::PositionCount {
                name: name.clone(),
                channels: input.channels(),
                positions: p.positions,
            });
        }
        if p.supv != Supv::Sf {
            return Err(TandemError::NotSupervised(name.clone()).into());
        }
    }
    let n = trunks.channels();
    if n > MAX_TRUNKS {
        return Err(RouteError::TooManyTrunks(n));
    }
    let tg = office
        .trunk_groups
        .get(group)
        .ok_or_else(|| TandemError::UnknownTrunkGroup(group.to_string()))?
        .clone();
    let heard: BTreeSet<String> = psap_in.keys().cloned().collect();
    let mut sw = Tandem::new(office, &[(group.to_string(), n)], &heard)?;
    // A recording's trunk is idle from its first idle tone, as a live line is: silence before
    // it (a file that starts with a gap, a recorder started early) is not a seizure.
    if tg.supv == Supv::Sf {
        sw.lines_unknown_at_start(&(0..n).collect::<Vec<_>>());
    }
    let ports = sw.ports().to_vec();
    // Where each port's input comes from.
    let mut recordings = vec![trunks.recording((0..n).collect())];
    for (name, input) in psap_in {
        let ps = (0..input.channels())
            .map(|c| {
                sw.port(&name, c)
                    .expect("a position of a PSAP in the office")
            })
            .collect();
        recordings.push(input.recording(ps));
    }
    let none_supv = ports
        .iter()
        .map(|p| !p.psap && tg.supv == Supv::None)
        .collect();
    let files = FileSource::new(recordings, none_supv);
    let len = files.len();
    // PSAPs without recorded audio: attendants modelled at the far end of their out-of-band leads.
    let source = WithAttendants {
        inner: files,
        attendants: Attendants::new(hold),
    };
    // Run past the end of the audio long enough for every timer (ANI 10 s, wink 4 s, digits 5 s).
    let end = len + ms_to_samples(20_000.0) as u64;
    // The run ends once the recordings have and the switch is quiet (nothing after that could
    // change a record), or at `end`.
    let (sw, src, done, ran) = match engine {
        Some(opts) => {
            // The recordings do not depend on what the tandem sends, and the modelled attendants
            // answer its notices hundreds of ms later: the source and the receivers may work
            // ahead of call processing (both cores busy) with the same records.
            let opts = Opts {
                block: BLOCK,
                delay_blocks: ROUTE_LOOKAHEAD,
                until_quiet: Some(len),
                ..opts.clone()
            };
            let (sw, src, stats) = engine::run(sw, source, end, &opts, sink);
            let done = stats.interrupted.then_some(stats.samples);
            (sw, src, done, stats.samples)
        }
        None => {
            let (sw, src, ran) = engine::run_inline_until(
                sw,
                source,
                end,
                BLOCK,
                sink.map(|s| s as &mut engine::Tap<'_>),
                Some(len),
            );
            (sw, src, None, ran)
        }
    };
    let source_error = src.inner.error().map(|e| e.to_string());
    // An interrupted run keeps what it ran.
    let (len, end) = match done {
        Some(d) => (len.min(d), d),
        None => (len, ran.min(end)),
    };
    // The trunk group's leg is as long as its input; PSAP legs run on while there was activity.
    let psap_len = len
        .max(sw.last_activity() + ms_to_samples(2000.0) as u64)
        .min(end);
    let used = sw.used_psaps().clone();
    let in_setup = sw.in_setup();
    let mf_pool = sw.pool_stats();
    let mut records = sw.into_records();
    records.sort_by(|a, b| {
        a.seized_ms
            .total_cmp(&b.seized_ms)
            .then(a.channel.cmp(&b.channel))
    });
    for (i, r) in records.iter_mut().enumerate() {
        r.call = i as u64 + 1;
    }
    Ok(RouteRun {
        records,
        in_setup,
        legs: BTreeMap::new(),
        interrupted_at: done,
        ports,
        used,
        leg_frames: (len, psap_len),
        source_error,
        mf_pool,
    })
}
