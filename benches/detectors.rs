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
        "idle" => {
            // An SF trunk at rest: the 2600 Hz idle tone.
            ch.sf_on(e911_tandem::generate::synth::SfParams::default().idle_level);
            ch.silence(1000.0);
            ch.sf_off();
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

/// A DSP worker's day: many ports, each hearing its trunk's 2600 Hz idle tone, visited in turn one
/// 10 ms block at a time (so each port's state is cold when its turn comes, as in the engine).
/// One iteration = one second of audio on every port; elem/s = port-seconds per CPU-second.
fn idle_ports(c: &mut Criterion) {
    use e911_tandem::line::port::{PortReceivers, RxSet};
    const PORTS: usize = 500;
    const BLOCK: usize = 80;
    let x = one_second_of("idle");
    let mut g = c.benchmark_group("idle_ports");
    g.sample_size(10);
    g.throughput(Throughput::Elements(PORTS as u64));
    for (name, set) in [
        (
            "sf",
            RxSet {
                sf: true,
                ..RxSet::NONE
            },
        ),
        ("all", RxSet::ALL),
    ] {
        let mut ports: Vec<PortReceivers> = (0..PORTS).map(|_| PortReceivers::new(set)).collect();
        let mut out = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                for block in x.chunks_exact(BLOCK) {
                    for p in ports.iter_mut() {
                        p.process(block, BLOCK, &mut out);
                    }
                }
                let n = out.len();
                out.clear();
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, receivers, idle_ports);
criterion_main!(benches);
