//! Cache hints: ask for the lines a port's next block will touch while the current port computes.
//!
//! A tandem's DSP worker visits thousands of ports in turn, one block each, and each port's state
//! has left the cache since its last visit; the hardware prefetcher cannot guess the jump from one
//! port's state to the next. A hint changes no result — only when the memory arrives.

/// Cache line size of every x86-64 part in use.
pub const LINE: usize = 64;

/// Hint that the `bytes` bytes from `p` will be read soon (one hint per cache line).
#[inline(always)]
pub fn range<T>(p: *const T, bytes: usize) {
    let p = p as *const u8;
    let mut off = 0;
    while off < bytes {
        line(p.wrapping_add(off));
        off += LINE;
    }
}

/// Hint that `s` will be read soon.
#[inline(always)]
pub fn slice<T>(s: &[T]) {
    range(s.as_ptr(), std::mem::size_of_val(s));
}

#[inline(always)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
