//! The `e911 generate` script: one command per line, `#` comments, options as `key=value`.
//!
//! ```text
//! rate 8000                       # output WAV rate (default 8000; other rates are resampled)
//! channels 2                      # channel count (default: highest channel used + 1)
//! seed 7                          # random phases and noise (default 1)
//! channel 1                       # the following lines write channel 1 (default 0)
//! at 250                          # move this channel's cursor to 250 ms
//! silence 200                     # advance the cursor 200 ms
//! mf KP 0 5551234 ST level=-7 twist=0 kp=100 on=68 gap=68 dev_low=0 dev_high=0 skew=0
//! dtmf *11 level_low=-6 level_high=-4 on=70 off=70 dev_low=0 dev_high=0 skew=0
//! sf on level=-20                 # 2600 Hz idle tone from here (on-hook)
//! sf seize                        # tone off (off-hook); also: sf off, sf wink ms=200,
//!                                 # sf flash ms=500 level=-8, sf disconnect
//! dp 911 pps=10 break=60 interdigit=700 level=-8   # dial pulses as 2600 Hz bursts
//! tone 1000 -10 200               # Hz, dBm0, ms at the cursor
//! voice speech.wav gain=-6        # a WAV (path relative to the script), channel 0 of it
//! noise -40                       # white noise on this channel, total dBm0
//! g711 ulaw                       # G.711 round trip of this channel (ulaw|alaw)
//! dropout 1200 10                 # zero 10 ms of this channel at 1200 ms
//! ```
//!
//! Every error names the script, the line and the problem.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::synth::{ChannelSynth, DpParams, DtmfParams, Impairments, MfParams, SfParams, Truth};
use crate::dsp::g711::Law;
use crate::register::mf::MfSignal;
use crate::units::ms_to_samples;

/// What a script renders to.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub rate: u32,
    pub channels: Vec<Vec<i16>>,
    /// Ground truth per channel.
    pub truth: Vec<Vec<Truth>>,
    /// Files the script read (`voice`).
    pub inputs: Vec<std::path::PathBuf>,
    /// Things the output does that the script may not mean (samples clipped where signals add up).
    pub warnings: Vec<String>,
}

const MAX_CHANNELS: usize = 1024;

/// The largest WAV data chunk (bytes): RIFF sizes are 32-bit.
pub const WAV_DATA_LIMIT: u64 = u32::MAX as u64 - 44;

/// What a render may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Memory for the rendered audio (bytes): 8 per sample while building, 2 when quantised.
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 4 << 30,
        }
    }
}

/// Samples per channel (at 8 kHz) a render of `channels` channels at `rate` may hold: the output
/// must fit a WAV (4 GiB of data) and the memory limit.
fn channel_limit(channels: usize, rate: u32, limits: &Limits) -> u64 {
    let n = channels.max(1) as u64;
    let wav_frames = WAV_DATA_LIMIT / (2 * n);
    let wav = wav_frames.saturating_mul(crate::units::SECOND) / rate as u64;
    let mem = limits.memory_bytes / (10 * n);
    wav.min(mem)
}

/// Two tones (or one) at these levels must not clip a 16-bit sample.
fn check_peak(levels: &[f64]) -> Result<(), String> {
    for &l in levels {
        let full = crate::units::FULL_SCALE_SINE_DBM0;
        if !(-90.0..=full).contains(&l) {
            return Err(format!(
                "level {l} dBm0 is outside −90 … +{full} dBm0 (+{full} is a full-scale sine)"
            ));
        }
    }
    let peak: f64 = levels.iter().map(|&l| crate::units::dbm0_to_peak(l)).sum();
    if peak > 32767.0 {
        return Err(format!(
            "tones at {} dBm0 together peak at {:.1} dBFS: they would clip (lower the level or the twist)",
            levels
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(" and "),
            20.0 * (peak / 32767.0).log10()
        ));
    }
    Ok(())
}

/// At most `max` positional arguments.
fn at_most(cmd: &str, args: &[&str], max: usize, what: &str) -> Result<(), String> {
    if args.len() > max {
        return Err(format!(
            "`{cmd}` takes {what}; unexpected `{}`",
            args[max..].join(" ")
        ));
    }
    Ok(())
}

struct Chan {
    synth: ChannelSynth,
    imp: Impairments,
}

/// Fetches the audio of a `voice` file a script names (its path as written): the path it was
/// read from and its first channel at 8 kHz. The edge supplies it (`files::script`); parsing
/// reads nothing itself.
pub type ReadVoice<'a> = dyn Fn(&str) -> Result<(PathBuf, Vec<i16>), String> + 'a;

/// A reader for scripts that name no files: any `voice` line is refused.
pub fn no_files(rel: &str) -> Result<(PathBuf, Vec<i16>), String> {
    Err(format!("{rel}: this script may not read files"))
}

/// Parse and render a script that reads no files (`voice` lines are refused); `name` labels
/// errors. Scripts with voice files: [`render_limited`] with a reader, or `files::script`.
pub fn render(name: &str, text: &str) -> Result<Rendered, ScriptError> {
    render_limited(name, text, &Limits::default(), &no_files)
}

/// Why a script cannot be rendered; every message names the script and the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A line is wrong: unknown command, bad number, a level that clips, a file it names.
    #[error("{0}")]
    Invalid(String),
    /// The output would not fit a WAV (4 GiB) or the memory limit.
    #[error("{0}")]
    TooLarge(String),
}

/// Render a script whose `voice` files come from `read`, refusing (before allocating) output that
/// would not fit `limits` or a WAV.
pub fn render_limited(
    name: &str,
    text: &str,
    limits: &Limits,
    read: &ReadVoice<'_>,
) -> Result<Rendered, ScriptError> {
    let mut too_large = false;
    render_text(name, text, read, limits, &mut too_large).map_err(|m| {
        if too_large {
            ScriptError::TooLarge(m)
        } else {
            ScriptError::Invalid(m)
        }
    })
}

fn render_text(
    name: &str,
    text: &str,
    read: &ReadVoice<'_>,
    limits: &Limits,
    too_large: &mut bool,
) -> Result<Rendered, String> {
    let mut rate = 8000u32;
    let mut declared: Option<usize> = None;
    let mut seed = 1u64;
    let mut cur = 0usize;
    let mut chans: BTreeMap<usize, Chan> = BTreeMap::new();
    let mut inputs = Vec::new();
    for (ln, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        if line.is_empty() {
            continue;
        }
        let err = |m: String| format!("{name}:{}: {m}", ln + 1);
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let cmd = words.remove(0).to_ascii_lowercase();
        let (args, opts) = split_opts(&words).map_err(err)?;
        let one = |what: &str| at_most(&cmd, &args, 1, what).map_err(err);
        let n_now = declared
            .unwrap_or(0)
            .max(chans.keys().next_back().map_or(0, |&k| k + 1))
            .max(cur + 1);
        let limit = channel_limit(n_now, rate, limits);
        let ch = chans.entry(cur).or_insert_with(|| Chan {
            synth: ChannelSynth::new(seed.wrapping_mul(1000).wrapping_add(cur as u64)),
            imp: Impairments::default(),
        });
        ch.synth.set_limit(limit);
        let known = |allowed: &[&str]| -> Result<(), String> {
            for k in opts.keys() {
                if !allowed.contains(&k.as_str()) {
                    return Err(err(format!(
                        "`{cmd}` has no option `{k}` (options: {})",
                        allowed.join(", ")
                    )));
                }
            }
            Ok(())
        };
        match cmd.as_str() {
            "rate" => {
                known(&[])?;
                one("one rate in Hz")?;
                rate = num(&args, 0, "rate").map_err(err)? as u32;
                if !(4000..=384_000).contains(&rate) {
                    return Err(err(format!("rate {rate} Hz out of range 4000–384000")));
                }
            }
            "channels" => {
                known(&[])?;
                one("one channel count")?;
                let n = num(&args, 0, "channel count").map_err(err)? as usize;
                if n == 0 || n > MAX_CHANNELS {
                    return Err(err(format!("channels must be 1–{MAX_CHANNELS}")));
                }
                declared = Some(n);
            }
            "seed" => {
                known(&[])?;
                one("one seed")?;
                seed = num(&args, 0, "seed").map_err(err)? as u64;
            }
            "channel" => {
                known(&[])?;
                one("one channel number")?;
                let n = num(&args, 0, "channel").map_err(err)?;
                if n < 0.0 || n >= MAX_CHANNELS as f64 || n.fract() != 0.0 {
                    return Err(err(format!("channel must be 0–{}", MAX_CHANNELS - 1)));
                }
                cur = n as usize;
            }
            "at" => {
                known(&[])?;
                one("one time in ms")?;
                ch.synth.cursor = ms_to_samples(nonneg(&args, 0, "time (ms)").map_err(err)?) as u64;
                let c = ch.synth.cursor;
                ch.synth.pad_to(c);
            }
            "silence" => {
                known(&[])?;
                one("one duration in ms")?;
                ch.synth.silence(nonneg(&args, 0, "duration (ms)").map_err(err)?);
            }
            "mf" => {
                known(&["level", "twist", "kp", "on", "gap", "dev_low", "dev_high", "skew"])?;
                if args.is_empty() {
                    return Err(err("`mf` needs signals, e.g. `mf KP 0 5551234 ST`".into()));
                }
                let sigs = MfSignal::parse_sequence(&args.join(" ")).map_err(err)?;
                let d = MfParams::default();
                let p = MfParams {
                    level: opt(&opts, "level", d.level).map_err(err)?,
                    twist: opt(&opts, "twist", d.twist).map_err(err)?,
                    kp_ms: opt_nonneg(&opts, "kp", d.kp_ms).map_err(err)?,
                    on_ms: opt_nonneg(&opts, "on", d.on_ms).map_err(err)?,
                    gap_ms: opt_nonneg(&opts, "gap", d.gap_ms).map_err(err)?,
                    dev_low: opt(&opts, "dev_low", d.dev_low).map_err(err)?,
                    dev_high: opt(&opts, "dev_high", d.dev_high).map_err(err)?,
                    skew_ms: opt(&opts, "skew", d.skew_ms).map_err(err)?,
                };
                check_peak(&[p.level, p.level + p.twist]).map_err(err)?;
                check_dev(&p.dev_low, &p.dev_high, p.skew_ms).map_err(err)?;
                ch.synth.mf(&sigs, &p);
            }
            "dtmf" => {
                known(&["level_low", "level_high", "on", "off", "dev_low", "dev_high", "skew"])?;
                if args.is_empty() {
                    return Err(err("`dtmf` needs keys, e.g. `dtmf *11`".into()));
                }
                let d = DtmfParams::default();
                let p = DtmfParams {
                    level_low: opt(&opts, "level_low", d.level_low).map_err(err)?,
                    level_high: opt(&opts, "level_high", d.level_high).map_err(err)?,
                    on_ms: opt_nonneg(&opts, "on", d.on_ms).map_err(err)?,
                    off_ms: opt_nonneg(&opts, "off", d.off_ms).map_err(err)?,
                    dev_low: opt(&opts, "dev_low", d.dev_low).map_err(err)?,
                    dev_high: opt(&opts, "dev_high", d.dev_high).map_err(err)?,
                    skew_ms: opt(&opts, "skew", d.skew_ms).map_err(err)?,
                };
                check_peak(&[p.level_low, p.level_high]).map_err(err)?;
                check_dev(&p.dev_low, &p.dev_high, p.skew_ms).map_err(err)?;
                ch.synth.dtmf(&args.concat(), &p).map_err(err)?;
            }
            "tone" => {
                known(&[])?;
                at_most(&cmd, &args, 3, "frequency (Hz), level (dBm0) and duration (ms)")
                    .map_err(err)?;
                let hz = nonneg(&args, 0, "frequency (Hz)").map_err(err)?;
                let lv = num(&args, 1, "level (dBm0)").map_err(err)?;
                let ms = nonneg(&args, 2, "duration (ms)").map_err(err)?;
                if hz >= 4000.0 {
                    return Err(err(format!("tone {hz} Hz is above the 4000 Hz Nyquist limit")));
                }
                check_peak(&[lv]).map_err(err)?;
                let len = ms_to_samples(ms) as u64;
                let at = ch.synth.cursor;
                ch.synth.tone(at, len, hz, lv);
                ch.synth.cursor += len;
            }
            "voice" => {
                known(&["gain"])?;
                one("one WAV path")?;
                let file = args
                    .first()
                    .ok_or_else(|| err("`voice` needs a WAV path".into()))?;
                let gain = opt(&opts, "gain", 0.0).map_err(err)?;
                if !(-90.0..=20.0).contains(&gain) {
                    return Err(err(format!("gain {gain} dB is outside −90 … +20 dB")));
                }
                let (path, voice) = read(file).map_err(err)?;
                inputs.push(path);
                ch.synth.mix(&voice, gain);
            }
            "sf" => {
                one("one of on, off, seize, wink, flash, disconnect")?;
                for k in ["level"] {
                    if let Some(v) = opts.get(k) {
                        check_peak(&[parse_num(v, k).map_err(err)?]).map_err(err)?;
                    }
                }
                let what = args.first().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
                let d = SfParams::default();
                match what.as_str() {
                    "on" | "idle" => {
                        known(&["level"])?;
                        ch.synth.sf_on(opt(&opts, "level", d.idle_level).map_err(err)?);
                    }
                    "off" => {
                        known(&[])?;
                        ch.synth.sf_off();
                    }
                    "seize" => {
                        known(&[])?;
                        ch.synth.sf_seize();
                    }
                    "wink" => {
                        known(&["ms", "level"])?;
                        let p = SfParams {
                            idle_level: opt(&opts, "level", d.idle_level).map_err(err)?,
                            ..d
                        };
                        ch.synth.sf_wink(opt_nonneg(&opts, "ms", 200.0).map_err(err)?, &p);
                    }
                    "flash" => {
                        known(&["ms", "level"])?;
                        let p = SfParams {
                            burst_level: opt(&opts, "level", d.burst_level).map_err(err)?,
                            ..d
                        };
                        ch.synth.sf_flash(opt_nonneg(&opts, "ms", 500.0).map_err(err)?, &p);
                    }
                    "disconnect" => {
                        known(&["level"])?;
                        let p = SfParams {
                            idle_level: opt(&opts, "level", d.idle_level).map_err(err)?,
                            ..d
                        };
                        ch.synth.sf_disconnect(&p);
                    }
                    _ => {
                        return Err(err(
                            "`sf` takes on, off, seize, wink, flash or disconnect".into(),
                        ))
                    }
                }
            }
            "dp" => {
                known(&["pps", "break", "interdigit", "level"])?;
                let d = DpParams::default();
                let p = DpParams {
                    pps: opt(&opts, "pps", d.pps).map_err(err)?,
                    break_pct: opt(&opts, "break", d.break_pct).map_err(err)?,
                    interdigit_ms: opt_nonneg(&opts, "interdigit", d.interdigit_ms).map_err(err)?,
                    level: opt(&opts, "level", d.level).map_err(err)?,
                };
                if args.is_empty() {
                    return Err(err("`dp` needs digits, e.g. `dp 911`".into()));
                }
                check_peak(&[p.level]).map_err(err)?;
                ch.synth.dial_pulses(&args.concat(), &p).map_err(err)?;
            }
            "noise" => {
                known(&[])?;
                one("one level in dBm0")?;
                let n = num(&args, 0, "noise level (dBm0)").map_err(err)?;
                if !(-100.0..=-10.0).contains(&n) {
                    return Err(err(format!(
                        "noise {n} dBm0 is outside −100 … −10 dBm0 (louder white noise clips)"
                    )));
                }
                ch.imp.noise_dbm0 = Some(n);
            }
            "g711" => {
                known(&[])?;
                one("ulaw or alaw")?;
                ch.imp.g711 = Some(match args.first().map(|s| s.to_ascii_lowercase()).as_deref() {
                    Some("ulaw") | Some("mulaw") | Some("u") => Law::Ulaw,
                    Some("alaw") | Some("a") => Law::Alaw,
                    _ => return Err(err("`g711` takes `ulaw` or `alaw`".into())),
                });
            }
            "dropout" => {
                known(&[])?;
                at_most(&cmd, &args, 2, "a start and a length in ms").map_err(err)?;
                let at = ms_to_samples(nonneg(&args, 0, "start (ms)").map_err(err)?) as u64;
                let len = ms_to_samples(nonneg(&args, 1, "length (ms)").map_err(err)?) as u64;
                ch.imp.dropouts.push((at, len));
            }
            other => {
                return Err(err(format!(
                    "unknown command `{other}` (rate, channels, seed, channel, at, silence, mf, dtmf, sf, dp, tone, voice, noise, g711, dropout)"
                )))
            }
        }
        if let Some(asked) = ch.synth.over_limit() {
            *too_large = true;
            return Err(err(too_long(cur, asked, n_now, rate, limits)));
        }
    }
    let used = chans.keys().next_back().map(|&k| k + 1).unwrap_or(1);
    let n = match declared {
        Some(d) if d < used => {
            return Err(format!(
                "{name}: `channels {d}` but channel {} is used",
                used - 1
            ))
        }
        Some(d) => d,
        None => used,
    };
    let len = chans.values().map(|c| c.synth.len()).max().unwrap_or(0);
    if len > channel_limit(n, rate, limits) {
        *too_large = true;
        return Err(format!("{name}: {}", too_long(0, len, n, rate, limits)));
    }
    let mut warnings = Vec::new();
    let mut channels = Vec::with_capacity(n);
    let mut truth = Vec::with_capacity(n);
    for c in 0..n {
        let mut ch = chans.remove(&c).unwrap_or_else(|| Chan {
            synth: ChannelSynth::new(seed.wrapping_mul(1000).wrapping_add(c as u64)),
            imp: Impairments::default(),
        });
        ch.synth.pad_to(len);
        let (x, t) = ch.synth.finish(&ch.imp);
        let clipped = x
            .iter()
            .filter(|&&v| v == i16::MAX || v == i16::MIN)
            .count();
        if clipped > 0 {
            warnings.push(format!(
                "{name}: channel {c}: {clipped} sample(s) at full scale (clipped where signals overlap)"
            ));
        }
        channels.push(x);
        truth.push(t);
    }
    Ok(Rendered {
        rate,
        channels,
        truth,
        inputs,
        warnings,
    })
}

fn too_long(ch: usize, asked: u64, n: usize, rate: u32, limits: &Limits) -> String {
    let secs = crate::units::samples_to_s;
    let limit = channel_limit(n, rate, limits);
    let wav = channel_limit(
        n,
        rate,
        &Limits {
            memory_bytes: u64::MAX,
        },
    );
    format!(
        "channel {ch} would be {:.3} s long: with {n} channel(s) at {rate} Hz the output may be at most {:.3} s per channel ({})",
        secs(asked),
        secs(limit),
        if limit == wav {
            "a WAV holds 4 GiB of audio".to_string()
        } else {
            format!("{} MiB of memory for the audio", limits.memory_bytes >> 20)
        }
    )
}

/// Frequency deviations (%) and skew (ms) inside what a synthesiser test means.
fn check_dev(dev_low: &f64, dev_high: &f64, skew: f64) -> Result<(), String> {
    for (k, v) in [("dev_low", dev_low), ("dev_high", dev_high)] {
        if !(-20.0..=20.0).contains(v) {
            return Err(format!("{k} {v} % is outside −20 … +20 %"));
        }
    }
    if !(-1000.0..=1000.0).contains(&skew) {
        return Err(format!("skew {skew} ms is outside −1000 … +1000 ms"));
    }
    Ok(())
}

/// Drop a comment. `#` is also a DTMF key and MF ST, so a comment is a line starting with `#` or
/// text from ` # ` (a `#` with whitespace on both sides) on; `dtmf 1#` and `mf KP 5 #` keep theirs.
fn strip_comment(raw: &str) -> &str {
    let t = raw.trim();
    if t.starts_with('#') {
        return "";
    }
    let b = t.as_bytes();
    for i in 1..b.len().saturating_sub(1) {
        if b[i] == b'#' && b[i - 1].is_ascii_whitespace() && b[i + 1].is_ascii_whitespace() {
            return t[..i].trim_end();
        }
    }
    t
}

type Opts = BTreeMap<String, String>;

fn split_opts<'a>(words: &[&'a str]) -> Result<(Vec<&'a str>, Opts), String> {
    let mut args = Vec::new();
    let mut opts = Opts::new();
    for w in words {
        if let Some((k, v)) = w.split_once('=') {
            if k.is_empty() || v.is_empty() {
                return Err(format!("malformed option `{w}` (want key=value)"));
            }
            opts.insert(k.to_ascii_lowercase(), v.to_string());
        } else {
            args.push(*w);
        }
    }
    Ok((args, opts))
}

fn parse_num(s: &str, what: &str) -> Result<f64, String> {
    let t = s
        .trim_end_matches("dBm0")
        .trim_end_matches("dB")
        .trim_end_matches("ms")
        .trim_end_matches("Hz")
        .trim_end_matches('%');
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{what}: `{s}` is not a number")),
    }
}

fn num(args: &[&str], i: usize, what: &str) -> Result<f64, String> {
    let s = args.get(i).ok_or_else(|| format!("missing {what}"))?;
    parse_num(s, what)
}

fn nonneg(args: &[&str], i: usize, what: &str) -> Result<f64, String> {
    let v = num(args, i, what)?;
    if !(0.0..=86_400_000.0).contains(&v) {
        return Err(format!("{what} must be 0–86400000, got {v}"));
    }
    Ok(v)
}

fn opt(opts: &Opts, k: &str, default: f64) -> Result<f64, String> {
    match opts.get(k) {
        Some(v) => parse_num(v, k),
        None => Ok(default),
    }
}

fn opt_nonneg(opts: &Opts, k: &str, default: f64) -> Result<f64, String> {
    let v = opt(opts, k, default)?;
    if !(0.0..=3_600_000.0).contains(&v) {
        return Err(format!("{k} must be 0–3600000 ms, got {v}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests;
