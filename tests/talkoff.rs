//! Talk-off: zero false MF or DTMF digits on the speech-and-music corpus in
//! `audio-fixtures/talkoff/` (provenance and the command that made it in its README): the English
//! speech and the music, and `voices.wav`, 27 minutes of twelve languages in 24 espeak-ng voices,
//! telephone band, peaks at −1 dBFS, μ-law (issue 18). SpanDSP's own rule for its tone receivers
//! on speech is 0.

use std::path::Path;

use e911_tandem::audio::wav::read_wav;

fn corpus() -> Vec<(String, Vec<i16>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/talkoff");
    ["speech.wav", "music.wav", "voices.wav"]
        .iter()
        .map(|f| {
            let a = read_wav(&dir.join(f)).unwrap();
            assert!(a.damaged.is_none());
            (f.to_string(), a.channels.into_iter().next().unwrap())
        })
        .collect()
}

#[test]
fn talkoff_corpus_is_at_least_30_minutes_of_speech_and_music() {
    let c = corpus();
    let total: usize = c.iter().map(|(_, x)| x.len()).sum();
    assert!(total >= 30 * 60 * 8000, "{} s", total / 8000);
    let voices = &c[2].1;
    assert!(
        voices.len() >= 26 * 60 * 8000,
        "voices: {} s",
        voices.len() / 8000
    );
    // Loud: peaks within 1.5 dB of full scale (−1 dBFS, then μ-law).
    let peak = voices.iter().map(|&s| (s as i32).abs()).max().unwrap_or(0);
    assert!(peak >= 27_500, "voices peak {peak}");
}

#[test]
fn talkoff_voices_defeat_an_mf_receiver_without_its_guard_frequencies() {
    // The corpus can fail a receiver: the same MF design without the sub-band guards (the
    // design before issue 18) reports vowels whose 4th and 6th harmonics sit on 700 + 1100 Hz.
    use e911_tandem::register::mf::{mf_design, MfReceiver};
    let (_, voices) = corpus().remove(2);
    let mut d = mf_design();
    d.guard_hz = &[];
    let mut rx = MfReceiver::with_design(d);
    let mut n = 0;
    rx.process(&voices, &mut |e| n += e.on as usize);
    assert!(n >= 3, "{n} false MF digits without the guards");
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
