//! Copies of short slices whose length is only known at run time but is one of a few values:
//! matched to a fixed-length array copy, a move or two in registers. A copy of unknown length
//! becomes a call to `memcpy`, which for a few dozen bytes costs more than the copy — and the
//! banks copy a hop of samples and a frame of sums every hop.

/// `src` into `dst` (the same length), as a fixed-length copy when `src.len()` is `A`, `B` or
/// `C`, else as an ordinary one.
///
/// # Panics
/// If the lengths differ (as [`slice::copy_from_slice`]).
#[inline(always)]
pub fn copy<T: Copy, const A: usize, const B: usize, const C: usize>(dst: &mut [T], src: &[T]) {
    let done = match src.len() {
        n if n == A => fixed::<T, A>(dst, src),
        n if n == B => fixed::<T, B>(dst, src),
        n if n == C => fixed::<T, C>(dst, src),
        _ => false,
    };
    if !done {
        dst.copy_from_slice(src);
    }
}

#[inline(always)]
fn fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) -> bool {
    match (<&mut [T; N]>::try_from(dst), <&[T; N]>::try_from(src)) {
        (Ok(d), Ok(s)) => {
            *d = *s;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_whether_fixed_or_not() {
        for n in 0..40 {
            let src: Vec<i16> = (0..n as i16).map(|k| k * 7 - 3).collect();
            let mut dst = vec![0i16; n];
            copy::<i16, 8, 10, 24>(&mut dst, &src);
            assert_eq!(dst, src, "length {n}");
        }
    }
}
