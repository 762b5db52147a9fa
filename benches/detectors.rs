//! Criterion: receiver cost per channel-second on the mixes that matter (silence, speech, an MF
//! spill, DTMF codes). Setup (synthesis) is outside the timed loop. Throughput is reported in
//! channel-seconds, so criterion's "elem/s" reads directly as channel-seconds per CPU-second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use e911_tandem::dsp::g711::Law;
use e911_tandem::generate::synth::{ChannelSynth, DtmfParams, Impairments, MfParams};
use e911_tandem::register::dtmf::DtmfReceiver;
use e911_tandem::register::mf::{MfReceiver, MfSignal};

fn one_second_of(kind: &str) -> Vec<i16> {
    let mut ch = ChannelSynth::new(3);
    match kind {
        "mf" => {
            let spill = MfSignal::parse_sequence("KP 0 5551234 ST").unwrap();
            ch.mf(&spill, &MfParams::default());
        }
        "dtmf" => ch.dtmf("*11*12*13", &DtmfParams::default()).unwrap(),
        "speech" => {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/audio-fixtures/talkoff/speech.wav"
            );
            let a = e911_tandem::audio::wav::read_wav(path.as_ref()).unwrap();
            ch.mix(&a.channels[0][8000 * 20..8000 * 21], 0.0);
        }
        _ => ch.silence(1000.0),
    }
    ch.pad_to(8000);
    let (mut x, _) = ch.finish(&Impairments {
        noise_dbm0: Some(-55.0),
        g711: Some(Law::Ulaw),
        ..Default::default()
    });
    x.truncate(8000);
    x
}

fn receivers(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel_second");
    g.throughput(Throughput::Elements(1));
    for kind in ["silence", "speech", "mf", "dtmf"] {
        let x = one_second_of(kind);
        g.bench_function(format!("mf/{kind}"), |b| {
            let mut rx = MfReceiver::new();
            b.iter(|| {
                let mut n = 0;
                rx.process(&x, &mut |_| n += 1);
                n
            })
        });
        g.bench_function(format!("dtmf/{kind}"), |b| {
            let mut rx = DtmfReceiver::new();
            b.iter(|| {
                let mut n = 0;
                rx.process(&x, &mut |_| n += 1);
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, receivers);
criterion_main!(benches);
