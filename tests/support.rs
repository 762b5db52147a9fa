//! Test signals are made by the synthesiser (`generate::synth`), a separate path from the
//! receivers: sines computed in f64 from the spec's frequencies and dBm0 levels.

#![allow(dead_code)]

use e911_tandem::dsp::g711::Law;
use e911_tandem::generate::synth::{ChannelSynth, DtmfParams, Impairments, MfParams, Truth};
use e911_tandem::register::dtmf::{DtmfEvent, DtmfReceiver};
use e911_tandem::register::mf::{MfEvent, MfReceiver, MfSignal};

/// Lead-in silence before the signal; `align` (samples) shifts it across block boundaries.
pub const LEAD_MS: f64 = 40.0;

pub fn mf_burst(
    sig: MfSignal,
    p: &MfParams,
    align: u64,
    seed: u64,
    imp: &Impairments,
) -> (Vec<i16>, Truth) {
    let mut ch = ChannelSynth::new(seed);
    ch.silence(LEAD_MS);
    ch.cursor += align;
    ch.mf(&[sig], p);
    ch.silence(60.0);
    let (x, t) = ch.finish(imp);
    (x, t[0].clone())
}

pub fn dtmf_burst(
    key: char,
    p: &DtmfParams,
    align: u64,
    seed: u64,
    imp: &Impairments,
) -> (Vec<i16>, Truth) {
    let mut ch = ChannelSynth::new(seed);
    ch.silence(LEAD_MS);
    ch.cursor += align;
    ch.dtmf(&key.to_string(), p).unwrap();
    ch.silence(80.0);
    let (x, t) = ch.finish(imp);
    (x, t[0].clone())
}

pub fn mf_on(x: &[i16]) -> Vec<MfEvent> {
    let mut rx = MfReceiver::new();
    let mut out = Vec::new();
    rx.process(x, &mut |e| {
        if e.on {
            out.push(e)
        }
    });
    out
}

pub fn mf_all(x: &[i16], chunk: usize) -> Vec<MfEvent> {
    let mut rx = MfReceiver::new();
    let mut out = Vec::new();
    for c in x.chunks(chunk.max(1)) {
        rx.process(c, &mut |e| out.push(e));
    }
    rx.finish(&mut |e| out.push(e));
    out
}

pub fn dtmf_on(x: &[i16]) -> Vec<DtmfEvent> {
    let mut rx = DtmfReceiver::new();
    let mut out = Vec::new();
    rx.process(x, &mut |e| {
        if e.on {
            out.push(e)
        }
    });
    out
}

pub fn dtmf_all(x: &[i16], chunk: usize) -> Vec<DtmfEvent> {
    let mut rx = DtmfReceiver::new();
    let mut out = Vec::new();
    for c in x.chunks(chunk.max(1)) {
        rx.process(c, &mut |e| out.push(e));
    }
    rx.finish(&mut |e| out.push(e));
    out
}

pub fn ulaw() -> Impairments {
    Impairments {
        g711: Some(Law::Ulaw),
        ..Default::default()
    }
}

pub fn noisy(dbm0: f64) -> Impairments {
    Impairments {
        noise_dbm0: Some(dbm0),
        g711: Some(Law::Ulaw),
        ..Default::default()
    }
}

/// Latency statistics in ms.
#[derive(Debug)]
pub struct Dist {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn dist(mut v: Vec<f64>) -> Dist {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Dist {
        n: v.len(),
        p50: q(0.5),
        p99: q(0.99),
        max: *v.last().unwrap(),
    }
}

pub fn all_dtmf_keys() -> impl Iterator<Item = char> {
    "123A456B789C*0#D".chars()
}

/// The bundled Cary office (docs/datafill/cary.dat).
pub fn cary() -> e911_tandem::tandem::tables::Office {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat");
    e911_tandem::files::datafill(&p).unwrap().office
}

/// What our MF receiver hears on a leg, as a spill string (`KP 0 5551234 ST`).
pub fn decode_spill(x: &[i16]) -> String {
    let mut rx = MfReceiver::new();
    let mut got = Vec::new();
    rx.process(x, &mut |e| {
        if e.on {
            got.push(e.signal)
        }
    });
    e911_tandem::tandem::ani::spill_string(&got)
}
