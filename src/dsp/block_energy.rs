//! A block of samples stored and summed as it arrives: `Σx²` and the first-difference energy
//! `Σ(x[n] − x[n−1])²`, each in four partial sums by position mod 4 — a fixed order, so any
//! chunking of the stream gives the same bits (`dsp::correlator` combines the four).
//!
//! Every port runs this on every hop of every bank, idle or not, so whole groups of 8 samples go
//! through SSE2 (x86-64's baseline, no runtime check): one load, two conversions and four-lane
//! multiply-adds, lane `l` adding exactly what the scalar loop adds to `e[l]`, in the same order.
//! The rest (and other CPUs) take the scalar loop. The samples are stored by one copy of the
//! hop's fixed length.

/// Store `xs` into `dst` and add their energies to `e` (and, with `DIFF`, their first
/// differences to `d`), starting at position 0 of a block; `prev` is the sample before `xs[0]`.
/// Returns the last sample.
#[inline(always)]
pub fn take<const DIFF: bool>(
    xs: &[i16],
    dst: &mut [i16],
    mut prev: f32,
    e: &mut [f32; 4],
    d: &mut [f32; 4],
) -> f32 {
    let n = xs.len().min(dst.len());
    // The receivers' hops (8 and 10 samples) as fixed-length copies.
    super::fixed_copy::copy::<i16, 8, 10, 16>(&mut dst[..n], &xs[..n]);
    #[cfg(target_arch = "x86_64")]
    let done = {
        let k = n / 8 * 8;
        if k > 0 {
            prev = sse2::octets::<DIFF>(&xs[..k], prev, e, d);
        }
        k
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for (i, &s) in xs[done..n].iter().enumerate() {
        let l = i & 3;
        let v = s as f32;
        e[l] += v * v;
        if DIFF {
            let dv = v - prev;
            d[l] += dv * dv;
        }
        prev = v;
    }
    prev
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    /// `xs.len()` is a multiple of 8.
    #[inline(always)]
    pub fn octets<const DIFF: bool>(
        xs: &[i16],
        prev: f32,
        e: &mut [f32; 4],
        d: &mut [f32; 4],
    ) -> f32 {
        debug_assert!(xs.len().is_multiple_of(8));
        // SAFETY: SSE2 is part of x86-64; every load is of 8 i16 inside `xs` (unaligned form),
        // and every load and store of the 4 f32 of `e` / `d`.
        unsafe {
            let mut ev = _mm_loadu_ps(e.as_ptr());
            let mut dv = _mm_loadu_ps(d.as_ptr());
            let mut pv = _mm_set_ss(prev);
            for s in xs.chunks_exact(8) {
                let raw = _mm_loadu_si128(s.as_ptr() as *const __m128i);
                // Sign-extend to i32 (each i16 into the top half, then shift down), then f32:
                // exact, as `s as f32`.
                let lo = _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(raw, raw), 16));
                let hi = _mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(raw, raw), 16));
                ev = _mm_add_ps(ev, _mm_mul_ps(lo, lo));
                ev = _mm_add_ps(ev, _mm_mul_ps(hi, hi));
                if DIFF {
                    // Each lane's predecessor: the quad shifted up one lane, the sample before
                    // it in lane 0.
                    let before = |v: __m128, p: __m128| {
                        _mm_move_ss(_mm_castsi128_ps(_mm_slli_si128(_mm_castps_si128(v), 4)), p)
                    };
                    let last_lo = _mm_shuffle_ps(lo, lo, 0xFF);
                    let a = _mm_sub_ps(lo, before(lo, pv));
                    dv = _mm_add_ps(dv, _mm_mul_ps(a, a));
                    let b = _mm_sub_ps(hi, before(hi, last_lo));
                    dv = _mm_add_ps(dv, _mm_mul_ps(b, b));
                }
                pv = _mm_shuffle_ps(hi, hi, 0xFF);
            }
            _mm_storeu_ps(e.as_mut_ptr(), ev);
            _mm_storeu_ps(d.as_mut_ptr(), dv);
            _mm_cvtss_f32(pv)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain loop, the definition.
    fn reference(xs: &[i16], mut prev: f32) -> ([f32; 4], [f32; 4], f32) {
        let (mut e, mut d) = ([0.0f32; 4], [0.0f32; 4]);
        for (i, &s) in xs.iter().enumerate() {
            let v = s as f32;
            e[i & 3] += v * v;
            let dv = v - prev;
            d[i & 3] += dv * dv;
            prev = v;
        }
        (e, d, prev)
    }

    #[test]
    fn equals_the_plain_loop_bit_for_bit_at_every_length_and_extreme_values() {
        let mut state = 7u32;
        for n in 0..=40 {
            let xs: Vec<i16> = (0..n)
                .map(|i| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    match i % 7 {
                        0 => i16::MIN,
                        1 => i16::MAX,
                        _ => (state >> 16) as i16,
                    }
                })
                .collect();
            let mut dst = vec![0i16; n];
            let (mut e, mut d) = ([0.0f32; 4], [0.0f32; 4]);
            let last = take::<true>(&xs, &mut dst, -123.0, &mut e, &mut d);
            let (re, rd, rlast) = reference(&xs, -123.0);
            assert_eq!(dst, xs);
            assert_eq!(e.map(f32::to_bits), re.map(f32::to_bits), "n {n}");
            assert_eq!(d.map(f32::to_bits), rd.map(f32::to_bits), "n {n}");
            assert_eq!(last.to_bits(), rlast.to_bits());
            let (mut e2, mut d2) = ([0.0f32; 4], [0.0f32; 4]);
            take::<false>(&xs, &mut dst, -123.0, &mut e2, &mut d2);
            assert_eq!(e2.map(f32::to_bits), re.map(f32::to_bits));
            assert_eq!(d2, [0.0; 4]);
        }
    }
}
