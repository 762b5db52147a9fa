//! DTMF receiver conformance, in the manner of SpanDSP's `tests/dtmf_rx_tests.c`, against the
//! targets of `docs/signalling.md` Sweeps run across every block alignment (the
//! receiver's hop is 8 samples) and after a G.711 μ-law round trip.

use e911_tandem::generate::synth::{ChannelSynth, DtmfParams, Impairments};
use e911_tandem::units::ms_to_samples;
use proptest::prelude::*;

use crate::support::*;

const HOP: u64 = 8;

fn p() -> DtmfParams {
    DtmfParams::default()
}

fn keys_of(x: &[i16]) -> Vec<char> {
    dtmf_on(x).iter().map(|e| e.key).collect()
}

#[test]
fn dtmf_decodes_every_key_ten_times_after_g711() {
    for key in all_dtmf_keys() {
        for rep in 0..10u64 {
            let (x, _) = dtmf_burst(key, &p(), rep, rep, &ulaw());
            assert_eq!(keys_of(&x), vec![key], "{key} rep {rep}");
        }
    }
}

#[test]
fn dtmf_accepts_1_5_percent_frequency_error() {
    for key in all_dtmf_keys() {
        for (dl, dh) in [(1.5, 1.5), (-1.5, -1.5), (1.5, -1.5), (-1.5, 1.5)] {
            for align in 0..HOP {
                let params = DtmfParams {
                    dev_low: dl,
                    dev_high: dh,
                    ..p()
                };
                let (x, _) = dtmf_burst(key, &params, align, align, &ulaw());
                assert_eq!(
                    keys_of(&x),
                    vec![key],
                    "{key} dev ({dl},{dh}) align {align}"
                );
            }
        }
    }
}

#[test]
fn dtmf_rejects_3_5_percent_frequency_error_on_either_tone() {
    for key in all_dtmf_keys() {
        for (dl, dh) in [
            (3.5, 0.0),
            (-3.5, 0.0),
            (0.0, 3.5),
            (0.0, -3.5),
            (3.5, 3.5),
            (-3.5, -3.5),
        ] {
            for align in (0..HOP).step_by(3) {
                let params = DtmfParams {
                    dev_low: dl,
                    dev_high: dh,
                    ..p()
                };
                let (x, _) = dtmf_burst(key, &params, align, align, &ulaw());
                let got = keys_of(&x);
                assert!(
                    !got.contains(&key),
                    "{key} dev ({dl},{dh}) align {align}: {got:?}"
                );
            }
        }
    }
}

#[test]
fn dtmf_accepts_twist_low_louder_8_db_and_high_louder_4_db() {
    for key in all_dtmf_keys() {
        for (lo, hi) in [(-6.0, -14.0), (-20.0, -28.0), (-10.0, -6.0), (-26.0, -22.0)] {
            for align in 0..HOP {
                let params = DtmfParams {
                    level_low: lo,
                    level_high: hi,
                    ..p()
                };
                let (x, _) = dtmf_burst(key, &params, align, align, &ulaw());
                assert_eq!(
                    keys_of(&x),
                    vec![key],
                    "{key} levels ({lo},{hi}) align {align}"
                );
            }
        }
    }
}

#[test]
fn dtmf_accepts_every_level_from_minus_30_to_minus_3_dbm0_per_tone() {
    for key in all_dtmf_keys() {
        for level in (-30i32..=-3).step_by(3) {
            let l = level as f64;
            let params = DtmfParams {
                level_low: l,
                level_high: l,
                ..p()
            };
            let (x, _) = dtmf_burst(key, &params, level.unsigned_abs() as u64 % HOP, 5, &ulaw());
            assert_eq!(keys_of(&x), vec![key], "{key} at {level} dBm0");
        }
    }
}

#[test]
fn dtmf_accepts_plus_3_dbm0_per_tone_even_clipped() {
    for key in all_dtmf_keys() {
        let params = DtmfParams {
            level_low: 3.0,
            level_high: 3.0,
            ..p()
        };
        let (x, _) = dtmf_burst(key, &params, 3, 5, &ulaw());
        assert_eq!(keys_of(&x), vec![key], "{key} at +3 dBm0");
    }
}

#[test]
fn dtmf_accepts_40_ms_keys() {
    for key in all_dtmf_keys() {
        for align in 0..HOP {
            for seed in 0..3 {
                let params = DtmfParams { on_ms: 40.0, ..p() };
                let (x, _) = dtmf_burst(key, &params, align, seed * 8 + align, &ulaw());
                assert_eq!(keys_of(&x), vec![key], "{key} 40 ms align {align}");
            }
        }
    }
}

#[test]
fn dtmf_rejects_keys_shorter_than_23_ms() {
    for key in all_dtmf_keys() {
        for ms in [10.0, 16.0, 20.0, 22.0, 22.875] {
            for align in 0..HOP {
                for seed in 0..3 {
                    let params = DtmfParams { on_ms: ms, ..p() };
                    let (x, _) = dtmf_burst(key, &params, align, seed * 8 + align, &ulaw());
                    assert!(
                        keys_of(&x).is_empty(),
                        "{key} {ms} ms align {align} seed {seed}"
                    );
                }
            }
        }
    }
}

#[test]
fn dtmf_never_splits_a_key_on_a_dropout_of_10_ms_or_less() {
    for key in all_dtmf_keys() {
        for drop_ms in [2.0, 5.0, 8.0, 10.0] {
            for at_ms in [20.0, 35.0, 50.0] {
                for align in (0..HOP).step_by(3) {
                    let start = ms_to_samples(LEAD_MS) as u64 + align;
                    let imp = Impairments {
                        dropouts: vec![(
                            start + ms_to_samples(at_ms) as u64,
                            ms_to_samples(drop_ms) as u64,
                        )],
                        ..ulaw()
                    };
                    let params = DtmfParams { on_ms: 90.0, ..p() };
                    let (x, _) = dtmf_burst(key, &params, align, align, &imp);
                    assert_eq!(
                        keys_of(&x),
                        vec![key],
                        "{key} dropout {drop_ms} ms at {at_ms} ms"
                    );
                }
            }
        }
    }
}

#[test]
fn dtmf_separates_keys_40_ms_apart() {
    for key in all_dtmf_keys() {
        let mut ch = ChannelSynth::new(4);
        ch.silence(LEAD_MS);
        let params = DtmfParams {
            on_ms: 50.0,
            off_ms: 40.0,
            ..p()
        };
        let s: String = [key, key, key].iter().collect();
        ch.dtmf(&s, &params).unwrap();
        let (x, _) = ch.finish(&ulaw());
        assert_eq!(keys_of(&x), vec![key, key, key], "{key}");
    }
}

#[test]
fn dtmf_is_100_percent_at_15_db_signal_to_noise() {
    // Keypad levels −6/−4 dBm0: −1.9 dBm0 together; noise 15 dB below.
    for key in all_dtmf_keys() {
        for rep in 0..8u64 {
            let (x, _) = dtmf_burst(key, &p(), rep, 50 + rep, &noisy(-16.9));
            assert_eq!(keys_of(&x), vec![key], "{key} at 15 dB S/N rep {rep}");
        }
    }
    for noise in [-30.0, -16.9, -5.0] {
        let mut ch = ChannelSynth::new(11);
        ch.silence(20_000.0);
        let (x, _) = ch.finish(&noisy(noise));
        assert!(keys_of(&x).is_empty(), "false keys in {noise} dBm0 noise");
    }
}

#[test]
fn dtmf_transfer_code_star_11_decodes_exactly() {
    let mut ch = ChannelSynth::new(2);
    ch.silence(LEAD_MS);
    ch.dtmf("*11", &p()).unwrap();
    let (x, _) = ch.finish(&noisy(-35.0));
    assert_eq!(keys_of(&x), vec!['*', '1', '1']);
}

#[test]
fn dtmf_latency_p50_26_max_30_ms() {
    let mut lat = Vec::new();
    for key in all_dtmf_keys() {
        for (lo, hi) in [
            (-6.0, -4.0),
            (-30.0, -30.0),
            (-6.0, -14.0),
            (-10.0, -6.0),
            (-3.0, -3.0),
        ] {
            for dev in [-1.5, 0.0, 1.5] {
                for align in 0..HOP {
                    let params = DtmfParams {
                        level_low: lo,
                        level_high: hi,
                        dev_low: dev,
                        dev_high: -dev,
                        ..p()
                    };
                    let (x, t) = dtmf_burst(key, &params, align, align + 3, &ulaw());
                    let got = dtmf_on(&x);
                    assert_eq!(got.len(), 1, "{key} {params:?}");
                    lat.push((got[0].at - t.start) as f64 / 8.0);
                }
            }
        }
    }
    let d = dist(lat);
    eprintln!("DTMF latency: {d:?}");
    assert!(d.p50 <= 26.0 && d.max <= 30.0, "{d:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn dtmf_any_chunk_size_gives_identical_events(chunks in proptest::collection::vec(1usize..700, 1..40), seed in 0u64..1000) {
        let mut ch = ChannelSynth::new(seed);
        ch.silence(7.0);
        ch.dtmf("*1234567890#ABCD", &p()).unwrap();
        let (x, _) = ch.finish(&Impairments { noise_dbm0: Some(-25.0), ..Default::default() });
        let whole = dtmf_all(&x, x.len());
        let mut rx = e911_tandem::register::dtmf::DtmfReceiver::new();
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
        prop_assert_eq!(whole.len(), 32);
        prop_assert_eq!(got, whole);
    }
}
