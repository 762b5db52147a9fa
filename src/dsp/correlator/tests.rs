//! The bank against a naive windowed DFT, its gates, and its planner.

use super::*;

#[test]
fn a_planner_builds_one_kernel_per_design_and_banks_share_it() {
    let mut p = KernelPlanner::new();
    let a = CorrelatorBank::new_in(&mut p, &[700, 900], 40, 2);
    let b = CorrelatorBank::new_in(&mut p, &[700, 900], 40, 2);
    assert_eq!(p.len(), 1);
    assert!(Arc::ptr_eq(&a.ker, &b.ker));
    let c = CorrelatorBank::new_in(&mut p, &[700, 900], 80, 2);
    assert_eq!(p.len(), 2);
    assert!(!Arc::ptr_eq(&a.ker, &c.ker));
    // A bank of its own planner has the very same kernel values.
    let d = CorrelatorBank::new(&[700, 900], 40, 2);
    assert_eq!(&*a.ker, &*d.ker);
}

/// Naive oracle: the windowed DFT computed directly from the samples.
fn naive(x: &[f32], n: usize, w: usize, hz: f64, hann: bool) -> C64 {
    let mut s = (0.0, 0.0);
    for (i, (m, &v)) in x.iter().enumerate().take(n).skip(n - w).enumerate() {
        let i = i as f64;
        let win = if hann {
            0.5 - 0.5 * (2.0 * std::f64::consts::PI * i / w as f64).cos()
        } else {
            1.0
        };
        let a = -2.0 * std::f64::consts::PI * hz * m as f64 / 8000.0;
        s.0 += win * v as f64 * a.cos();
        s.1 += win * v as f64 * a.sin();
    }
    s
}

#[test]
fn sliding_sums_equal_the_naive_windowed_dft() {
    let freqs: Vec<u32> = (6..=18).map(|k| k * 100).collect();
    let mut bank = CorrelatorBank::new(&freqs, 10, 8);
    // Deterministic pseudo-random signal.
    let mut state = 12345u32;
    let x: Vec<f32> = (0..4000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 20000.0).round()
        })
        .collect();
    for (n, &v) in x.iter().enumerate() {
        if bank.push(v as i16) && n + 1 >= 80 && (n + 1) % 170 == 0 {
            let k = 4; // 1000 Hz
            let got = bank.rect(k);
            let want = naive(&x, n + 1, 80, 1000.0, false);
            assert!((got.0 - want.0).abs() < 1.0 && (got.1 - want.1).abs() < 1.0);
            let got = bank.hann(k, k - 1, k + 1);
            let want = naive(&x, n + 1, 80, 1000.0, true);
            assert!((got.0 - want.0).abs() < 1.0 && (got.1 - want.1).abs() < 1.0);
            let energy: f64 = x[n + 1 - 80..=n]
                .iter()
                .map(|&v| (v as f64).powi(2))
                .sum::<f64>()
                / 80.0;
            assert!((bank.mean_square() - energy).abs() / energy < 1e-4);
        }
    }
}

#[test]
fn a_gated_bank_rebuilds_exact_sums_when_the_level_returns() {
    let freqs: Vec<u32> = (6..=18).map(|k| k * 100).collect();
    let gate = 1000.0 * 1000.0;
    let mut bank = CorrelatorBank::new(&freqs, 10, 8).with_gate(gate);
    // Quiet, loud, quiet, loud: the bank is skipped and rebuilt twice.
    let x: Vec<f32> = (0..4000)
        .map(|i| {
            let loud = (800..1600).contains(&i) || (2400..3300).contains(&i);
            let a = if loud { 9000.0 } else { 50.0 };
            (a * ((i as f32) * 0.61).sin() + 0.3 * a * ((i as f32) * 1.7).cos()).round()
        })
        .collect();
    let mut checked = 0;
    for (n, &v) in x.iter().enumerate() {
        if bank.push(v as i16) && n + 1 >= 80 {
            if bank.mean_square() < gate {
                assert!(!bank.is_valid());
                continue;
            }
            assert!(bank.is_valid());
            for k in [1, 5, 9] {
                let hz = freqs[k] as f64;
                let got = bank.hann(k, k - 1, k + 1);
                let want = naive(&x, n + 1, 80, hz, true);
                let scale = want.0.hypot(want.1).max(1e4);
                assert!(
                    (got.0 - want.0).abs() / scale < 1e-3 && (got.1 - want.1).abs() / scale < 1e-3,
                    "n {n} k {k}: {got:?} vs {want:?}"
                );
            }
            let window: Vec<f32> = bank.window().iter().map(|&s| s as f32).collect();
            assert_eq!(window, &x[n + 1 - 80..=n]);
            checked += 1;
        }
    }
    assert!(checked > 100);
}

#[test]
fn the_spectral_gate_skips_windows_above_the_band_and_keeps_those_in_it() {
    let freqs: Vec<u32> = (6..=18).map(|k| k * 100).collect();
    for (hz, valid) in [
        (1000.0, true),
        (1700.0, true),
        (2600.0, false),
        (3400.0, false),
    ] {
        let mut bank = CorrelatorBank::new(&freqs, 10, 8)
            .with_gate(1.0)
            .with_spectral_gate(2.58);
        for i in 0..800 {
            bank.push((8000.0 * (std::f64::consts::TAU * hz * i as f64 / 8000.0).sin()) as i16);
        }
        assert_eq!(bank.is_valid(), valid, "{hz} Hz");
    }
}
