//! Progress bars for long runs (on standard error, drawn only on a terminal).

use std::sync::Arc;

use crate::units::SECOND;

/// A progress callback over `total` samples (the audio's length) when `show`: call it with the
/// samples done — past `total` (a run finishing its calls after the recording) the bar stays
/// full; `u64::MAX` clears the bar.
pub fn bar(total: u64, show: bool) -> Option<Arc<dyn Fn(u64) + Send + Sync>> {
    if !show {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total.div_ceil(SECOND));
    let shown = std::sync::atomic::AtomicU64::new(u64::MAX);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s of audio ({eta})")
            .expect("a valid template"),
    );
    Some(Arc::new(move |done: u64| {
        if done == u64::MAX {
            pb.finish_and_clear();
            return;
        }
        // Every whole second once, whatever the block size.
        let s = position(done, total);
        if shown.swap(s, std::sync::atomic::Ordering::Relaxed) != s {
            pb.set_position(s);
        }
    }))
}

/// The bar's position (whole seconds) after `done` of `total` samples: full from the end of the
/// audio on, so a run that finishes its calls after the recording ends at its length.
pub fn position(done: u64, total: u64) -> u64 {
    if done >= total {
        total.div_ceil(SECOND)
    } else {
        done / SECOND
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding 16 (issue 29): a 1800 s file's bar counts to 1800 s — not the 1820 s of the
    /// timers' tail — and ends full, whatever the block size (10 ms or 20 ms blocks step over
    /// the first 80 samples of a second).
    #[test]
    fn finding_16_the_bar_counts_the_audio_and_ends_full() {
        let total = 1800 * SECOND;
        assert_eq!(position(total, total), 1800);
        assert_eq!(position(total + 20 * SECOND, total), 1800);
        assert_eq!(position(1786 * SECOND + 160, total), 1786);
        let mut seen = std::collections::BTreeSet::new();
        let mut done = 0;
        while done < total + 5 * SECOND {
            done += 160; // 20 ms blocks
            seen.insert(position(done, total));
        }
        assert_eq!(seen.len(), 1801, "every second 0..=1800 once");
        assert_eq!(seen.last(), Some(&1800));
    }
}
