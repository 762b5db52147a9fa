//! One integration test binary; modules by behaviour.

mod support;

mod ali;
mod ani_routing;
mod call_events;
mod cli;
mod datafill;
mod doc_examples;
mod dtmf_conformance;
mod forget;
mod fuzz;
mod golden_outputs;
mod incoming_trunk;
#[cfg(feature = "live")]
mod live;
mod location;
mod mf_conformance;
mod msag;
mod ng911;
mod positions;
mod psap_trunk;
mod receiver_pool;
mod regression;
mod regression_14;
mod robustness;
mod route_e2e;
mod rt_alloc;
mod sf_dial_pulse;
mod signals;
mod simulate;
mod sip;
mod sip_dialog;
mod sip_edge;
mod sip_media;
mod sip_peers;
mod sip_wire;
mod spandsp_dtmf;
mod spandsp_mf;
mod spandsp_sig_tone;
mod switch_events;
mod talkoff;
mod transfer;
mod wav_io;

// A counting allocator: `allocations_during(f)` counts allocations made on the calling thread
// while `f` runs (tests/rt_alloc.rs).
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC_GUARD: Counting = Counting;

/// Allocations made on this thread while `f` runs.
pub fn allocations_during(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(|c| c.get())
}
