//! The real-time path never allocates (docs/architecture.md): the sound-card callbacks' ring
//! moves, the line sender's rendering and the receivers' block processing run here under a global
//! allocator that counts every allocation made on this thread while the path is marked.

use e911_tandem::engine::ring::{ring, try_pop, try_push, Counters};
use e911_tandem::generate::sender::{LineSender, MfTiming};
use e911_tandem::line::port::{PortReceivers, RxSet};
use e911_tandem::register::mf::MfSignal;

use crate::{allocations_during, ALLOC_GUARD};

#[test]
fn ring_callbacks_move_audio_without_allocating_and_count_xruns() {
    let (mut tx, mut rx) = ring(80, 4);
    let c = Counters::default();
    let block = [7i16; 80];
    let mut out = [0i16; 80];
    let n = allocations_during(|| {
        for _ in 0..1000 {
            try_push(&mut tx, &block, &c);
            try_pop(&mut rx, &mut out, &c);
        }
        // Overrun: five blocks into a four-block ring; underrun: six out.
        for _ in 0..5 {
            try_push(&mut tx, &block, &c);
        }
        for _ in 0..6 {
            try_pop(&mut rx, &mut out, &c);
        }
    });
    assert_eq!(n, 0, "allocations on the real-time path");
    assert_eq!(c.overruns(), 80);
    assert_eq!(c.underruns(), 160);
    let _ = &ALLOC_GUARD;
}

#[test]
fn sender_rendering_and_receivers_do_not_allocate_once_warm() {
    let mut s = LineSender::new();
    s.sf(0, Some(-20.0));
    s.sf(8000, None);
    let spill = [
        MfSignal::KP,
        MfSignal::Digit(0),
        MfSignal::Digit(5),
        MfSignal::Digit(5),
        MfSignal::Digit(5),
        MfSignal::Digit(1),
        MfSignal::Digit(2),
        MfSignal::Digit(3),
        MfSignal::Digit(4),
        MfSignal::ST,
    ];
    s.mf(9000, &spill, &MfTiming::default());
    let mut rx = PortReceivers::new(RxSet::ALL);
    let mut ev = Vec::with_capacity(64);
    let mut f = vec![0f32; 80];
    let mut x = vec![0i16; 80];
    // Warm up: one block of each kind of work (first detections size internal buffers).
    let mut step = |t: u64, f: &mut Vec<f32>, x: &mut Vec<i16>, ev: &mut Vec<_>| {
        f.iter_mut().for_each(|v| *v = 0.0);
        s.render(t, f);
        e911_tandem::generate::sender::quantise(f, x);
        rx.process(x, 80, ev);
    };
    let mut t = 0;
    while t < 8000 {
        step(t, &mut f, &mut x, &mut ev);
        t += 80;
    }
    let n = allocations_during(|| {
        while t < 8000 * 4 {
            step(t, &mut f, &mut x, &mut ev);
            t += 80;
        }
    });
    assert_eq!(
        n, 0,
        "allocations while sending and hearing SF, a seizure and an MF spill"
    );
    let mf: Vec<_> = ev
        .iter()
        .filter_map(|e| match e.heard {
            e911_tandem::line::port::Heard::Mf(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(mf, spill, "the spill was heard while measuring");
}
