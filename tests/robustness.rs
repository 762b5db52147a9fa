//! Receivers on real-line conditions (issue 28): the limit points of the sweeps in
//! `scripts/robustness` (figures beside multimon-ng's and SpanDSP's in `docs/signalling.md`).
//! Signals made here by a path apart from the synthesiser: sines summed in f64, Gaussian noise
//! from a xorshift generator through Box–Muller, pink noise by Paul Kellet's filter over it.
//! Levels in dBm0 (a full-scale sine is +3.14 dBm0); "S/N" is full-band: the key's two tones
//! together against the noise's whole power over 0–4 kHz.

use e911_tandem::dsp::g711::Law;
use e911_tandem::register::dtmf::{dtmf_freqs, DtmfReceiver};
use e911_tandem::units::FULL_SCALE_SINE_DBM0;

use crate::support::*;

const KEYS: &str = "123A456B789C*0#D";

/// Line before the first key.
const LEAD_MS: f64 = 300.0;

/// Peak amplitude of a sine at `dbm0`.
fn peak(dbm0: f64) -> f64 {
    32767.0 * 10f64.powf((dbm0 - FULL_SCALE_SINE_DBM0) / 20.0)
}

fn ms(t: f64) -> usize {
    (t * 8.0).round() as usize
}

/// Two tones of `n` samples at `dbm0` each; `env(i)` scales both (a level step or ramp).
fn pair(f: (f64, f64), dbm0: f64, n: usize, env: impl Fn(usize) -> f64) -> Vec<f64> {
    let a = peak(dbm0);
    let (w1, w2) = (
        std::f64::consts::TAU * f.0 / 8000.0,
        std::f64::consts::TAU * f.1 / 8000.0,
    );
    (0..n)
        .map(|i| a * env(i) * ((w1 * i as f64 + 0.4).sin() + (w2 * i as f64 + 1.3).sin()))
        .collect()
}

/// White Gaussian noise (`pink`: through Kellet's filter), `n` samples at `dbm0` RMS.
fn noise(n: usize, dbm0: f64, seed: u64, pink: bool) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uni = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut b = [0.0f64; 7];
    let mut x: Vec<f64> = (0..n)
        .map(|_| {
            let g = (-2.0 * uni().ln()).sqrt() * (std::f64::consts::TAU * uni()).cos();
            if !pink {
                return g;
            }
            b[0] = 0.99886 * b[0] + g * 0.0555179;
            b[1] = 0.99332 * b[1] + g * 0.0750759;
            b[2] = 0.96900 * b[2] + g * 0.1538520;
            b[3] = 0.86650 * b[3] + g * 0.3104856;
            b[4] = 0.55000 * b[4] + g * 0.5329522;
            b[5] = -0.7616 * b[5] - g * 0.0168980;
            let y = b[..6].iter().sum::<f64>() + b[6] + g * 0.5362;
            b[6] = g * 0.115926;
            y
        })
        .collect();
    let rms = (x.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    let want = peak(dbm0) / std::f64::consts::SQRT_2;
    x.iter_mut().for_each(|v| *v *= want / rms);
    x
}

fn pcm(x: &[f64], law: Option<Law>) -> Vec<i16> {
    x.iter()
        .map(|&v| {
            let s = v.round().clamp(-32768.0, 32767.0) as i16;
            law.map_or(s, |l| l.round_trip(s))
        })
        .collect()
}

fn mix(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

/// The 16 keys, `on_ms` on and off, at −14 dBm0 per tone, after 300 ms of line.
fn keys(on_ms: f64) -> Vec<f64> {
    let mut x = vec![0.0; ms(LEAD_MS)];
    for k in KEYS.chars() {
        let (lo, hi) = dtmf_freqs(k).unwrap();
        x.extend(pair((lo as f64, hi as f64), -14.0, ms(on_ms), |_| 1.0));
        x.extend(vec![0.0; ms(on_ms)]);
    }
    x.extend(vec![0.0; ms(300.0)]);
    x
}

fn dtmf_string(x: &[i16]) -> String {
    dtmf_on(x).iter().map(|e| e.key).collect()
}

/// All 16 keys, 50/50 and 80/80 ms, in white and in pink noise at full-band S/N 0 dB (noise at
/// −11 dBm0 against two −14 dBm0 tones), linear and after μ-law, 3 seeds each: every key once,
/// nothing else (issue 28's limit; multimon-ng is also error-free here, SpanDSP decodes none).
/// Pink by Kellet's filter is pinker than sox's (most of its power under 100 Hz).
#[test]
fn dtmf_all_keys_error_free_in_white_and_pink_noise_at_0_db_full_band() {
    for on in [50.0, 80.0] {
        let clean = keys(on);
        for (pink, snr) in [(false, 0.0), (true, 0.0)] {
            for law in [None, Some(Law::Ulaw)] {
                for seed in 0..3 {
                    let mut x = clean.clone();
                    let n = noise(x.len(), -14.0 + 3.01 - snr, seed + 1, pink);
                    mix(&mut x, &n);
                    let got = dtmf_string(&pcm(&x, law));
                    assert_eq!(
                        got,
                        KEYS,
                        "{on} ms keys, {} noise at S/N {snr} dB, {law:?}, seed {seed}",
                        if pink { "pink" } else { "white" }
                    );
                }
            }
        }
    }
}

/// Bell MF in white noise at full-band S/N 3 dB (−7 dBm0 tones, noise −7 dBm0), μ-law: the spill
/// `KP 0 5551234 ST` exact, 6 seeds (SpanDSP's bell_mf_rx errs on a sixth of the digits here).
#[test]
fn mf_spill_exact_in_white_noise_at_3_db_full_band() {
    let spill = ["KP", "0", "5", "5", "5", "1", "2", "3", "4", "ST"];
    let freqs = |s: &str| match s {
        "KP" => (1100.0, 1700.0),
        "ST" => (1500.0, 1700.0),
        d => {
            let t = [700.0, 900.0, 1100.0, 1300.0, 1500.0];
            let n: usize = d.parse().unwrap();
            let n = if n == 0 { 10 } else { n };
            // 1..=10 over the pairs of the five tones, in Bell order.
            let pairs = [
                (0, 1),
                (0, 2),
                (1, 2),
                (0, 3),
                (1, 3),
                (2, 3),
                (0, 4),
                (1, 4),
                (2, 4),
                (3, 4),
            ];
            let (a, b) = pairs[n - 1];
            (t[a], t[b])
        }
    };
    for seed in 0..6 {
        let mut x = vec![0.0; ms(200.0)];
        for s in spill {
            let on = if s == "KP" { 100.0 } else { 68.0 };
            x.extend(pair(freqs(s), -7.0, ms(on), |_| 1.0));
            x.extend(vec![0.0; ms(68.0)]);
        }
        x.extend(vec![0.0; ms(200.0)]);
        let n = noise(x.len(), -7.0 + 3.01 - 3.0, seed + 10, false);
        mix(&mut x, &n);
        assert_eq!(
            decode_spill(&pcm(&x, Some(Law::Ulaw))),
            "KP 0 5551234 ST",
            "seed {seed}"
        );
    }
}

/// Noise alone — a minute each of white and pink at −10, −20 and −30 dBm0 — gives no MF or
/// DTMF digit: what lets keys through noise does not let noise through.
#[test]
fn noise_alone_gives_no_digits() {
    for pink in [false, true] {
        for (k, level) in [-10.0, -20.0, -30.0].into_iter().enumerate() {
            let x = pcm(&noise(ms(60_000.0), level, 40 + k as u64, pink), None);
            assert!(dtmf_on(&x).is_empty(), "DTMF in {level} dBm0 noise");
            assert!(mf_on(&x).is_empty(), "MF in {level} dBm0 noise");
        }
    }
}

/// A step (or a 20 ms ramp) of `db` at `at_ms`.
fn step(at_ms: f64, db: f64, ramp: bool) -> impl Fn(usize) -> f64 {
    let (a, b) = (ms(at_ms), ms(at_ms + if ramp { 20.0 } else { 0.0 }));
    move |i| {
        let frac = if i < a {
            0.0
        } else if i >= b {
            1.0
        } else {
            (i - a) as f64 / (b - a) as f64
        };
        10f64.powf(db * frac / 20.0)
    }
}

/// A DTMF key of 1 s whose level steps or ramps by ±4, ±6, ±10 dB at 10, 30 and 80 ms after
/// onset (an AGC or codec settling) is one key — before issue 28 a 4 dB fall split it in two,
/// and `*11` became `*111` on a PSAP position. And a KP of 100 ms doing so at 10, 30 and 60 ms
/// leaves the spill exact. μ-law.
#[test]
fn a_level_step_or_ramp_inside_a_signal_never_splits_it() {
    for ramp in [false, true] {
        for db in [4.0, -4.0, 6.0, -6.0, 10.0, -10.0] {
            let start = if db > 0.0 { -16.0 } else { -6.0 };
            for at in [10.0, 30.0, 80.0] {
                let mut x = vec![0.0; ms(200.0)];
                x.extend(pair((697.0, 1209.0), start, ms(1000.0), step(at, db, ramp)));
                x.extend(vec![0.0; ms(200.0)]);
                let got = dtmf_string(&pcm(&x, Some(Law::Ulaw)));
                assert_eq!(got, "1", "DTMF {db:+} dB at {at} ms, ramp {ramp}");
            }
            for at in [10.0, 30.0, 60.0] {
                let mut x = vec![0.0; ms(200.0)];
                x.extend(pair((1100.0, 1700.0), start, ms(100.0), step(at, db, ramp)));
                x.extend(vec![0.0; ms(68.0)]);
                for f in [
                    (900.0, 1300.0),
                    (900.0, 1300.0),
                    (900.0, 1300.0),
                    (700.0, 900.0),
                    (700.0, 1100.0),
                    (900.0, 1100.0),
                    (700.0, 1300.0),
                    (1500.0, 1700.0),
                ] {
                    x.extend(pair(f, -7.0, ms(68.0), |_| 1.0));
                    x.extend(vec![0.0; ms(68.0)]);
                }
                x.extend(vec![0.0; ms(200.0)]);
                assert_eq!(
                    decode_spill(&pcm(&x, Some(Law::Ulaw))),
                    "KP 5551234 ST",
                    "MF KP {db:+} dB at {at} ms, ramp {ramp}"
                );
            }
        }
    }
}

/// Dropouts of 1–10 ms inside a key never split it; a 40 ms pause between two of the same key
/// always separates them (Q.24's interruption rule, kept through the level-step change).
#[test]
fn dropouts_never_split_a_key_and_40_ms_pauses_always_separate() {
    for drop in 1..=10 {
        let mut x = vec![0.0; ms(200.0)];
        let mut k = pair((852.0, 1477.0), -10.0, ms(200.0), |_| 1.0);
        k[ms(80.0)..ms(80.0 + drop as f64)].fill(0.0);
        x.extend(k);
        x.extend(vec![0.0; ms(200.0)]);
        assert_eq!(dtmf_string(&pcm(&x, None)), "9", "{drop} ms dropout");
    }
    for key in KEYS.chars() {
        let (lo, hi) = dtmf_freqs(key).unwrap();
        let f = (lo as f64, hi as f64);
        let mut x = vec![0.0; ms(200.0)];
        x.extend(pair(f, -10.0, ms(60.0), |_| 1.0));
        x.extend(vec![0.0; ms(40.0)]);
        x.extend(pair(f, -10.0, ms(60.0), |_| 1.0));
        x.extend(vec![0.0; ms(200.0)]);
        let mut rx = DtmfReceiver::new();
        let mut n = 0;
        rx.process(&pcm(&x, None), &mut |e| n += e.on as usize);
        assert_eq!(n, 2, "{key}: 60 / 40 / 60 ms");
    }
}

/// The 16 keys, `on_ms` on and `off_ms` off, at −10 dBm0 per tone, then `overlay` (a stretch
/// of the talk-off corpus as long as the keys) scaled so that the keys stand `ratio_db` over its
/// mean power, μ-law.
fn keys_over_timed(on_ms: f64, off_ms: f64, overlay: &[i16], ratio_db: f64) -> Vec<i16> {
    let mut x = vec![0.0; ms(LEAD_MS)];
    for k in KEYS.chars() {
        let (lo, hi) = dtmf_freqs(k).unwrap();
        x.extend(pair((lo as f64, hi as f64), -10.0, ms(on_ms), |_| 1.0));
        x.extend(vec![0.0; ms(off_ms)]);
    }
    let o = &overlay[..x.len()];
    let p = o.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / o.len() as f64;
    let g = (peak(-10.0).powi(2) / p.max(1.0) / 10f64.powf(ratio_db / 10.0)).sqrt();
    let o: Vec<f64> = o.iter().map(|&v| v as f64 * g).collect();
    mix(&mut x, &o);
    pcm(&x, Some(Law::Ulaw))
}

/// Under speech, keys shorter than 23 ms are still never reported (20 and 22 ms, 16 keys each,
/// over 3 stretches of voices at +10 and +3 dB), and a long key (600 ms, the PSAP holding a
/// key down) is reported once over each of 12 stretches at +6 and +10 dB. (At +3 dB one of the
/// 12 splits in two, with or without the overlay rule: a syllable louder than the key hides it
/// for longer than the 45 ms release. Left open, issue 28.)
#[test]
fn under_speech_short_keys_stay_out_and_a_long_key_is_one_key() {
    use e911_tandem::audio::wav::read_wav;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/talkoff");
    let voices = read_wav(&dir.join("voices.wav"))
        .unwrap()
        .channels
        .remove(0);
    for on in [20.0, 22.0] {
        for ratio in [10.0, 3.0] {
            for k in 1..=3 {
                let s = voices.len() * k / 5;
                let got = dtmf_string(&keys_over_timed(on, 100.0, &voices[s..], ratio));
                assert_eq!(got, "", "{on} ms keys at {ratio:+} dB from sample {s}");
            }
        }
    }
    for (k, ratio) in (1..=12).flat_map(|k| [(k, 6.0), (k, 10.0)]) {
        let s = voices.len() * k / 14;
        let (lo, hi) = dtmf_freqs('5').unwrap();
        let mut x = vec![0.0; ms(LEAD_MS)];
        x.extend(pair((lo as f64, hi as f64), -10.0, ms(600.0), |_| 1.0));
        x.extend(vec![0.0; ms(300.0)]);
        let o = &voices[s..s + x.len()];
        let p = o.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / o.len() as f64;
        let g = (peak(-10.0).powi(2) / p.max(1.0) / 10f64.powf(ratio / 10.0)).sqrt();
        let o: Vec<f64> = o.iter().map(|&v| v as f64 * g).collect();
        mix(&mut x, &o);
        let got = dtmf_string(&pcm(&x, Some(Law::Ulaw)));
        assert_eq!(got, "5", "a 600 ms `5` at {ratio:+} dB from sample {s}");
    }
}

/// The 16 keys, `on_ms` on and off, at −10 dBm0 per tone, then `overlay` (a stretch of the
/// talk-off corpus as long as the keys) scaled so that the keys stand `ratio_db` over its mean
/// power, μ-law.
fn keys_over(on_ms: f64, overlay: &[i16], ratio_db: f64) -> Vec<i16> {
    keys_over_timed(on_ms, on_ms, overlay, ratio_db)
}

/// Whether `got` is `KEYS` with some keys missing (nothing extra, nothing out of order).
fn only_misses(got: &str) -> bool {
    let mut sent = KEYS.chars();
    got.chars().all(|c| sent.any(|k| k == c))
}

/// Keys under speech and music (issue 28), on the part of the corpus the receiver was not tuned
/// on (the second half of `speech.wav`, `voices.wav`, `music.wav`), 3 stretches each, 50/50 and
/// 80/80 ms keys: at a key-to-overlay ratio of +10 dB at most 2 of each 48 keys are missed
/// (before the overlay rule: 7–18 here; in `scripts/robustness`'s set, multimon-ng 0–1), and at no ratio from +10 to −10 dB is a
/// key reported that was not sent. The curve, beside multimon-ng's, is in `docs/signalling.md`.
#[test]
fn dtmf_keys_under_speech_and_music_are_decoded_and_nothing_false() {
    use e911_tandem::audio::wav::read_wav;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/talkoff");
    let read = |f: &str| read_wav(&dir.join(f)).unwrap().channels.remove(0);
    let speech = read("speech.wav");
    let sources = [
        ("speech, 2nd half", speech[speech.len() / 2..].to_vec()),
        ("voices", read("voices.wav")),
        ("music", read("music.wav")),
    ];
    for on in [50.0, 80.0] {
        let span = keys(on).len();
        for (name, src) in &sources {
            let starts = [1, 2, 3].map(|k| (src.len() - span) * k / 4);
            let mut missed = 0;
            for ratio in [10, 6, 3, 0, -5, -10] {
                for &s in &starts {
                    let got = dtmf_string(&keys_over(on, &src[s..], ratio as f64));
                    assert!(
                        only_misses(&got),
                        "{name}, {on} ms keys at {ratio:+} dB, from sample {s}: {got}"
                    );
                    if ratio == 10 {
                        missed += KEYS.len() - got.len();
                    }
                }
            }
            assert!(
                missed <= 2,
                "{name}, {on} ms keys at +10 dB: {missed} of 48 missed"
            );
        }
    }
}
