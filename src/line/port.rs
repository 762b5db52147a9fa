//! The receivers on one port (one direction of one trunk): SF supervision with dial pulses, MF and
//! DTMF, each optional, turning a block of audio into time-stamped events. This is the DSP half of
//! a port — what the engine's workers run in parallel — and the call-processing half
//! ([`crate::tandem::switch::Tandem`], the models) consumes its events.
//!
//! Time runs on the samples fed: a port that hears nothing must still be fed (silence), so that
//! its timers and clock stay with the switch's.

use crate::dsp::correlator::KernelPlanner;
use crate::line::supervision::{SfLine, SupervisionEvent};
use crate::register::dtmf::DtmfReceiver;
use crate::register::mf::{MfReceiver, MfSignal};

/// Which receivers a port runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxSet {
    pub sf: bool,
    pub mf: bool,
    pub dtmf: bool,
}

impl RxSet {
    pub const NONE: RxSet = RxSet {
        sf: false,
        mf: false,
        dtmf: false,
    };
    pub const ALL: RxSet = RxSet {
        sf: true,
        mf: true,
        dtmf: true,
    };
}

/// What a port heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// An MF signal began.
    Mf(MfSignal),
    /// A DTMF key began.
    Dtmf(char),
    /// Classified SF supervision (seize, wink, flash, disconnect, a dial-pulse digit).
    Sf(SupervisionEvent),
}

/// One event, reported at stream time `at` (samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortEvent {
    pub at: u64,
    pub heard: Heard,
}

/// Receivers detached from their ports, kept to be attached again (a worker's pool: attaching
/// allocates only while the pool is still growing).
#[derive(Debug, Default)]
pub struct Spare {
    mf: Vec<MfReceiver>,
    dtmf: Vec<DtmfReceiver>,
}

/// Attach (`want`) or detach one receiver of a port: a detached one is reset and kept in
/// `spare`; a new one comes from there, else from `make`. True when it was attached just now.
fn swap<R>(
    want: bool,
    slot: &mut Option<R>,
    spare: &mut Vec<R>,
    make: impl FnOnce() -> R,
    reset: impl FnOnce(&mut R),
) -> bool {
    match (want, slot.take()) {
        (true, None) => {
            *slot = Some(spare.pop().unwrap_or_else(make));
            true
        }
        (false, Some(mut r)) => {
            reset(&mut r);
            spare.push(r);
            false
        }
        (_, kept) => {
            *slot = kept;
            false
        }
    }
}

/// The receivers of one port.
#[derive(Debug, Clone, Default)]
pub struct PortReceivers {
    sf: Option<SfLine>,
    mf: Option<MfReceiver>,
    dtmf: Option<DtmfReceiver>,
    /// Stream time at which MF and DTMF were attached: their own clocks start there.
    mf_origin: u64,
    dtmf_origin: u64,
}

impl PortReceivers {
    pub fn new(set: RxSet) -> Self {
        Self::new_in(set, &mut KernelPlanner::new())
    }

    /// As [`PortReceivers::new`], the MF and DTMF banks planned with `planner`.
    pub fn new_in(set: RxSet, planner: &mut KernelPlanner) -> Self {
        PortReceivers {
            sf: set.sf.then(SfLine::default),
            mf: set.mf.then(|| MfReceiver::new_in(planner)),
            dtmf: set.dtmf.then(|| DtmfReceiver::new_in(planner)),
            mf_origin: 0,
            dtmf_origin: 0,
        }
    }

    /// The receivers of a tandem's trunk port: SF supervision takes the trunk as idle at start
    /// (see [`SfLine::idle_at_start`]), so a far end off-hook from the first sample is a seizure.
    pub fn trunk(set: RxSet, planner: &mut KernelPlanner) -> Self {
        PortReceivers {
            sf: set.sf.then(SfLine::idle_at_start),
            ..PortReceivers::new_in(set, planner)
        }
    }

    /// A tandem port's receivers: [`PortReceivers::trunk`] for an end-office trunk, plain for a
    /// PSAP position.
    pub fn for_port(set: RxSet, psap: bool, planner: &mut KernelPlanner) -> Self {
        if psap {
            PortReceivers::new_in(set, planner)
        } else {
            PortReceivers::trunk(set, planner)
        }
    }

    /// Run `set` from now on: receivers no longer in it go to `spare` (reset), new ones come
    /// from there (or are built with `planner`) and start afresh; those kept keep their state.
    /// `trunk`: an SF receiver attached now takes the line as idle ([`PortReceivers::trunk`]).
    /// `now`: the stream time of the next sample fed (an attached receiver's events are
    /// reported on the port's clock).
    pub fn attach(
        &mut self,
        set: RxSet,
        trunk: bool,
        now: u64,
        planner: &mut KernelPlanner,
        spare: &mut Spare,
    ) {
        match (set.sf, self.sf.is_some()) {
            (true, false) => {
                self.sf = Some(if trunk {
                    SfLine::idle_at_start()
                } else {
                    SfLine::default()
                })
            }
            (false, true) => self.sf = None,
            _ => {}
        }
        if swap(
            set.mf,
            &mut self.mf,
            &mut spare.mf,
            || MfReceiver::new_in(planner),
            MfReceiver::reset,
        ) {
            self.mf_origin = now;
        }
        if swap(
            set.dtmf,
            &mut self.dtmf,
            &mut spare.dtmf,
            || DtmfReceiver::new_in(planner),
            DtmfReceiver::reset,
        ) {
            self.dtmf_origin = now;
        }
    }

    pub fn set(&self) -> RxSet {
        RxSet {
            sf: self.sf.is_some(),
            mf: self.mf.is_some(),
            dtmf: self.dtmf.is_some(),
        }
    }

    /// Hint the cache to fetch the receivers' own fields that a block touches, by address only
    /// (nothing is read, so the hint itself never waits on memory). A worker calls this two
    /// ports ahead and [`PortReceivers::prefetch`] one port ahead. Changes no result.
    #[inline]
    pub fn prefetch_fields(&self, set: RxSet) {
        use crate::dsp::prefetch::range;
        use crate::register::tone_pair::PairReceiver;
        if set.sf {
            range(std::ptr::addr_of!(self.sf), std::mem::size_of::<SfLine>());
        }
        if set.mf {
            range(std::ptr::addr_of!(self.mf), PairReceiver::HOT_BYTES);
        }
        if set.dtmf {
            range(std::ptr::addr_of!(self.dtmf), PairReceiver::HOT_BYTES);
        }
    }

    /// Hint the cache to fetch the heap state the next block of `samples` will touch in every
    /// receiver (histories, power rings, correlator sums), reading the fields that
    /// [`PortReceivers::prefetch_fields`] asked for. Changes no result.
    #[inline]
    pub fn prefetch(&self, samples: usize) {
        // (SF keeps its whole state inline: `prefetch_fields` has it.)
        if let Some(m) = &self.mf {
            m.prefetch(samples);
        }
        if let Some(d) = &self.dtmf {
            d.prefetch(samples);
        }
    }

    /// Feed one block: `x`, then silence up to `n` samples if `x` is shorter (a source that has
    /// ended). Events are appended to `out` in time order.
    pub fn process(&mut self, x: &[i16], n: usize, out: &mut Vec<PortEvent>) {
        let from = out.len();
        self.feed_n(x, n, &mut |e| out.push(e));
        out[from..].sort_by_key(|e| e.at);
    }

    /// As [`PortReceivers::process`], each event appended as `(port, event)`.
    pub fn process_into(
        &mut self,
        x: &[i16],
        n: usize,
        port: usize,
        out: &mut Vec<(usize, PortEvent)>,
    ) {
        let from = out.len();
        self.feed_n(x, n, &mut |e| out.push((port, e)));
        out[from..].sort_by_key(|e| e.1.at);
    }

    fn feed_n(&mut self, x: &[i16], n: usize, out: &mut impl FnMut(PortEvent)) {
        self.feed(x, out);
        if x.len() < n {
            const ZEROS: [i16; 256] = [0; 256];
            let mut left = n - x.len();
            while left > 0 {
                let k = left.min(ZEROS.len());
                self.feed(&ZEROS[..k], out);
                left -= k;
            }
        }
    }

    fn feed(&mut self, x: &[i16], out: &mut impl FnMut(PortEvent)) {
        if let Some(mf) = &mut self.mf {
            let o = self.mf_origin;
            mf.process(x, &mut |e| {
                if e.on {
                    out(PortEvent {
                        at: o + e.at,
                        heard: Heard::Mf(e.signal),
                    })
                }
            });
        }
        if let Some(d) = &mut self.dtmf {
            let o = self.dtmf_origin;
            d.process(x, &mut |e| {
                if e.on {
                    out(PortEvent {
                        at: o + e.at,
                        heard: Heard::Dtmf(e.key),
                    })
                }
            });
        }
        if let Some(line) = &mut self.sf {
            line.process(x, &mut |_| {}, &mut |v| {
                let at = match v {
                    SupervisionEvent::Seize { at, .. }
                    | SupervisionEvent::Wink { at, .. }
                    | SupervisionEvent::Flash { at, .. }
                    | SupervisionEvent::Disconnect { at, .. }
                    | SupervisionEvent::Digit { at, .. } => at,
                };
                out(PortEvent {
                    at,
                    heard: Heard::Sf(v),
                })
            });
        }
    }
}
