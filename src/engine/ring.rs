//! Audio rings: one lock-free single-producer/single-consumer ring (ringbuf) per port and
//! direction, moved in whole blocks. Pushing and popping never allocate, lock or block; the
//! waiting versions spin, then yield, then sleep briefly — they are for the engine's own threads,
//! never for a sound-card callback, which uses [`try_push`]/[`try_pop`] and counts what it could
//! not move in [`Counters`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::wrap::Wrap;
use ringbuf::{HeapCons, HeapProd, HeapRb};

pub type Tx = HeapProd<i16>;
pub type Rx = HeapCons<i16>;

/// A ring of `blocks` blocks of `block` samples.
pub fn ring(block: usize, blocks: usize) -> (Tx, Rx) {
    HeapRb::<i16>::new(block * blocks).split()
}

/// Overruns (a producer found the ring full and dropped samples) and underruns (a consumer found
/// too little and played silence), counted by the real-time callbacks.
#[derive(Debug, Default)]
pub struct Counters {
    pub overrun_samples: AtomicU64,
    pub underrun_samples: AtomicU64,
    pub callbacks: AtomicU64,
}

impl Counters {
    pub fn overruns(&self) -> u64 {
        self.overrun_samples.load(Ordering::Relaxed)
    }
    pub fn underruns(&self) -> u64 {
        self.underrun_samples.load(Ordering::Relaxed)
    }
}

/// Push what fits; count the rest as overrun. Never waits, never allocates.
#[inline]
pub fn try_push(tx: &mut Tx, x: &[i16], c: &Counters) {
    let n = tx.push_slice(x);
    if n < x.len() {
        c.overrun_samples
            .fetch_add((x.len() - n) as u64, Ordering::Relaxed);
    }
}

/// Pop what is there into `out`; fill the rest with silence and count it as underrun.
#[inline]
pub fn try_pop(rx: &mut Rx, out: &mut [i16], c: &Counters) {
    let n = rx.pop_slice(out);
    if n < out.len() {
        out[n..].fill(0);
        c.underrun_samples
            .fetch_add((out.len() - n) as u64, Ordering::Relaxed);
    }
}

fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else if *spins < 256 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Push a whole block, waiting for room (engine threads only).
pub fn push_wait(tx: &mut Tx, x: &[i16]) {
    let mut done = 0;
    let mut spins = 0;
    while done < x.len() {
        done += tx.push_slice(&x[done..]);
        if done < x.len() {
            backoff(&mut spins);
        }
    }
}

/// Pop a whole block, waiting for it (engine threads only).
pub fn pop_wait(rx: &mut Rx, out: &mut [i16]) {
    let mut done = 0;
    let mut spins = 0;
    while done < out.len() {
        done += rx.pop_slice(&mut out[done..]);
        if done < out.len() {
            backoff(&mut spins);
        }
    }
}

/// Samples waiting in a ring.
pub fn queued(rx: &Rx) -> usize {
    rx.occupied_len()
}

/// Hint the cache to fetch a ring's shared header (the two indices and the storage pointer) by
/// address: the first of two steps a worker takes a port ahead. Reads nothing shared.
#[inline]
pub fn prefetch_header<W: Wrap>(w: &W) {
    let rb = w.rb();
    crate::dsp::prefetch::range(rb as *const _ as *const u8, std::mem::size_of_val(rb));
}

/// Hint the cache to fetch the `n` samples the next [`pop_wait`] on `rx` will copy. Uses only
/// the consumer's own read index and the header [`prefetch_header`] asked for; the producer's
/// index is not read (the samples may not all be there yet — the hint is then partly wasted,
/// never wrong).
#[inline]
pub fn prefetch_queued(rx: &Rx, n: usize) {
    let r = rx.read_index();
    prefetch_span(rx, r, n);
}

/// Hint the cache to fetch the room the next `n` samples pushed into `tx` will fill.
#[inline]
pub fn prefetch_vacant(tx: &Tx, n: usize) {
    let w = tx.write_index();
    prefetch_span(tx, w, n);
}

fn prefetch_span<O: Observer<Item = i16>>(o: &O, start: usize, n: usize) {
    let cap = o.capacity().get();
    let end = (start + n.min(cap)) % (2 * cap);
    // SAFETY: the slices are only used for their addresses (a cache hint); nothing is read or
    // written through them, so the ring's aliasing rules are not engaged.
    let (a, b) = unsafe { o.unsafe_slices(start, end) };
    crate::dsp::prefetch::slice(a);
    crate::dsp::prefetch::slice(b);
}

/// [`pop_wait`] a whole block from each ring in turn into the matching buffer, asking the cache
/// for the rings' headers two rings ahead and their samples one ahead (each ring was last
/// written by another core, so every one of them would otherwise miss).
pub fn pop_each(rxs: &mut [Rx], outs: &mut [Vec<i16>]) {
    for i in 0..rxs.len().min(outs.len()) {
        if let Some(r) = rxs.get(i + 2) {
            prefetch_header(r);
        }
        if let (Some(r), Some(o)) = (rxs.get(i + 1), outs.get(i + 1)) {
            prefetch_queued(r, o.len());
        }
        pop_wait(&mut rxs[i], &mut outs[i]);
    }
}

/// [`push_wait`] each buffer into the matching ring, with the same cache hints as [`pop_each`].
pub fn push_each(txs: &mut [Tx], xs: &[Vec<i16>]) {
    for i in 0..txs.len().min(xs.len()) {
        if let Some(t) = txs.get(i + 2) {
            prefetch_header(t);
        }
        if let (Some(t), Some(x)) = (txs.get(i + 1), xs.get(i + 1)) {
            prefetch_vacant(t, x.len());
        }
        push_wait(&mut txs[i], &xs[i]);
    }
}
