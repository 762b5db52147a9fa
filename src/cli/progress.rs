//! Progress bars for long runs (on standard error, drawn only on a terminal).

use std::sync::Arc;

use crate::units::SECOND;

/// A progress callback over `total` samples when `show`: call it with the samples done;
/// `u64::MAX` clears the bar.
pub fn bar(total: u64, show: bool) -> Option<Arc<dyn Fn(u64) + Send + Sync>> {
    if !show {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total.div_ceil(SECOND));
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s of audio ({eta})")
            .expect("a valid template"),
    );
    Some(Arc::new(move |done: u64| {
        if done == u64::MAX {
            pb.finish_and_clear();
        } else if done % SECOND < 80 {
            pb.set_position(done / SECOND);
        }
    }))
}
