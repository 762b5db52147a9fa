//! WAV in and out: every supported encoding, rates resampled to 8 kHz, and bad input reported
//! with the file name and never a panic.

use std::path::{Path, PathBuf};

use e911_tandem::audio::wav::{read_wav, read_wav_bytes, write_g711_wav, write_wav};
use e911_tandem::dsp::g711::Law;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("e911-wav-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// 1 kHz at amplitude 10000 (16-bit units), 0.25 s, written by hound directly.
fn write_hound(path: &Path, rate: u32, bits: u16, float: bool, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = rate / 4;
    for i in 0..n {
        let v = 10000.0 / 32768.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / rate as f64).sin();
        for c in 0..channels {
            let v = if c == 1 { -v } else { v };
            if float {
                w.write_sample(v as f32).unwrap();
            } else {
                let s = (v * 2f64.powi(bits as i32 - 1)).round() as i32;
                w.write_sample(s.clamp(-(1 << (bits - 1)), (1 << (bits - 1)) - 1))
                    .unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn wav_reads_every_pcm_width_and_float_at_8k() {
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        let p = tmp(&format!("pcm{bits}{float}.wav"));
        write_hound(&p, 8000, bits, float, 1);
        let a = read_wav(&p).unwrap();
        assert_eq!(a.channels.len(), 1);
        assert_eq!(a.channels[0].len(), 2000);
        let r = rms(&a.channels[0][100..1900]);
        let tol = if bits == 8 { 300.0 } else { 5.0 };
        assert!(
            (r - 10000.0 / 2f64.sqrt()).abs() < tol,
            "{bits}-bit float={float}: rms {r}"
        );
    }
}

#[test]
fn wav_resamples_44k1_and_48k_stereo_to_8k() {
    for rate in [44_100, 48_000, 16_000] {
        let p = tmp(&format!("r{rate}.wav"));
        write_hound(&p, rate, 16, false, 2);
        let a = read_wav(&p).unwrap();
        assert_eq!(a.source_rate, rate);
        assert_eq!(a.channels.len(), 2);
        assert_eq!(a.channels[0].len(), 2000, "{rate}");
        let r = rms(&a.channels[1][200..1800]);
        assert!((r - 7071.0).abs() < 100.0, "{rate}: rms {r}");
    }
}

#[test]
fn wav_reads_mulaw_and_alaw() {
    let x: Vec<i16> = (0..800)
        .map(|i| ((i as f64 * 0.7).sin() * 12000.0) as i16)
        .collect();
    for law in [Law::Ulaw, Law::Alaw] {
        let p = tmp(&format!("{law:?}.wav"));
        write_g711_wav(&p, &[x.clone(), x.clone()], law).unwrap();
        let a = read_wav(&p).unwrap();
        assert_eq!(a.channels.len(), 2);
        let want: Vec<i16> = x.iter().map(|&v| law.round_trip(v)).collect();
        assert_eq!(a.channels[0], want);
    }
}

#[test]
fn wav_write_then_read_is_exact_at_8k() {
    let x: Vec<i16> = (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
    let p = tmp("rt.wav");
    write_wav(&p, std::slice::from_ref(&x), 8000).unwrap();
    assert_eq!(read_wav(&p).unwrap().channels[0], x);
}

fn err_of(bytes: &[u8]) -> String {
    read_wav_bytes(Path::new("in.wav"), bytes)
        .unwrap_err()
        .to_string()
}

#[test]
fn wav_bad_input_names_the_file_and_the_problem() {
    assert!(err_of(b"").contains("in.wav: empty file"));
    assert!(err_of(b"hello, this is not audio at all").contains("in.wav: not a WAV file"));
    // A fmt chunk with format tag 2 (MS ADPCM).
    let p = tmp("adpcm.wav");
    write_hound(&p, 8000, 16, false, 1);
    let mut b = std::fs::read(&p).unwrap();
    b[20] = 2;
    let e = err_of(&b);
    assert!(e.contains("in.wav") && e.contains("unsupported"), "{e}");
    // Zero channels.
    let mut b = std::fs::read(&p).unwrap();
    b[22] = 0;
    let e = err_of(&b);
    assert!(
        e.contains("in.wav") && (e.contains("channel") || e.contains("bad WAV")),
        "{e}"
    );
}

#[test]
fn wav_truncated_keeps_complete_frames_and_says_so() {
    let p = tmp("trunc.wav");
    write_hound(&p, 8000, 16, false, 2);
    let b = std::fs::read(&p).unwrap();
    let cut = &b[..b.len() - 1001]; // ends mid-frame
    let a = read_wav_bytes(Path::new("t.wav"), cut).unwrap();
    let d = a.damaged.expect("truncation must be reported");
    assert!(d.contains("t.wav") && d.contains("truncated"), "{d}");
    assert_eq!(a.channels.len(), 2);
    assert_eq!(a.channels[0].len(), a.channels[1].len());
    assert!(a.channels[0].len() >= 1700 && a.channels[0].len() < 2000);
    // G.711 too.
    let q = tmp("trunc-u.wav");
    write_g711_wav(&q, &[vec![100; 800]], Law::Ulaw).unwrap();
    let b = std::fs::read(&q).unwrap();
    let a = read_wav_bytes(Path::new("u.wav"), &b[..b.len() - 300]).unwrap();
    assert!(a.damaged.unwrap().contains("truncated"));
    assert_eq!(a.channels[0].len(), 500);
}

#[test]
fn wav_header_only_garbage_never_panics() {
    // Random corruptions of a valid file: any result is fine but a panic.
    let p = tmp("fuzz.wav");
    write_hound(&p, 8000, 16, false, 1);
    let b = std::fs::read(&p).unwrap();
    let mut state = 7u32;
    for _ in 0..300 {
        let mut c = b[..200].to_vec();
        for _ in 0..4 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let i = (state >> 8) as usize % 60;
            c[i] = (state >> 24) as u8;
        }
        let _ = read_wav_bytes(Path::new("f.wav"), &c);
    }
}

#[test]
fn wav_errors_say_what_kind_of_fault_it_is_and_name_the_file() {
    use e911_tandem::audio::wav::{read_wav, read_wav_bytes, WavError};
    use std::path::Path;
    let p = Path::new("x.wav");
    let missing = read_wav(Path::new("/nonexistent/x.wav")).unwrap_err();
    assert!(matches!(missing, WavError::Io { .. }), "{missing:?}");
    assert!(missing
        .to_string()
        .starts_with("/nonexistent/x.wav: cannot read:"));
    let e = read_wav_bytes(p, b"RIFX1234WAVEfmt ").unwrap_err();
    assert!(matches!(e, WavError::Format { .. }), "{e:?}");
    // A 16-bit PCM header at 2 MHz: unsupported, not a minute of resampling.
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&40u32.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&2_000_000u32.to_le_bytes());
    h.extend_from_slice(&4_000_000u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&4u32.to_le_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    let e = read_wav_bytes(p, &h).unwrap_err();
    assert!(matches!(e, WavError::Unsupported { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("x.wav: sample rate 2000000 Hz"),
        "{e}"
    );
}

#[test]
fn a_script_voice_file_is_read_by_the_edge_and_counted_as_an_input() {
    use e911_tandem::generate::script::{render, Limits};
    let d = std::env::temp_dir().join(format!("e911-voice-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let tone: Vec<i16> = (0..800)
        .map(|i| (8000.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / 8000.0).sin()) as i16)
        .collect();
    e911_tandem::audio::wav::write_wav(&d.join("v.wav"), std::slice::from_ref(&tone), 8000)
        .unwrap();
    let r =
        e911_tandem::files::script("s.txt", "silence 10\nvoice v.wav\n", &d, &Limits::default())
            .unwrap();
    assert_eq!(r.inputs, [d.join("v.wav")]);
    assert_eq!(&r.channels[0][80..880], &tone[..]);
    // Parsing alone reads nothing: a voice line needs the edge's reader.
    let e = render("s.txt", "voice v.wav\n").unwrap_err().to_string();
    assert!(
        e.starts_with("s.txt:1: v.wav: this script may not read files"),
        "{e}"
    );
}

#[test]
fn a_streamed_wav_in_any_read_sizes_is_the_whole_file_converted_at_once() {
    use e911_tandem::audio::resample::resample;
    use e911_tandem::audio::wav::WavStream;
    // 44.1 kHz float stereo, 0.25 s of 1 kHz, written by hound: the stream's 8 kHz samples, read
    // 77, 1000 or 5000 frames at a time, equal the whole-buffer resampler on the same floats.
    let p = tmp("stream44.wav");
    write_hound(&p, 44_100, 32, true, 2);
    let mut r = hound::WavReader::open(&p).unwrap();
    let flat: Vec<f32> = r.samples::<f32>().map(|v| v.unwrap() * 32768.0).collect();
    let chans: Vec<Vec<f32>> = (0..2)
        .map(|c| flat.iter().skip(c).step_by(2).copied().collect())
        .collect();
    let want: Vec<Vec<i16>> = resample(&chans, 44_100, 8000)
        .unwrap()
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
                .collect()
        })
        .collect();
    for size in [77usize, 1000, 5000] {
        let mut s = WavStream::open(&p).unwrap();
        assert_eq!(s.frames() as usize, want[0].len());
        let mut got = vec![Vec::new(); 2];
        let mut buf = vec![Vec::new(); 2];
        while s.read(size, &mut buf).unwrap() > 0 {
            for (g, b) in got.iter_mut().zip(&buf) {
                g.extend_from_slice(b);
            }
        }
        assert!(
            got == want,
            "read {size} at a time: {} frames",
            got[0].len()
        );
        assert_eq!(s.damaged(), None);
    }
    // Cut short: the frames before the cut, and the damage named once the stream knows it.
    let bytes = std::fs::read(&p).unwrap();
    let cut = &bytes[..bytes.len() - 1001];
    let mut s = WavStream::from_bytes(Path::new("cut.wav"), cut).unwrap();
    let mut buf = vec![Vec::new(); 2];
    let mut n = 0;
    loop {
        let k = s.read(1000, &mut buf).unwrap();
        if k == 0 {
            break;
        }
        n += k;
    }
    assert!(n > 0 && n < want[0].len(), "{n}");
    let d = s.damaged().expect("a cut file is damaged");
    assert!(d.starts_with("cut.wav: truncated"), "{d}");
}
