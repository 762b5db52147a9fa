//! Bell MF receiver conformance, in the manner of SpanDSP's `tests/bell_mf_rx_tests.c` (Mitel
//! CM7291 side 1, synthesised), against the targets of `docs/signalling.md` Every sweep
//! runs across every block alignment (the receiver's hop is 10 samples) and, unless it tests the
//! codec itself, after a G.711 μ-law round trip.

use e911_tandem::generate::synth::{ChannelSynth, Impairments, MfParams};
use e911_tandem::register::mf::{MfSignal, MF_TONES};
use proptest::prelude::*;

use crate::support::*;

const HOP: u64 = 10;

fn p() -> MfParams {
    MfParams::default()
}

#[test]
fn mf_decodes_every_signal_ten_times_after_g711() {
    for sig in MfSignal::ALL {
        for rep in 0..10u64 {
            let (x, _) = mf_burst(sig, &p(), rep, rep, &ulaw());
            let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
            assert_eq!(got, vec![sig], "{} rep {rep}", sig.name());
        }
    }
}

/// Offset (percent) that puts a tone at the edge of the accept band ±(1.5 % + 10 Hz).
fn accept_edge_pct(hz: u32) -> f64 {
    1.5 + 1000.0 / hz as f64
}

#[test]
fn mf_accepts_1_5_percent_plus_10_hz_error_on_each_tone() {
    for sig in MfSignal::ALL {
        let (lo, hi) = sig.freqs();
        for (sl, sh) in [
            (1.0, 1.0),
            (-1.0, -1.0),
            (1.0, -1.0),
            (-1.0, 1.0),
            (0.0, 1.0),
            (1.0, 0.0),
        ] {
            for align in 0..HOP {
                let params = MfParams {
                    dev_low: sl * accept_edge_pct(lo),
                    dev_high: sh * accept_edge_pct(hi),
                    ..p()
                };
                let (x, _) = mf_burst(sig, &params, align, align + 7, &ulaw());
                let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
                assert_eq!(
                    got,
                    vec![sig],
                    "{} dev {:?} align {align}",
                    sig.name(),
                    (params.dev_low, params.dev_high)
                );
            }
        }
    }
}

#[test]
fn mf_reports_nothing_at_5_percent_error_on_either_tone() {
    for sig in MfSignal::ALL {
        for (dl, dh) in [
            (5.0, 0.0),
            (-5.0, 0.0),
            (0.0, 5.0),
            (0.0, -5.0),
            (5.0, 5.0),
            (-5.0, -5.0),
            (6.0, -6.0),
        ] {
            for align in (0..HOP).step_by(3) {
                let params = MfParams {
                    dev_low: dl,
                    dev_high: dh,
                    ..p()
                };
                let (x, _) = mf_burst(sig, &params, align, align, &ulaw());
                let got = mf_on(&x);
                assert!(
                    got.is_empty(),
                    "{} dev ({dl},{dh}) align {align}: {got:?}",
                    sig.name()
                );
            }
        }
    }
}

#[test]
fn mf_accepts_every_level_from_minus_25_to_minus_3_dbm0_per_tone() {
    // −3 dBm0 per tone is the loudest two-tone signal a 16-bit/G.711 channel carries unclipped
    // (two tones at −3 dBm0 peak at 0.99 of full scale); louder is tested below, clipped.
    for sig in MfSignal::ALL {
        for level in (-25i32..=-3).step_by(2) {
            let params = MfParams {
                level: level as f64,
                ..p()
            };
            let (x, _) = mf_burst(
                sig,
                &params,
                (level.unsigned_abs() as u64) % HOP,
                3,
                &ulaw(),
            );
            let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
            assert_eq!(got, vec![sig], "{} at {level} dBm0", sig.name());
        }
    }
}

#[test]
fn mf_accepts_plus_3_dbm0_per_tone_even_clipped() {
    for sig in MfSignal::ALL {
        let params = MfParams { level: 3.0, ..p() };
        let (x, _) = mf_burst(sig, &params, 5, 3, &ulaw());
        let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
        assert_eq!(got, vec![sig], "{} at +3 dBm0", sig.name());
    }
}

#[test]
fn mf_reports_nothing_at_or_below_minus_35_dbm0() {
    for sig in MfSignal::ALL {
        for level in [-35.0, -38.0, -40.0, -50.0] {
            for align in (0..HOP).step_by(2) {
                let params = MfParams { level, ..p() };
                let (x, _) = mf_burst(sig, &params, align, align, &ulaw());
                assert!(mf_on(&x).is_empty(), "{} at {level} dBm0", sig.name());
            }
        }
    }
}

#[test]
fn mf_accepts_6_db_twist_in_either_direction() {
    for sig in MfSignal::ALL {
        for twist in [-6.0, 6.0] {
            for level in [-7.0, -19.0] {
                for align in 0..HOP {
                    let params = MfParams {
                        level,
                        twist,
                        ..p()
                    };
                    let (x, _) = mf_burst(sig, &params, align, align, &ulaw());
                    let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
                    assert_eq!(
                        got,
                        vec![sig],
                        "{} twist {twist} level {level} align {align}",
                        sig.name()
                    );
                }
            }
        }
    }
}

#[test]
fn mf_accepts_30_ms_signals_kp_included() {
    for sig in MfSignal::ALL {
        for align in 0..HOP {
            let params = MfParams {
                kp_ms: 30.0,
                on_ms: 30.0,
                ..p()
            };
            let (x, _) = mf_burst(sig, &params, align, align, &ulaw());
            let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
            assert_eq!(got, vec![sig], "{} 30 ms align {align}", sig.name());
        }
    }
}

#[test]
fn mf_never_reports_a_burst_of_10_ms_or_less() {
    for sig in MfSignal::ALL {
        for ms in [4.0, 6.0, 8.0, 9.0, 10.0] {
            for align in 0..HOP {
                let params = MfParams {
                    kp_ms: ms,
                    on_ms: ms,
                    ..p()
                };
                let (x, _) = mf_burst(sig, &params, align, align, &ulaw());
                assert!(mf_on(&x).is_empty(), "{} {ms} ms align {align}", sig.name());
            }
        }
    }
}

#[test]
fn mf_reports_at_least_95_percent_of_bursts_with_13_ms_overlap() {
    let (mut hit, mut n) = (0, 0);
    for sig in MfSignal::ALL {
        for align in 0..HOP {
            for seed in 0..4 {
                let params = MfParams {
                    kp_ms: 13.0,
                    on_ms: 13.0,
                    ..p()
                };
                let (x, _) = mf_burst(sig, &params, align, seed * 10 + align, &ulaw());
                let got = mf_on(&x);
                assert!(got.iter().all(|e| e.signal == sig));
                hit += usize::from(!got.is_empty());
                n += 1;
            }
        }
    }
    assert!(hit * 100 >= 95 * n, "{hit}/{n} 13 ms bursts reported");
}

#[test]
fn mf_tones_arriving_8_ms_apart_count_as_one_signal() {
    for sig in MfSignal::ALL {
        for skew in [-8.0, -4.0, 4.0, 8.0] {
            for align in (0..HOP).step_by(3) {
                let params = MfParams {
                    skew_ms: skew,
                    ..p()
                };
                let (x, _) = mf_burst(sig, &params, align, align, &ulaw());
                let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
                assert_eq!(got, vec![sig], "{} skew {skew} align {align}", sig.name());
            }
        }
    }
}

#[test]
fn mf_resolves_two_identical_signals_20_ms_apart() {
    for sig in MfSignal::ALL {
        for align in 0..HOP {
            let mut ch = ChannelSynth::new(align);
            ch.silence(LEAD_MS);
            ch.cursor += align;
            ch.mf(
                &[sig, sig],
                &MfParams {
                    gap_ms: 20.0,
                    ..p()
                },
            );
            ch.silence(40.0);
            let (x, _) = ch.finish(&ulaw());
            let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
            assert_eq!(
                got,
                vec![sig, sig],
                "{} gap 20 ms align {align}",
                sig.name()
            );
        }
    }
}

#[test]
fn mf_rejects_a_third_tone_within_10_db() {
    for sig in MfSignal::ALL {
        let (a, b) = sig.tone_indices();
        for (k, &third) in MF_TONES.iter().enumerate() {
            if k == a || k == b {
                continue;
            }
            for rel_db in [0.0, -6.0, -9.0] {
                let mut ch = ChannelSynth::new(k as u64);
                ch.silence(LEAD_MS);
                let start = ch.cursor;
                ch.mf(&[sig], &p());
                ch.tone(
                    start,
                    544.max(ch.cursor - start),
                    third as f64,
                    -7.0 + rel_db,
                );
                ch.silence(40.0);
                let (x, _) = ch.finish(&ulaw());
                assert!(
                    mf_on(&x).is_empty(),
                    "{} + {third} Hz at {rel_db} dB",
                    sig.name()
                );
            }
        }
    }
}

#[test]
fn mf_is_100_percent_in_white_noise_to_minus_9_dbm0_with_no_false_digits() {
    for noise in [-20.0, -12.0, -9.0] {
        for sig in MfSignal::ALL {
            for rep in 0..6u64 {
                let (x, _) = mf_burst(sig, &p(), rep, 100 + rep, &noisy(noise));
                let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
                assert_eq!(
                    got,
                    vec![sig],
                    "{} in {noise} dBm0 noise rep {rep}",
                    sig.name()
                );
            }
        }
    }
    // Noise alone, 20 s at each level.
    for noise in [-30.0, -9.0, 0.0] {
        let mut ch = ChannelSynth::new(9);
        ch.silence(20_000.0);
        let (x, _) = ch.finish(&noisy(noise));
        assert!(mf_on(&x).is_empty(), "false digits in {noise} dBm0 noise");
    }
}

#[test]
fn mf_spill_decodes_exactly_in_noise_after_g711() {
    let spill = MfSignal::parse_sequence("KP 0 5551234 ST").unwrap();
    for seed in 0..10u64 {
        let mut ch = ChannelSynth::new(seed);
        ch.silence(LEAD_MS + seed as f64);
        ch.mf(&spill, &p());
        ch.silence(50.0);
        let (x, _) = ch.finish(&noisy(-25.0));
        let got: Vec<_> = mf_on(&x).iter().map(|e| e.signal).collect();
        assert_eq!(got, spill, "seed {seed}");
    }
}

/// Latency over every alignment and the accept envelope (level, twist, frequency error, skew).
fn latencies(skews: &[f64]) -> Vec<f64> {
    let mut lat = Vec::new();
    for sig in MfSignal::ALL {
        let (lo, hi) = sig.freqs();
        for &skew_ms in skews {
            // Level of the weaker tone; the other is `|twist|` louder (both within −25 … −3).
            for weaker in [-25.0, -16.0, -9.0] {
                for twist in [-6.0f64, 0.0, 6.0] {
                    for dev in [-1.0, 0.0, 1.0] {
                        for align in 0..HOP {
                            let level = if twist < 0.0 { weaker - twist } else { weaker };
                            let params = MfParams {
                                level,
                                twist,
                                skew_ms,
                                dev_low: dev * accept_edge_pct(lo),
                                dev_high: -dev * accept_edge_pct(hi),
                                ..p()
                            };
                            let seed = align * 31 + (weaker as i64).unsigned_abs();
                            let (x, t) = mf_burst(sig, &params, align, seed, &ulaw());
                            let got = mf_on(&x);
                            assert_eq!(got.len(), 1, "{} {params:?}", sig.name());
                            lat.push((got[0].at - t.start) as f64 / 8.0);
                        }
                    }
                }
            }
        }
    }
    lat
}

#[test]
fn mf_latency_p50_16_p99_20_max_22_ms_when_tones_start_within_4_ms() {
    let d = dist(latencies(&[-4.0, -2.0, 0.0, 2.0, 4.0]));
    eprintln!("MF latency, skew ≤ 4 ms: {d:?}");
    assert!(d.p50 <= 16.0 && d.p99 <= 20.0 && d.max <= 22.0, "{d:?}");
}

#[test]
fn mf_latency_max_25_ms_at_6_ms_skew() {
    let d = dist(latencies(&[-6.0, 6.0]));
    eprintln!("MF latency, skew 6 ms: {d:?}");
    assert!(d.max <= 25.0, "{d:?}");
}

#[test]
fn mf_kp_latency_is_no_worse_than_digits() {
    let mut kp = Vec::new();
    for align in 0..HOP {
        for level in [-25.0, -7.0] {
            let (x, t) = mf_burst(
                MfSignal::KP,
                &MfParams { level, ..p() },
                align,
                align,
                &ulaw(),
            );
            kp.push((mf_on(&x)[0].at - t.start) as f64 / 8.0);
        }
    }
    let d = dist(kp);
    assert!(d.max <= 20.0, "KP {d:?}");
}

#[test]
fn mf_reset_equals_a_fresh_receiver() {
    let (x, _) = mf_burst(MfSignal::Digit(7), &p(), 3, 3, &noisy(-30.0));
    let mut rx = e911_tandem::register::mf::MfReceiver::new();
    rx.process(&x, &mut |_| {});
    rx.reset();
    let mut a = Vec::new();
    rx.process(&x, &mut |e| a.push(e));
    let mut fresh = e911_tandem::register::mf::MfReceiver::new();
    let mut b = Vec::new();
    fresh.process(&x, &mut |e| b.push(e));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn mf_any_chunk_size_gives_identical_events(chunks in proptest::collection::vec(1usize..700, 1..40), seed in 0u64..1000) {
        let spill = MfSignal::parse_sequence("KP 0 5551234 ST").unwrap();
        let mut ch = ChannelSynth::new(seed);
        ch.silence(13.0);
        ch.mf(&spill, &p());
        ch.silence(30.0);
        let (x, _) = ch.finish(&Impairments { noise_dbm0: Some(-20.0), ..Default::default() });
        let whole = mf_all(&x, x.len());
        let mut rx = e911_tandem::register::mf::MfReceiver::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < x.len() {
            let n = chunks[k % chunks.len()].min(x.len() - pos);
            rx.process(&x[pos..pos + n], &mut |e| got.push(e));
            pos += n;
            k += 1;
        }
        rx.finish(&mut |e| got.push(e));
        prop_assert_eq!(whole.len(), 20);
        prop_assert_eq!(got, whole);
    }
}
