//! Golden fixtures: each WAV in `audio-fixtures/` decodes to the ground truth its generator
//! wrote beside it (the truth comes from the synthesiser's placement, not from a receiver).

use std::path::Path;

use e911_tandem::audio::wav::read_wav;
use e911_tandem::detect::{detect_all, Kinds};

#[test]
fn fixture_cary_trunk_decodes_to_its_truth() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/spills");
    let audio = read_wav(&dir.join("cary-trunk.wav")).unwrap();
    let events = detect_all(&audio.channels, Kinds::ALL, 0);
    let truth: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("cary-trunk.truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), truth.len());
    for (e, t) in events.iter().zip(&truth) {
        assert_eq!(e.channel as u64, t["channel"].as_u64().unwrap());
        assert_eq!(e.kind, t["kind"].as_str().unwrap());
        assert_eq!(e.signal, t["signal"].as_str().unwrap());
        let start = t["start_ms"].as_f64().unwrap();
        let end = t["end_ms"].as_f64().unwrap();
        assert!((e.start_ms - start).abs() <= 3.0, "{e:?} vs {t}");
        assert!((e.end_ms - end).abs() <= 8.0, "{e:?} vs {t}");
        let latency = e.reported_ms - start;
        let limit = if e.kind == "mf" { 22.0 } else { 30.0 };
        assert!(latency > 0.0 && latency <= limit, "{e:?}");
    }
}

#[test]
fn detect_streamed_from_a_wav_equals_detect_on_the_whole_decoded_file() {
    use e911_tandem::detect::{detect_stream, Watch};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures/talkoff");
    let speech = read_wav(&dir.join("speech.wav"))
        .unwrap()
        .channels
        .remove(0);
    let (mix, truth) = e911_tandem::cli::bench::trunk_mix(&speech, 5, 20.0);
    let wav = std::env::temp_dir().join(format!("e911-stream-{}.wav", std::process::id()));
    e911_tandem::audio::wav::write_wav(&wav, &mix, 8000).unwrap();
    // Whole file, channel by channel (the reference)...
    let b = detect_all(&mix, Kinds::ALL, 1);
    // ...and streamed in blocks from the file: each channel's events the same, in order.
    let mut s = e911_tandem::audio::wav::WavStream::open(&wav).unwrap();
    let mut a = Vec::new();
    let stopped = detect_stream(&mut s, Kinds::ALL, 2, &Watch::default(), &mut |e| {
        a.push(e.clone());
        Ok(())
    })
    .unwrap();
    std::fs::remove_file(&wav).ok();
    assert_eq!(stopped, None);
    assert_eq!(a.len(), b.len());
    for c in 0..mix.len() {
        let of = |v: &[e911_tandem::detect::Detection]| {
            v.iter()
                .filter(|e| e.channel == c)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(of(&a) == of(&b), "channel {c} differs");
    }
    let placed: usize = truth.iter().map(|t| t.len()).sum();
    assert!(
        a.len() >= placed,
        "{} detections for {placed} signals",
        a.len()
    );
}
