//! The real-time engine (`docs/architecture.md`): the tandem's ports carried between threads
//! in whole-block frames.
//!
//! ```text
//!   source thread ──frame (shared)──▶ DSP workers ──crossbeam (events)──▶ control thread
//!   (end offices, PSAPs,  + receiver   (the receivers     ──frame────────▶ (call processing,
//!    WAV streams)           changes     attached: SF,                       senders, bridge,
//!        ▲                              MF, DTMF)                           receivers needed)
//!        └──────────── frame: what the tandem sent (`delay_blocks` later) ◀──────┘
//!                                            └──▶ sink thread (WAV writers)
//! ```
//!
//! One block (10 ms) at a time: the source fills a frame of block k for every port, the workers
//! run the receivers attached on their share of the ports and send the events to the control
//! thread, which steps the tandem's machines, renders block k of what the tandem sends into
//! another frame and says which receivers each port needs from now on; the source hears that
//! `delay_blocks` later. Frames (one contiguous block of every port) move whole over crossbeam
//! channels and return to a pool: nothing is copied port by port. With `realtime` the control
//! thread paces blocks to the wall clock; otherwise the engine runs as fast as the machine allows.
//! With one block of delay the results are the same as the single-threaded reference
//! ([`run_inline`]), sample for sample.
//!
//! The engine knows a [`Switch`] (ports in, ports out) and a [`Source`] (what feeds the ports),
//! nothing of what they are: `sim` and `route` bring the tandem, the world and recordings.

pub mod ring;
pub mod sources;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded, Sender};

use crate::dsp::correlator::KernelPlanner;
use crate::line::port::{PortEvent, PortReceivers, RxSet, Spare};

pub use crate::line::lead::{Lead, LineSignal};

/// One port's receivers as the switch asks for them: which, and whether the port is an incoming
/// trunk (its SF supervision takes the line as idle at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRx {
    pub set: RxSet,
    pub trunk: bool,
}

/// What the engine runs between its source and its receivers: a switch of `ports()` ports that
/// takes, block by block, what each port heard (the receivers' events, run by the engine's
/// workers, and the audio for its voice path) and writes what it sends on each port. The tandem
/// is one; a new kind of port (a sound card, a SIP call with RTP) is a port of a switch like any
/// other, so the engine never needs to know which kinds there are.
pub trait Switch: Send {
    /// Number of ports; every block has one input and one output per port.
    fn port_count(&self) -> usize;
    /// The receivers each port needs.
    fn receivers(&self) -> Vec<PortRx>;
    /// Out-of-band supervision from a port's far end, applied in the block that contains `at`.
    fn line_event(&mut self, port: usize, at: u64, lead: Lead);
    /// Out-of-band signals the switch sent in the block just stepped (to the far ends of its
    /// unsupervised ports), drained into `out`.
    fn notices(&mut self, out: &mut Vec<LineSignal>);
    /// One block with the receivers' events of this block (`heard[p]`, in time order).
    fn step_heard(&mut self, heard: &[Vec<PortEvent>], input: &[&[i16]], output: &mut [&mut [i16]]);
    /// One block with the switch's own receivers (the single-threaded reference).
    fn step(&mut self, input: &[&[i16]], output: &mut [&mut [i16]]);
    /// Receivers attached or detached by the block just stepped, each `(port, its whole new
    /// set)`, drained into `out`. The engine's workers run the new sets from the block the
    /// source makes next (`delay_blocks` after this one); a switch running its own receivers
    /// ([`Switch::step`]) changes them from its next block.
    fn receiver_changes(&mut self, _out: &mut Vec<(usize, RxSet)>) {}
    /// Nothing is going on and nothing is pending: no call, no seized port, no timer. A run
    /// with [`Opts::until_quiet`] ends at the first quiet block after that time.
    fn quiet(&self) -> bool {
        false
    }
}

/// What feeds the tandem's ports and hears what it sends: the simulated world, recordings, or a
/// sound card.
pub trait Source: Send {
    /// One block from `now`: `from_tandem[p]` is what the switch sent on port `p` one block
    /// earlier and `notices` what it signalled out of band then; write `out[p]`. `valid[p]` comes
    /// in as the block length; set it lower for a recording that has ended (its receivers then
    /// hear nothing more). Out-of-band supervision from the far ends goes to `line`. Each
    /// `out[p]` comes in zeroed or as this source left port `p`'s block an earlier time: a
    /// port the source never writes stays silent.
    fn step(
        &mut self,
        now: u64,
        from_tandem: &[&[i16]],
        notices: &[LineSignal],
        out: &mut [&mut [i16]],
        valid: &mut [usize],
        line: &mut Vec<LineSignal>,
    );
}

/// The default block: 10 ms.
pub const BLOCK: usize = 80;

/// Engine options.
#[derive(Clone)]
pub struct Opts {
    /// DSP worker threads (0: one per core).
    pub workers: usize,
    /// Pace blocks to the wall clock.
    pub realtime: bool,
    /// Receivers on every end-office trunk port instead of the tandem's own choice (the bench
    /// runs MF, DTMF and SF on every trunk).
    pub trunk_rx: Option<RxSet>,
    /// Samples per block.
    pub block: usize,
    /// Blocks between what the tandem sends and when the source hears it (1–8). With 1 the
    /// stages take turns (and the results equal the single-threaded loop's); with 2 the source
    /// makes block k+1 while the workers and the control thread handle block k; more lets a
    /// source that does not depend on the tandem (recordings) run further ahead. Receiver
    /// changes take effect this many blocks after the switch decides them.
    pub delay_blocks: usize,
    /// Set from outside (SIGINT) to end the run at the next block: what was decided is kept.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Called from the control thread after each block with the samples done (a progress bar).
    pub progress: Option<std::sync::Arc<dyn Fn(u64) + Send + Sync>>,
    /// End the run at the first block after this many samples where the switch is quiet
    /// ([`Switch::quiet`]) instead of running every sample asked for (`route` after its
    /// recordings end: the timers still running decide when).
    pub until_quiet: Option<u64>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            workers: 0,
            realtime: false,
            trunk_rx: None,
            block: BLOCK,
            delay_blocks: 1,
            stop: None,
            progress: None,
            until_quiet: None,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub blocks: u64,
    pub samples: u64,
    pub ports: usize,
    pub workers: usize,
    pub wall: Duration,
    /// Per block: from the source handing it over to the control thread having sent the
    /// tandem's answer (microseconds), as a histogram (a run of any length keeps the same few
    /// KiB).
    pub latency_us: Latency,
    /// Real-time mode: blocks the control thread finished after their wall-clock deadline.
    pub late_blocks: u64,
    /// Time each stage spent working (not waiting): source, DSP workers (summed), control.
    pub busy_source: Duration,
    pub busy_workers: Duration,
    pub busy_control: Duration,
    /// The run was stopped (`Opts::stop`) before `samples`; `samples` is what was done.
    pub interrupted: bool,
}

impl Stats {
    /// Simulated time over wall time.
    pub fn realtime_factor(&self) -> f64 {
        crate::units::samples_to_s(self.samples) / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Block latencies in log-spaced bins (1/32 octave, about 2 % wide) from 1 µs to ~1 100 s.
#[derive(Debug, Clone)]
pub struct Latency {
    bins: Vec<u64>,
    n: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            bins: vec![0; Latency::BINS],
            n: 0,
        }
    }
}

impl Latency {
    const PER_OCTAVE: f32 = 32.0;
    const BINS: usize = 32 * 30;

    pub fn push(&mut self, us: f32) {
        let b = (us.max(1.0).log2() * Self::PER_OCTAVE) as usize;
        self.bins[b.min(Self::BINS - 1)] += 1;
        self.n += 1;
    }

    /// Blocks measured.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The `p`th percentile (nearest rank; the middle of its bin), NaN with nothing measured.
    pub fn percentile(&self, p: f64) -> f32 {
        if self.n == 0 {
            return f32::NAN;
        }
        let rank = ((p / 100.0) * (self.n - 1) as f64).round() as u64;
        let mut seen = 0;
        for (b, &c) in self.bins.iter().enumerate() {
            seen += c;
            if seen > rank {
                return ((b as f32 + 0.5) / Self::PER_OCTAVE).exp2();
            }
        }
        f32::NAN
    }
}

/// A block's worth of copies for the sink: `(now, switch sent, source sent)`, one vector per port.
pub type Sink<'a> = dyn FnMut(u64, &[Vec<i16>], &[Vec<i16>]) + Send + 'a;

/// The same, for the single-threaded loop (no thread to move to).
pub type Tap<'a> = dyn FnMut(u64, &[Vec<i16>], &[Vec<i16>]) + 'a;

/// One block of every port, contiguous: port `p` is `audio[p * block..(p + 1) * block]`, of
/// which `valid[p]` samples were heard (a recording that has ended is shorter). Frames move
/// between the stages whole (a pointer, not a copy) and come back to be reused.
struct Frame {
    audio: Vec<i16>,
    valid: Vec<usize>,
}

impl Frame {
    fn new(ports: usize, block: usize) -> Self {
        Frame {
            audio: vec![0; ports * block],
            valid: vec![block; ports],
        }
    }

    fn slices(&self, block: usize) -> Vec<&[i16]> {
        self.audio
            .chunks_exact(block.max(1))
            .zip(&self.valid)
            .map(|(c, &n)| &c[..n.min(block)])
            .collect()
    }
}

/// Back to its pool when this was the last holder (a holder that was not just drops it).
fn recycle(f: Arc<Frame>, pool: &Sender<Frame>) {
    if let Ok(f) = Arc::try_unwrap(f) {
        let _ = pool.try_send(f);
    }
}

/// A block for the DSP workers: its number, the source's frame, and the receivers the switch
/// attached or detached `delay` blocks earlier.
struct WorkerGo {
    k: u64,
    frame: Arc<Frame>,
    changes: Option<Arc<Vec<(usize, RxSet)>>>,
}

enum ToControl {
    Source {
        k: u64,
        line: Vec<LineSignal>,
        pushed: Instant,
        frame: Arc<Frame>,
    },
    Events {
        w: usize,
        ev: Vec<(usize, PortEvent)>,
    },
}

/// What the control thread sends the source after block k: the block number the source may now
/// make, the switch's out-of-band notices and receiver changes of block k.
type SourceGo = (u64, Vec<LineSignal>, Vec<(usize, RxSet)>);

/// Run `switch` against `source` for `samples` samples. Returns the switch (its records) and
/// the source, and what was measured.
pub fn run<W: Switch, S: Source>(
    mut switch: W,
    source: S,
    samples: u64,
    opts: &Opts,
    sink: Option<&mut Sink<'_>>,
) -> (W, S, Stats) {
    let b = opts.block.max(1);
    let ports = switch.receivers();
    let np = switch.port_count();
    let blocks = samples.div_ceil(b as u64);
    let workers = match opts.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, np.max(1));
    let fixed = opts.trunk_rx;
    let sets: Vec<RxSet> = ports
        .iter()
        .map(|p| match fixed {
            Some(rx) if p.trunk => rx,
            _ => p.set,
        })
        .collect();
    let delay = opts.delay_blocks.clamp(1, 8) as u64;
    let with_sink = sink.is_some();
    // Shards: contiguous port ranges.
    let per = np.div_ceil(workers).max(1);
    let shards: Vec<std::ops::Range<usize>> = (0..workers)
        .map(|w| (w * per).min(np)..((w + 1) * per).min(np))
        .collect();
    let (ctl_tx, ctl_rx) = unbounded::<ToControl>();
    let (go_src_tx, go_src_rx) = bounded::<SourceGo>(delay as usize + 2);
    // What the switch sent, to the source (`delay` blocks later) and the sink.
    let (c2s_tx, c2s_rx) = bounded::<Arc<Frame>>(delay as usize + 2);
    let (sink_tx, sink_rx) = bounded::<(u64, Arc<Frame>, Arc<Frame>)>(64);
    let (free_in_tx, free_in_rx) = bounded::<Frame>(8 + 64 * with_sink as usize);
    let (free_out_tx, free_out_rx) = bounded::<Frame>(8 + 64 * with_sink as usize);
    for _ in 0..delay {
        let _ = c2s_tx.send(Arc::new(Frame::new(np, b)));
    }
    let mut go_w = Vec::new();
    let mut back_w = Vec::new();
    let mut stats = Stats {
        blocks,
        samples: blocks * b as u64,
        ports: np,
        workers,
        ..Default::default()
    };
    let start = Instant::now();
    let source = std::thread::scope(|scope| {
        // DSP workers: each runs the receivers attached on its share of the ports.
        let mut handles = Vec::new();
        let mut planner = KernelPlanner::new();
        for (w, range) in shards.iter().enumerate() {
            let (go_tx, go_rx) = unbounded::<WorkerGo>();
            let (bk_tx, bk_rx) = unbounded::<Vec<(usize, PortEvent)>>();
            go_w.push(go_tx);
            back_w.push(bk_tx);
            let mut rxs: Vec<PortReceivers> = range
                .clone()
                .map(|p| PortReceivers::for_port(sets[p], !ports[p].trunk, &mut planner))
                .collect();
            let mut planner = KernelPlanner::new();
            let trunk: Vec<bool> = range.clone().map(|p| ports[p].trunk).collect();
            let range = range.clone();
            let ctl = ctl_tx.clone();
            handles.push(scope.spawn(move || {
                let mut spare = Spare::default();
                let mut active: Vec<usize> = (0..rxs.len())
                    .filter(|&i| rxs[i].set() != RxSet::NONE)
                    .collect();
                let mut busy = Duration::ZERO;
                while let Ok(go) = go_rx.recv() {
                    let t0 = Instant::now();
                    if let (Some(ch), None) = (&go.changes, fixed) {
                        let mut changed = false;
                        for &(p, set) in ch.iter().filter(|c| range.contains(&c.0)) {
                            let i = p - range.start;
                            rxs[i].attach(set, trunk[i], go.k * b as u64, &mut planner, &mut spare);
                            changed = true;
                        }
                        if changed {
                            active.clear();
                            active.extend((0..rxs.len()).filter(|&i| rxs[i].set() != RxSet::NONE));
                        }
                    }
                    let mut ev = bk_rx.try_recv().unwrap_or_default();
                    ev.clear();
                    let f = &go.frame;
                    for (j, &i) in active.iter().enumerate() {
                        // The next port's state left the cache since its last block: ask for
                        // it now, so it arrives while this one computes.
                        if let Some(&next) = active.get(j + 1) {
                            rxs[next].prefetch_fields(rxs[next].set());
                            rxs[next].prefetch(b);
                        }
                        let p = range.start + i;
                        let n = f.valid[p].min(b);
                        let x = &f.audio[p * b..p * b + n];
                        rxs[i].process_into(x, n, p, &mut ev);
                    }
                    drop(go);
                    busy += t0.elapsed();
                    if ctl.send(ToControl::Events { w, ev }).is_err() {
                        break;
                    }
                }
                busy
            }));
        }
        // The source.
        let src_ctl = ctl_tx;
        let go_w2 = go_w.clone();
        let free_out_src = free_out_tx.clone();
        let src = scope.spawn(move || {
            let mut source = source;
            let mut busy = Duration::ZERO;
            let mut notices: Vec<LineSignal> = Vec::new();
            let mut changes: Option<Arc<Vec<(usize, RxSet)>>> = None;
            for k in 0..blocks {
                // Block k hears what the switch sent in block k − delay.
                notices.clear();
                changes = None;
                if k >= delay {
                    match go_src_rx.recv() {
                        Ok((_, n, c)) => {
                            notices = n;
                            changes = (!c.is_empty()).then(|| Arc::new(c));
                        }
                        Err(_) => break,
                    }
                }
                let Ok(from) = c2s_rx.recv() else { break };
                let mut frame = free_in_rx.try_recv().unwrap_or_else(|_| Frame::new(np, b));
                let mut line = Vec::new();
                let t0 = Instant::now();
                {
                    let ins = from.slices(b);
                    let mut outs: Vec<&mut [i16]> = frame.audio.chunks_exact_mut(b).collect();
                    frame.valid.iter_mut().for_each(|v| *v = b);
                    source.step(
                        k * b as u64,
                        &ins,
                        &notices,
                        &mut outs,
                        &mut frame.valid,
                        &mut line,
                    );
                }
                busy += t0.elapsed();
                recycle(from, &free_out_src);
                let frame = Arc::new(frame);
                let pushed = Instant::now();
                for g in &go_w2 {
                    let _ = g.send(WorkerGo {
                        k,
                        frame: frame.clone(),
                        changes: changes.clone(),
                    });
                }
                if src_ctl
                    .send(ToControl::Source {
                        k,
                        line,
                        pushed,
                        frame,
                    })
                    .is_err()
                {
                    break;
                }
            }
            drop(changes);
            drop(go_w2);
            (source, busy)
        });
        // The sink.
        let free_in_sink = free_in_tx.clone();
        let free_out_sink = free_out_tx.clone();
        let sink_handle = sink.map(|sink| {
            scope.spawn(move || {
                let mut t: Vec<Vec<i16>> = vec![Vec::with_capacity(b); np];
                let mut s: Vec<Vec<i16>> = vec![Vec::with_capacity(b); np];
                while let Ok((k, sent, heard)) = sink_rx.recv() {
                    for (d, c) in t.iter_mut().zip(sent.audio.chunks_exact(b)) {
                        d.clear();
                        d.extend_from_slice(c);
                    }
                    for (d, c) in s.iter_mut().zip(heard.audio.chunks_exact(b)) {
                        d.clear();
                        d.extend_from_slice(c);
                    }
                    sink(k * b as u64, &t, &s);
                    recycle(sent, &free_out_sink);
                    recycle(heard, &free_in_sink);
                }
            })
        });
        // Control: this thread.
        let mut heard: Vec<Vec<PortEvent>> = vec![Vec::new(); np];
        let mut touched: Vec<usize> = Vec::new();
        let mut lat = Latency::default();
        let mut busy_control = Duration::ZERO;
        let mut pend_src: std::collections::VecDeque<(u64, Vec<LineSignal>, Instant, Arc<Frame>)> =
            std::collections::VecDeque::new();
        let mut pend_ev: Vec<std::collections::VecDeque<Vec<(usize, PortEvent)>>> = (0..workers)
            .map(|_| std::collections::VecDeque::new())
            .collect();
        let mut closed = false;
        let mut k = 0;
        while k < blocks {
            if opts
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                stats.interrupted = true;
                stats.samples = k * b as u64;
                break;
            }
            // With a delay of 2 blocks the source (and so the workers) may already be on block
            // k + 1: messages queue per sender, in order.
            while (pend_src.front().is_none_or(|m| m.0 != k)
                || pend_ev.iter().any(|q| q.is_empty()))
                && !closed
            {
                match ctl_rx.recv() {
                    Ok(ToControl::Source {
                        k: kk,
                        line,
                        pushed,
                        frame,
                    }) => pend_src.push_back((kk, line, pushed, frame)),
                    Ok(ToControl::Events { w, ev }) => pend_ev[w].push_back(ev),
                    Err(_) => closed = true,
                }
            }
            let ready =
                pend_src.front().is_some_and(|m| m.0 == k) && pend_ev.iter().all(|q| !q.is_empty());
            if !ready {
                break;
            }
            let (_, line, pushed, input) = pend_src.pop_front().unwrap();
            for &p in &touched {
                heard[p].clear();
            }
            touched.clear();
            for (w, q) in pend_ev.iter_mut().enumerate() {
                let ev = q.pop_front().unwrap();
                for &(p, e) in &ev {
                    if heard[p].is_empty() {
                        touched.push(p);
                    }
                    heard[p].push(e);
                }
                let _ = back_w[w].send(ev);
            }
            let t0 = Instant::now();
            for (port, at, lead) in line {
                switch.line_event(port, at, lead);
            }
            let mut out = free_out_rx.try_recv().unwrap_or_else(|_| Frame::new(np, b));
            {
                let ins = input.slices(b);
                let mut outs: Vec<&mut [i16]> = out.audio.chunks_exact_mut(b).collect();
                switch.step_heard(&heard, &ins, &mut outs);
            }
            let mut notices = Vec::new();
            switch.notices(&mut notices);
            let mut changes = Vec::new();
            switch.receiver_changes(&mut changes);
            let out = Arc::new(out);
            let _ = c2s_tx.send(out.clone());
            if with_sink {
                let _ = sink_tx.send((k, out, input));
            } else {
                recycle(input, &free_in_tx);
                recycle(out, &free_out_tx);
            }
            busy_control += t0.elapsed();
            lat.push(pushed.elapsed().as_secs_f32() * 1e6);
            if opts.realtime {
                let due =
                    start + Duration::from_secs_f64(crate::units::samples_to_s((k + 1) * b as u64));
                let now = Instant::now();
                if now > due {
                    stats.late_blocks += 1;
                } else {
                    std::thread::sleep(due - now);
                }
            }
            k += 1;
            if let Some(p) = &opts.progress {
                p(k * b as u64);
            }
            if opts.until_quiet.is_some_and(|q| k * b as u64 >= q) && switch.quiet() {
                stats.samples = k * b as u64;
                stats.blocks = k;
                break;
            }
            let _ = go_src_tx.send((k, notices, changes));
        }
        drop(sink_tx);
        drop(go_src_tx);
        drop(c2s_tx);
        drop(go_w);
        drop(pend_src);
        let (source, busy_source) = src.join().expect("source thread");
        if let Some(h) = sink_handle {
            h.join().expect("sink thread");
        }
        for h in handles {
            stats.busy_workers += h.join().expect("worker thread");
        }
        stats.latency_us = lat;
        stats.busy_source = busy_source;
        stats.busy_control = busy_control;
        source
    });
    stats.wall = start.elapsed();
    (switch, source, stats)
}

/// The reference: the same loop on one thread, the tandem with its own receivers (tests compare
/// the engine against it).
pub fn run_inline<W: Switch, S: Source>(
    switch: W,
    source: S,
    samples: u64,
    block: usize,
    sink: Option<&mut Tap<'_>>,
) -> (W, S) {
    let (w, s, _) = run_inline_until(switch, source, samples, block, sink, None);
    (w, s)
}

/// As [`run_inline`], ending at the first quiet block after `until_quiet` samples (as
/// [`Opts::until_quiet`]); also returns the samples run.
pub fn run_inline_until<W: Switch, S: Source>(
    mut switch: W,
    mut source: S,
    samples: u64,
    block: usize,
    mut sink: Option<&mut Tap<'_>>,
    until_quiet: Option<u64>,
) -> (W, S, u64) {
    let np = switch.port_count();
    let mut t_out = vec![vec![0i16; block]; np];
    let mut s_out = vec![vec![0i16; block]; np];
    let mut valid = vec![block; np];
    let mut line = Vec::new();
    let mut notices = Vec::new();
    let mut now = 0u64;
    while now < samples {
        {
            let ins: Vec<&[i16]> = t_out.iter().map(|v| v.as_slice()).collect();
            let mut outs: Vec<&mut [i16]> = s_out.iter_mut().map(|v| v.as_mut_slice()).collect();
            line.clear();
            valid.iter_mut().for_each(|v| *v = block);
            source.step(now, &ins, &notices, &mut outs, &mut valid, &mut line);
        }
        for &(port, at, lead) in &line {
            switch.line_event(port, at, lead);
        }
        {
            let ins: Vec<&[i16]> = s_out
                .iter()
                .zip(&valid)
                .map(|(v, &n)| &v[..n.min(block)])
                .collect();
            let mut outs: Vec<&mut [i16]> = t_out.iter_mut().map(|v| v.as_mut_slice()).collect();
            switch.step(&ins, &mut outs);
        }
        notices.clear();
        switch.notices(&mut notices);
        if let Some(s) = sink.as_mut() {
            s(now, &t_out, &s_out);
        }
        now += block as u64;
        if until_quiet.is_some_and(|q| now >= q) && switch.quiet() {
            break;
        }
    }
    (switch, source, now)
}

/// Percentile of a sample (nearest rank).
pub fn percentile(v: &[f32], p: f64) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[i]
}
