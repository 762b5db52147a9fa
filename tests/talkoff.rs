//! Talk-off: zero false MF or DTMF digits on the speech-and-music corpus in
//! `audio-fixtures/talkoff/` (≥ 5 minutes; provenance and the command that made it in its README).

use std::path::Path;

use e911_tandem::audio::wav::read_wav;

fn corpus() -> Vec<(String, Vec<i16>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/talkoff");
    ["speech.wav", "music.wav"]
        .iter()
        .map(|f| {
            let a = read_wav(&dir.join(f)).unwrap();
            assert!(a.damaged.is_none());
            (f.to_string(), a.channels.into_iter().next().unwrap())
        })
        .collect()
}

#[test]
fn talkoff_corpus_is_at_least_5_minutes_of_speech_and_music() {
    let total: usize = corpus().iter().map(|(_, x)| x.len()).sum();
    assert!(total >= 5 * 60 * 8000, "{} s", total / 8000);
}

#[test]
fn talkoff_no_false_mf_digits_on_speech_and_music() {
    for (name, x) in corpus() {
        let got = crate::support::mf_on(&x);
        assert!(
            got.is_empty(),
            "{name}: {} false MF digits: {got:?}",
            got.len()
        );
    }
}

#[test]
fn talkoff_no_false_dtmf_digits_on_speech_and_music() {
    for (name, x) in corpus() {
        let got = crate::support::dtmf_on(&x);
        assert!(
            got.is_empty(),
            "{name}: {} false DTMF digits: {got:?}",
            got.len()
        );
    }
}

#[test]
fn talkoff_corpus_mixed_with_a_spill_still_decodes_the_spill() {
    // The corpus is not silent enough to hide a receiver that rejects everything: a spill
    // played over the speech at −20 dB is still decoded exactly.
    use e911_tandem::generate::synth::{ChannelSynth, Impairments, MfParams};
    use e911_tandem::register::mf::MfSignal;
    let (_, speech) = corpus().remove(0);
    let spill = MfSignal::parse_sequence("KP 0 5551234 ST").unwrap();
    let mut ch = ChannelSynth::new(5);
    ch.mix(&speech[8000 * 30..8000 * 32], -20.0);
    ch.cursor = 800;
    ch.mf(&spill, &MfParams::default());
    let (x, _) = ch.finish(&Impairments::default());
    let got: Vec<_> = crate::support::mf_on(&x).iter().map(|e| e.signal).collect();
    assert_eq!(got, spill);
}
