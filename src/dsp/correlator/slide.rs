//! The once-per-block step of every bank: rotate the block's partial sums to absolute phase and
//! slide them into the window sums.

pub(super) struct SlideIn<'a> {
    pub acc_re: &'a [f32],
    pub acc_im: &'a [f32],
    pub step_re: &'a [f32],
    pub step_im: &'a [f32],
}

/// Rotate the block's partial sums to absolute phase and slide them into the window sums, for
/// every frequency at once. A separate function so each `&mut` slice is a distinct argument
/// (LLVM then knows they do not alias and vectorises the loop); all slices are cut to one length
/// so there are no bounds checks.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn slide_block(
    i: SlideIn,
    ring_re: &mut [f32],
    ring_im: &mut [f32],
    sum_re: &mut [f32],
    sum_im: &mut [f32],
    rot_re: &mut [f32],
    rot_im: &mut [f32],
) {
    let f = ring_re.len();
    let (acc_re, acc_im) = (&i.acc_re[..f], &i.acc_im[..f]);
    let (step_re, step_im) = (&i.step_re[..f], &i.step_im[..f]);
    let (ring_im, sum_re, sum_im) = (&mut ring_im[..f], &mut sum_re[..f], &mut sum_im[..f]);
    let (rot_re, rot_im) = (&mut rot_re[..f], &mut rot_im[..f]);
    for k in 0..f {
        let (ar, ai) = (acc_re[k], acc_im[k]);
        let (rr, ri) = (rot_re[k], rot_im[k]);
        let pr = ar * rr - ai * ri;
        let pi = ar * ri + ai * rr;
        sum_re[k] += pr - ring_re[k];
        sum_im[k] += pi - ring_im[k];
        ring_re[k] = pr;
        ring_im[k] = pi;
        // Rotate to the next block's start: e^{−jω(m+H)} = e^{−jωm}·e^{−jωH}.
        let (sr, si) = (step_re[k], step_im[k]);
        rot_re[k] = rr * sr - ri * si;
        rot_im[k] = rr * si + ri * sr;
    }
}
