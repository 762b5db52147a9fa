//! The real-time engine (`docs/architecture.md`): the tandem's ports carried through lock-free
//! rings between threads.
//!
//! ```text
//!   source thread ──ring per port──▶ DSP workers ──ring per port (audio)──▶ control thread
//!   (end offices, PSAPs,             (receivers:     ──crossbeam (events)──▶ (call processing,
//!    WAV readers, sound card)         SF, MF, DTMF)                           senders, bridge)
//!        ▲                                                                       │
//!        └──────────────────────── ring per port (what the tandem sends) ◀───────┘
//!                                            └──▶ sink thread (WAV writers) via rings
//! ```
//!
//! One block (10 ms) at a time: the source produces block k for every port, the workers run the
//! receivers of their share of the ports on it and send the events to the control thread, which
//! steps the tandem's machines and renders block k of what the tandem sends; the source hears that
//! one block later. Tokens (block numbers) go over crossbeam channels; audio goes through ringbuf
//! rings. With `realtime` the control thread paces blocks to the wall clock; otherwise the engine
//! runs as fast as the machine allows. The results are the same as the single-threaded reference
//! ([`run_inline`]), sample for sample.
//!
//! The engine knows a [`Switch`] (ports in, ports out) and a [`Source`] (what feeds the ports),
//! nothing of what they are: `sim` and `route` bring the tandem, the world and recordings.

pub mod ring;
pub mod sources;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded};

use crate::dsp::correlator::KernelPlanner;
use crate::line::port::{PortEvent, PortReceivers, RxSet};
use ring::{
    pop_each, pop_wait, prefetch_header, prefetch_queued, prefetch_vacant, push_each, push_wait,
    Rx, Tx,
};

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
}

/// What feeds the tandem's ports and hears what it sends: the simulated world, recordings, or a
/// sound card.
pub trait Source: Send {
    /// One block from `now`: `from_tandem[p]` is what the switch sent on port `p` one block
    /// earlier and `notices` what it signalled out of band then; write `out[p]`. `valid[p]` comes
    /// in as the block length; set it lower for a recording that has ended (its receivers then
    /// hear nothing more). Out-of-band supervision from the far ends goes to `line`.
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
    /// Blocks between what the tandem sends and when the source hears it (≥ 1). With 1 the
    /// stages take turns (and the results equal the single-threaded loop's); with 2 the source
    /// makes block k+1 while the workers and the control thread handle block k.
    pub delay_blocks: usize,
    /// Set from outside (SIGINT) to end the run at the next block: what was decided is kept.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Called from the control thread after each block with the samples done (a progress bar).
    pub progress: Option<std::sync::Arc<dyn Fn(u64) + Send + Sync>>,
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
    /// Per block: from the source pushing it into the rings to the control thread having sent
    /// the tandem's answer (microseconds).
    pub latency_us: Vec<f32>,
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

/// A block's worth of copies for the sink: `(now, switch sent, source sent)`, one vector per port.
pub type Sink<'a> = dyn FnMut(u64, &[Vec<i16>], &[Vec<i16>]) + Send + 'a;

/// The same, for the single-threaded loop (no thread to move to).
pub type Tap<'a> = dyn FnMut(u64, &[Vec<i16>], &[Vec<i16>]) + 'a;

enum ToControl {
    Source {
        k: u64,
        line: Vec<LineSignal>,
        pushed: Instant,
    },
    Events {
        w: usize,
        ev: Vec<Vec<PortEvent>>,
    },
}

/// Run `tandem` against `source` for `samples` samples. Returns the tandem (its records) and
/// the source, and what was measured.
pub fn run<W: Switch, S: Source>(
    mut switch: W,
    source: S,
    samples: u64,
    opts: &Opts,
    sink: Option<&mut Sink<'_>>,
) -> (W, S, Stats) {
    let b = opts.block;
    let ports = switch.receivers();
    let np = switch.port_count();
    let blocks = samples.div_ceil(b as u64);
    let workers = match opts.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, np.max(1));
    let mut sets: Vec<RxSet> = ports.iter().map(|p| p.set).collect();
    if let Some(rx) = opts.trunk_rx {
        for (s, p) in sets.iter_mut().zip(&ports) {
            if p.trunk {
                *s = rx;
            }
        }
    }
    // Rings: source→worker, worker→control (audio for the voice path), control→source (prefilled
    // with one block: the source hears the tandem one block late), and the sink copies.
    let mk = |n: usize| {
        (0..np)
            .map(|_| ring::ring(b, n))
            .unzip::<Tx, Rx, Vec<_>, Vec<_>>()
    };
    let (s2w_tx, s2w_rx) = mk(4);
    let (w2c_tx, w2c_rx) = mk(4);
    let (mut c2s_tx, c2s_rx) = mk(6);
    let delay = opts.delay_blocks.clamp(1, 3) as u64;
    for t in c2s_tx.iter_mut() {
        for _ in 0..delay {
            push_wait(t, &vec![0; b]);
        }
    }
    let with_sink = sink.is_some();
    let (mut ctap_tx, ctap_rx) = mk(if with_sink { 64 } else { 1 });
    let (stap_tx, stap_rx) = mk(if with_sink { 64 } else { 1 });
    let valid: Vec<AtomicUsize> = (0..np).map(|_| AtomicUsize::new(b)).collect();
    // Shards: contiguous port ranges.
    let per = np.div_ceil(workers);
    let shards: Vec<std::ops::Range<usize>> = (0..workers)
        .map(|w| (w * per).min(np)..((w + 1) * per).min(np))
        .collect();
    let (ctl_tx, ctl_rx) = unbounded::<ToControl>();
    // Block tokens for the source, each with the switch's out-of-band notices of that block.
    let (go_src_tx, go_src_rx) = bounded::<(u64, Vec<LineSignal>)>(delay as usize + 2);
    let (go_sink_tx, go_sink_rx) = bounded::<u64>(64);
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
        // DSP workers.
        let mut s2w_rx = s2w_rx.into_iter().map(Some).collect::<Vec<_>>();
        let mut w2c_tx = w2c_tx.into_iter().map(Some).collect::<Vec<_>>();
        let mut handles = Vec::new();
        // One planner for every port's receivers: one kernel per receiver design.
        let mut planner = KernelPlanner::new();
        for (w, range) in shards.iter().enumerate() {
            let (go_tx, go_rx) = unbounded::<u64>();
            let (bk_tx, bk_rx) = unbounded::<Vec<Vec<PortEvent>>>();
            go_w.push(go_tx);
            back_w.push(bk_tx);
            let mut ins: Vec<Rx> = range.clone().map(|p| s2w_rx[p].take().unwrap()).collect();
            let mut outs: Vec<Tx> = range.clone().map(|p| w2c_tx[p].take().unwrap()).collect();
            let mut rxs: Vec<PortReceivers> = range
                .clone()
                .map(|p| PortReceivers::for_port(sets[p], !ports[p].trunk, &mut planner))
                .collect();
            let rx_sets: Vec<RxSet> = rxs.iter().map(|r| r.set()).collect();
            let range = range.clone();
            let ctl = ctl_tx.clone();
            let valid = &valid;
            handles.push(scope.spawn(move || {
                let mut buf = vec![0i16; b];
                let mut spare: Vec<Vec<Vec<PortEvent>>> = Vec::new();
                let mut busy = Duration::ZERO;
                while go_rx.recv().is_ok() {
                    let t0 = Instant::now();
                    let mut ev = bk_rx
                        .try_recv()
                        .ok()
                        .or_else(|| spare.pop())
                        .unwrap_or_else(|| vec![Vec::with_capacity(16); range.len()]);
                    for (i, p) in range.clone().enumerate() {
                        // The next port's state left the cache since its last block: ask for
                        // it now, so it arrives while this one computes.
                        if let Some(next) = rxs.get(i + 2) {
                            next.prefetch_fields(rx_sets[i + 2]);
                            prefetch_header(&ins[i + 2]);
                            prefetch_header(&outs[i + 2]);
                        }
                        if let Some(next) = rxs.get(i + 1) {
                            next.prefetch(b);
                            prefetch_queued(&ins[i + 1], b);
                            prefetch_vacant(&outs[i + 1], b);
                        }
                        pop_wait(&mut ins[i], &mut buf);
                        ev[i].clear();
                        let n = valid[p].load(Ordering::Acquire).min(b);
                        rxs[i].process(&buf[..n], n, &mut ev[i]);
                        push_wait(&mut outs[i], &buf);
                    }
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
        let valid_ref = &valid;
        let src = scope.spawn(move || {
            let mut source = source;
            let mut s2w_tx = s2w_tx;
            let mut c2s_rx = c2s_rx;
            let mut stap_tx = stap_tx;
            let mut from: Vec<Vec<i16>> = vec![vec![0; b]; np];
            let mut out: Vec<Vec<i16>> = vec![vec![0; b]; np];
            let mut valid_local = vec![b; np];
            let mut busy = Duration::ZERO;
            let mut notices: Vec<LineSignal> = Vec::new();
            for k in 0..blocks {
                // Block k needs what the tandem sent in block k − delay.
                notices.clear();
                if k >= delay {
                    match go_src_rx.recv() {
                        Ok((_, n)) => notices = n,
                        Err(_) => break,
                    }
                }
                pop_each(&mut c2s_rx, &mut from);
                let mut line = Vec::new();
                let t0 = Instant::now();
                {
                    let ins: Vec<&[i16]> = from.iter().map(|v| v.as_slice()).collect();
                    let mut outs: Vec<&mut [i16]> =
                        out.iter_mut().map(|v| v.as_mut_slice()).collect();
                    valid_local.iter_mut().for_each(|v| *v = b);
                    source.step(
                        k * b as u64,
                        &ins,
                        &notices,
                        &mut outs,
                        &mut valid_local,
                        &mut line,
                    );
                }
                busy += t0.elapsed();
                for p in 0..np {
                    valid_ref[p].store(valid_local[p], Ordering::Release);
                }
                push_each(&mut s2w_tx, &out);
                if with_sink {
                    push_each(&mut stap_tx, &out);
                }
                let pushed = Instant::now();
                if src_ctl.send(ToControl::Source { k, line, pushed }).is_err() {
                    break;
                }
                for g in &go_w2 {
                    let _ = g.send(k);
                }
            }
            drop(go_w2);
            (source, busy)
        });
        // The sink.
        let sink_handle = sink.map(|sink| {
            let mut ctap_rx = ctap_rx;
            let mut stap_rx = stap_rx;
            scope.spawn(move || {
                let mut t: Vec<Vec<i16>> = vec![vec![0; b]; np];
                let mut s: Vec<Vec<i16>> = vec![vec![0; b]; np];
                while let Ok(k) = go_sink_rx.recv() {
                    for p in 0..np {
                        pop_wait(&mut ctap_rx[p], &mut t[p]);
                        pop_wait(&mut stap_rx[p], &mut s[p]);
                    }
                    sink(k * b as u64, &t, &s);
                }
            })
        });
        // Control: this thread.
        let mut heard: Vec<Vec<PortEvent>> = vec![Vec::with_capacity(16); np];
        let mut audio: Vec<Vec<i16>> = vec![vec![0; b]; np];
        let mut sent: Vec<Vec<i16>> = vec![vec![0; b]; np];
        let mut w2c_rx = w2c_rx;
        let mut lat = Vec::with_capacity(blocks as usize);
        let mut busy_control = Duration::ZERO;
        let mut pend_src: std::collections::VecDeque<(u64, Vec<LineSignal>, Instant)> =
            std::collections::VecDeque::new();
        let mut pend_ev: Vec<std::collections::VecDeque<Vec<Vec<PortEvent>>>> = (0..workers)
            .map(|_| std::collections::VecDeque::new())
            .collect();
        let mut closed = false;
        for k in 0..blocks {
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
            while (pend_src.front().is_none_or(|m: &(u64, _, _)| m.0 != k)
                || pend_ev.iter().any(|q| q.is_empty()))
                && !closed
            {
                match ctl_rx.recv() {
                    Ok(ToControl::Source {
                        k: kk,
                        line,
                        pushed,
                    }) => pend_src.push_back((kk, line, pushed)),
                    Ok(ToControl::Events { w, ev }) => pend_ev[w].push_back(ev),
                    Err(_) => closed = true,
                }
            }
            let have_src = match pend_src.front() {
                Some(m) if m.0 == k && pend_ev.iter().all(|q| !q.is_empty()) => {
                    let (_, line, pushed) = pend_src.pop_front().unwrap();
                    for (w, q) in pend_ev.iter_mut().enumerate() {
                        let ev = q.pop_front().unwrap();
                        for (i, p) in shards[w].clone().enumerate() {
                            heard[p].clear();
                            heard[p].extend_from_slice(&ev[i]);
                        }
                        let _ = back_w[w].send(ev);
                    }
                    Some((line, pushed))
                }
                _ => None,
            };
            let Some((line, pushed)) = have_src else {
                break;
            };
            let t0 = Instant::now();
            for (port, at, lead) in line {
                switch.line_event(port, at, lead);
            }
            pop_each(&mut w2c_rx, &mut audio);
            {
                let ins: Vec<&[i16]> = audio
                    .iter()
                    .enumerate()
                    .map(|(p, v)| &v[..valid[p].load(Ordering::Acquire).min(b)])
                    .collect();
                let mut outs: Vec<&mut [i16]> = sent.iter_mut().map(|v| v.as_mut_slice()).collect();
                switch.step_heard(&heard, &ins, &mut outs);
            }
            push_each(&mut c2s_tx, &sent);
            if with_sink {
                push_each(&mut ctap_tx, &sent);
            }
            if with_sink {
                let _ = go_sink_tx.send(k);
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
            let mut notices = Vec::new();
            switch.notices(&mut notices);
            let _ = go_src_tx.send((k + 1, notices));
            if let Some(p) = &opts.progress {
                p((k + 1) * b as u64);
            }
        }
        drop(go_sink_tx);
        drop(go_src_tx);
        drop(go_w);
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
    mut switch: W,
    mut source: S,
    samples: u64,
    block: usize,
    mut sink: Option<&mut Tap<'_>>,
) -> (W, S) {
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
    }
    (switch, source)
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
