//! Live sound-card I/O (cargo feature `live`, cpal): the card as a set of ports, each channel one
//! line (a trunk or a PSAP position), at the host's latency floor.
//!
//! The real-time path is the two cpal callbacks and nothing else: the output callback pops
//! interleaved frames from a ring, the input callback pushes them into another, both with
//! `try_pop`/`try_push` — no allocation, lock, print or wait; what they cannot move is counted
//! ([`CardCounters`]). Rate conversion to and from 8 kHz happens on the engine's side of the rings
//! ([`crate::audio::resample::Stream`]); a device that runs at 8 kHz itself (PulseAudio does)
//! needs none.
//!
//! Latency is decided on the client side (`docs/live.md`): a device buffer chosen from a ladder,
//! smallest first ([`ladder`]), float frames of two or more channels (the ALSA PulseAudio plugin's
//! minimum period is 128 *bytes*), and our output ring primed with the device buffer plus one
//! block — never the 300 ms it once was.

mod card;

pub use card::{Card, CardCounters, CardError, CardOpts, Granted};

use cpal::traits::{DeviceTrait, HostTrait};

use crate::units::SAMPLE_RATE;

/// The audio host: ALSA, named (with other hosts compiled in, `default_host` may prefer them).
/// Through the ALSA `default` device a PulseAudio or PipeWire server is reached by its plugin;
/// `PULSE_SINK` / `PULSE_SOURCE` choose which of its sinks and sources.
pub(crate) fn host() -> cpal::Host {
    quiet_alsa();
    cpal::host_from_id(cpal::HostId::Alsa).unwrap_or_else(|_| cpal::default_host())
}

/// ALSA prints its library's complaints (`ALSA lib confmisc.c:… cannot find card '0'`) on
/// standard error by itself, seven lines before our one-line error when there is no card. This
/// thread's ALSA messages are dropped instead: what failed is said by our own error
/// ("no output device …"). Set per thread, on the thread that opens the devices.
fn quiet_alsa() {
    unsafe extern "C" fn drop_message(
        _file: *const std::os::raw::c_char,
        _line: std::os::raw::c_int,
        _function: *const std::os::raw::c_char,
        _err: std::os::raw::c_int,
        _fmt: *const std::os::raw::c_char,
        _args: *mut alsa_sys::__va_list_tag,
    ) {
    }
    // SAFETY: sets a thread-local function pointer in libasound; the handler reads nothing.
    unsafe {
        alsa_sys::snd_lib_error_set_local(Some(drop_message));
    }
}

/// Raise the calling thread's priority to nice −10 before the streams are opened (threads inherit
/// it: cpal's callback threads and our loop then win the CPU from ordinary busy work). Not a
/// real-time class: the recipe measured SCHED_FIFO clients against a SCHED_OTHER server as
/// worse, not better. Returns a line for the log; without the privilege the run goes on as is.
pub fn raise_priority() -> String {
    // SAFETY: setpriority/getpriority take plain integers; 0 = the calling thread on Linux.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) };
    if r == 0 {
        "priority: nice -10".into()
    } else {
        format!(
            "priority: unchanged (nice -10 not permitted: {}); expect more xruns on a busy machine",
            std::io::Error::last_os_error()
        )
    }
}

/// Device buffer sizes to try, in frames at `rate`, smallest first, starting at `start_ms`:
/// 8, 16, 24, 32, 48, 64 and 100 ms (the first one the device accepts is used).
pub fn ladder(rate: u32, start_ms: f64) -> Vec<u32> {
    [8.0, 16.0, 24.0, 32.0, 48.0, 64.0, 100.0]
        .into_iter()
        .filter(|&ms| ms >= start_ms - 1e-9)
        .map(|ms| (rate as f64 * ms / 1000.0).round() as u32)
        .collect()
}

/// Pick a config for `need` channels: 8 kHz if the device does it (else its default rate), float
/// before 16-bit, and at least two channels (bigger frames let the PulseAudio plugin take a
/// smaller buffer); the fewest channels that do.
pub(crate) fn pick(
    ranges: &[cpal::SupportedStreamConfigRange],
    default: Option<cpal::SupportedStreamConfig>,
    need: usize,
) -> Option<cpal::SupportedStreamConfig> {
    use cpal::SampleFormat::{F32, I16};
    let want = need.max(2) as u16;
    let at8k = |r: &&cpal::SupportedStreamConfigRange| {
        r.min_sample_rate().0 <= SAMPLE_RATE && r.max_sample_rate().0 >= SAMPLE_RATE
    };
    for fmt in [F32, I16] {
        for min_ch in [want, need as u16] {
            if let Some(r) = ranges
                .iter()
                .filter(|r| r.sample_format() == fmt && r.channels() >= min_ch)
                .filter(at8k)
                .min_by_key(|r| r.channels())
            {
                return Some(r.with_sample_rate(cpal::SampleRate(SAMPLE_RATE)));
            }
        }
    }
    default
        .filter(|d| matches!(d.sample_format(), F32 | I16) && d.channels() as usize >= need.max(1))
}

/// Describe the default host's devices (defaults only: enumerating every ALSA device prints
/// warnings from plugins that have no hardware behind them).
pub fn devices() -> Result<String, String> {
    let h = host();
    let mut s = format!("host: {:?}\n", h.id());
    let show = |c: Result<cpal::SupportedStreamConfig, cpal::DefaultStreamConfigError>| {
        c.map(|c| {
            format!(
                "{} Hz, {} ch, {:?}",
                c.sample_rate().0,
                c.channels(),
                c.sample_format()
            )
        })
        .unwrap_or_else(|e| match e {
            cpal::DefaultStreamConfigError::DeviceNotAvailable => {
                "no sound card answers (none is installed, or no sound server runs)".to_string()
            }
            e => format!("no config: {e}"),
        })
    };
    match h.default_output_device() {
        Some(d) => {
            let c = show(d.default_output_config());
            s += &format!("output: {} ({c})\n", d.name().unwrap_or_default());
        }
        None => s += "output: none\n",
    }
    match h.default_input_device() {
        Some(d) => {
            let c = show(d.default_input_config());
            s += &format!("input: {} ({c})\n", d.name().unwrap_or_default());
        }
        None => s += "input: none\n",
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_starts_where_asked_and_climbs() {
        assert_eq!(ladder(8000, 16.0), vec![128, 192, 256, 384, 512, 800]);
        assert_eq!(ladder(48000, 8.0)[0], 384);
        assert!(ladder(8000, 200.0).is_empty());
    }
}
