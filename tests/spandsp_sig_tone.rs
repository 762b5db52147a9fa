//! SpanDSP's `tests/sig_tone_tests.c`, ported where it has a pass rule that is not already a test
//! in our own terms: its transmit sequence (nine 33 ms bursts of 2600 Hz 67 ms apart — dial
//! pulses at 10 pps with a 33 % tone — then 600 ms of tone), every change reported once and in
//! order; and its speech-immunity rule, 0 hits, on the whole talk-off corpus. Its notch sweep is
//! `the_notch_takes_30_db_out_of_2580_to_2620_hz_…` in `sf_dial_pulse.rs` (≥ 30 dB at 2580–2620 Hz, ≤ 1 dB at 300–2400 Hz); its
//! level-and-ratio sweep only prints.

use e911_tandem::dsp::g711::Law;
use e911_tandem::generate::synth::{ChannelSynth, Impairments};
use e911_tandem::line::sf::{SfReceiver, BURST_DBM0, SF_HZ};
use e911_tandem::units::ms_to_samples;

#[test]
fn spandsp_sig_tone_sequence_every_change_once_and_in_order() {
    for law in [Law::Ulaw, Law::Alaw] {
        let mut ch = ChannelSynth::new(9);
        ch.silence(100.0);
        let mut edges = Vec::new();
        for k in 0..10 {
            let on = if k < 9 { 33.0 } else { 600.0 };
            let (start, len) = (ch.cursor, ms_to_samples(on) as u64);
            ch.tone(start, len, SF_HZ as f64, BURST_DBM0);
            edges.push((true, start));
            edges.push((false, start + len));
            ch.cursor += len;
            ch.silence(67.0);
        }
        ch.silence(100.0);
        let (x, _) = ch.finish(&Impairments {
            g711: Some(law),
            noise_dbm0: Some(-50.0),
            ..Default::default()
        });
        let mut got = Vec::new();
        SfReceiver::default().process(&x, &mut |e| got.push(e));
        assert_eq!(got.len(), edges.len(), "{law:?}: {got:?}");
        for (e, &(on, t)) in got.iter().zip(&edges) {
            assert_eq!(e.on, on, "{law:?}: {got:?}");
            // Each change reported within 10 ms of happening, its time estimated to ±2 ms.
            assert!(
                e.at >= t && e.at - t <= 80,
                "{law:?}: {e:?} for the change at {t}"
            );
            assert!(
                e.time.abs_diff(t) <= 16,
                "{law:?}: {e:?} for the change at {t}"
            );
        }
    }
}
