//! Audio rings: one lock-free single-producer/single-consumer ring (ringbuf) per port and
//! direction, moved in whole blocks. Pushing and popping never allocate, lock or block; the
//! waiting versions spin, then yield, then sleep briefly — they are for the engine's own threads,
//! never for a sound-card callback, which uses [`try_push`]/[`try_pop`] and counts what it could
//! not move in [`Counters`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ringbuf::traits::{Consumer, Producer, Split};
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
