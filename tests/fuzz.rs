//! A mutation fuzzer over every parser a user feeds files to: datafill, scenario, generate
//! script, WAV header, ALI, MSAG, PIDF-LO and the Lync location CSVs. Each starts from the
//! bundled fixtures and mutates them (bit flips, byte and line edits, hostile numbers such as
//! `nan`, `inf`, `-1`, `1e308`, `99999999999999`, huge counts, truncation, splices). Every input
//! must be accepted or rejected with messages of one line that name the file — never a panic.
//!
//! The suite runs `E911_FUZZ_CASES` inputs per parser (default 300); `scripts/fuzz` runs
//! 10 000 each and reports the slowest input. A panicking input is written to
//! `target/fuzz-crashes/` to be replayed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use e911_tandem::audio::wav::read_wav_bytes;
use e911_tandem::generate::script::Limits;
use e911_tandem::location::ali::Ali;
use e911_tandem::location::lis::{Lis, Table};
use e911_tandem::location::msag::Msag;
use e911_tandem::location::pidf::PidfLo;
use e911_tandem::sim::scenario::Scenario;
use e911_tandem::tandem::datafill;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases() -> usize {
    std::env::var("E911_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Values that break naive numeric handling.
const HOSTILE: &[&str] = &[
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e308",
    "-1e308",
    "99999999999999",
    "18446744073709551616",
    "4294967296",
    "65535",
    "1024",
    "86400000",
    "0.0000001",
    "",
    "\"\"",
    "#",
    ",",
    "=",
    "\u{0}",
    "ÿ",
    "KP",
    "ST",
    "*",
    "[",
    "]",
    "<",
    ">",
    "&amp;",
    "\u{feff}",
];

/// One mutation of `seed` bytes.
fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        match rng.gen_range(0..9) {
            // Flip a bit.
            0 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            // Replace a byte.
            1 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] = rng.gen();
            }
            // Delete a span.
            2 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                let n = rng.gen_range(1..=16).min(v.len() - i);
                v.drain(i..i + n);
            }
            // Truncate.
            3 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v.truncate(i);
            }
            // Replace a token (a run of non-space, non-separator bytes) with a hostile value.
            4 | 5 => {
                if v.is_empty() {
                    continue;
                }
                let i = rng.gen_range(0..v.len());
                let sep = |b: u8| b.is_ascii_whitespace() || b",=\"<>".contains(&b);
                let mut a = i;
                while a > 0 && !sep(v[a - 1]) {
                    a -= 1;
                }
                let mut b = i;
                while b < v.len() && !sep(v[b]) {
                    b += 1;
                }
                let h = HOSTILE[rng.gen_range(0..HOSTILE.len())].as_bytes();
                v.splice(a..b, h.iter().copied());
            }
            // Duplicate a line.
            6 => {
                let lines: Vec<&[u8]> = v.split(|&b| b == b'\n').collect();
                if lines.is_empty() {
                    continue;
                }
                let k = rng.gen_range(0..lines.len());
                let mut out = Vec::new();
                for (j, l) in lines.iter().enumerate() {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                    if j == k {
                        out.extend_from_slice(l);
                        out.push(b'\n');
                    }
                }
                v = out;
            }
            // Delete a line.
            7 => {
                let lines: Vec<&[u8]> = v.split(|&b| b == b'\n').collect();
                if lines.len() < 2 {
                    continue;
                }
                let k = rng.gen_range(0..lines.len());
                v = lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .flat_map(|(_, l)| l.iter().copied().chain([b'\n']))
                    .collect();
            }
            // Insert hostile text at a random place.
            _ => {
                let i = rng.gen_range(0..=v.len());
                let h = HOSTILE[rng.gen_range(0..HOSTILE.len())].as_bytes();
                v.splice(i..i, h.iter().copied());
            }
        }
    }
    v
}

/// Run `check` on `cases()` mutations of each seed; fail on any panic or bad message.
fn fuzz(what: &str, seeds: &[Vec<u8>], check: &dyn Fn(&[u8]) -> Result<(), String>) {
    let mut rng = StdRng::seed_from_u64(0xE911 ^ what.len() as u64);
    let n = cases();
    let mut slowest = (Duration::ZERO, Vec::new());
    let mut rejected = 0usize;
    for k in 0..n {
        let input = mutate(&mut rng, &seeds[k % seeds.len()]);
        let t0 = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| check(&input)));
        let dt = t0.elapsed();
        if dt > slowest.0 {
            slowest = (dt, input.clone());
        }
        match r {
            Ok(Ok(())) => {}
            Ok(Err(msg)) if msg.starts_with("rejected") => rejected += 1,
            Ok(Err(msg)) => {
                save(what, k, &input);
                panic!("{what}: input {k}: {msg}");
            }
            Err(_) => {
                save(what, k, &input);
                panic!("{what}: input {k} panicked (saved under target/fuzz-crashes)");
            }
        }
    }
    if std::env::var("E911_FUZZ_REPORT").is_ok() {
        save(&format!("slowest-{what}"), 0, &slowest.1);
        eprintln!(
            "fuzz {what}: {n} inputs, 0 panics, {rejected} rejected with one-line messages, slowest {:.1} ms",
            slowest.0.as_secs_f64() * 1e3
        );
    }
}

fn save(what: &str, k: usize, input: &[u8]) {
    let dir = root().join("target/fuzz-crashes");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{what}-{k}")), input);
}

/// Each message is one line and names `file`; the result says "rejected" for the tally.
fn one_line_naming(file: &str, messages: &[String]) -> Result<(), String> {
    for m in messages {
        if m.contains('\n') || m.contains('\r') {
            return Err(format!("message spans lines: {m:?}"));
        }
        if !m.contains(file) {
            return Err(format!("message does not name {file}: {m:?}"));
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err("rejected".into())
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read_seed(rel: &str) -> Vec<u8> {
    std::fs::read(root().join(rel)).unwrap()
}

#[test]
fn fuzz_datafill_parser_never_panics_and_names_the_file() {
    let seeds = [read_seed("docs/datafill/cary.dat")];
    fuzz("datafill", &seeds, &|b| {
        let loaded = datafill::load(&[(PathBuf::from("fuzz.dat"), text(b))]);
        let msgs: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
        one_line_naming("fuzz.dat", &msgs)
    });
}

#[test]
fn fuzz_scenario_parser_never_panics_and_names_the_file() {
    let seeds = [read_seed("docs/scenarios/cary.toml")];
    let docs = root().join("docs/scenarios");
    fuzz("scenario", &seeds, &|b| {
        let r = Scenario::parse("fuzz.toml", &text(b), &|rel| {
            // Only the bundled files: a mutated path must not reach the rest of the disk.
            let p = docs.join(rel);
            if !rel.starts_with("../") || rel.contains("/../") {
                return Err(format!("{rel}: not a bundled file"));
            }
            std::fs::read_to_string(&p)
                .map(|t| (p.clone(), t))
                .map_err(|e| format!("{}: cannot read: {e}", p.display()))
        });
        match r.map_err(|e| e.to_string()) {
            Ok(sc) => {
                // Whatever is accepted is bounded: a day at most, and trunks a run can hold.
                assert!(sc.duration <= 8000 * 86_400 * 3, "{}", sc.duration);
                assert!(sc.trunks.iter().all(|t| t.1 <= 4096));
                Ok(())
            }
            // Errors about a file the scenario names start with that file.
            Err(e) if e.starts_with(&*docs.join("..").to_string_lossy()) => {
                one_line_naming("docs/", &[e])
            }
            Err(e) => one_line_naming("fuzz.toml", &[e]),
        }
    });
}

#[test]
fn fuzz_generate_script_parser_never_panics_and_names_the_file() {
    let seeds = [
        read_seed("audio-fixtures/spills/cary-trunk.txt"),
        read_seed("audio-fixtures/spills/cary-eo.txt"),
    ];
    let base = root().join("audio-fixtures/spills");
    // A small memory limit keeps each accepted render short.
    let limits = Limits {
        memory_bytes: 16 << 20,
    };
    fuzz("script", &seeds, &|b| match e911_tandem::files::script(
        "fuzz.txt",
        &text(b),
        &base,
        &limits,
    ) {
        Ok(r) => {
            assert!(r.channels.iter().all(|c| c.len() as u64 * 10 <= 16 << 20));
            Ok(())
        }
        Err(e) => one_line_naming("fuzz.txt", &[e.to_string()]),
    });
}

#[test]
fn fuzz_wav_header_parser_never_panics_and_names_the_file() {
    // Headers matter: keep the seeds short (header and a few frames) so mutations land there.
    let mut seeds = Vec::new();
    for f in [
        "audio-fixtures/spills/cary-trunk.wav",
        "audio-fixtures/talkoff/music.wav",
    ] {
        let mut b = read_seed(f);
        b.truncate(44 + 64);
        // As cut (a truncated file), and whole again
        seeds.push(b.clone());
        // A whole file again: RIFF and data sizes that match the shortened length.
        let len = b.len() as u32;
        b[4..8].copy_from_slice(&(len - 8).to_le_bytes());
        if &b[36..40] == b"data" {
            b[40..44].copy_from_slice(&(len - 44).to_le_bytes());
        }
        seeds.push(b);
    }
    let path = Path::new("fuzz.wav");
    fuzz("wav", &seeds, &|b| {
        let mut msgs = Vec::new();
        match read_wav_bytes(path, b) {
            Ok(a) => msgs.extend(a.damaged.clone()),
            Err(e) => msgs.push(e.to_string()),
        }
        one_line_naming("fuzz.wav", &msgs)
    });
}

#[test]
fn fuzz_ali_parser_never_panics_and_names_the_file() {
    let seeds = [read_seed("docs/datafill/cary.ali")];
    fuzz("ali", &seeds, &|b| {
        let (_, errors) = Ali::parse(&text(b));
        let msgs: Vec<String> = errors.iter().map(|e| format!("fuzz.ali:{e}")).collect();
        one_line_naming("fuzz.ali", &msgs)
    });
}

#[test]
fn fuzz_msag_parser_never_panics_and_names_the_file() {
    let seeds = [read_seed("docs/datafill/cary.msag")];
    fuzz("msag", &seeds, &|b| match Msag::parse(&text(b)) {
        Ok(_) => Ok(()),
        Err(errors) => {
            let msgs: Vec<String> = errors.iter().map(|e| format!("fuzz.msag:{e}")).collect();
            one_line_naming("fuzz.msag", &msgs)
        }
    });
}

#[test]
fn fuzz_pidf_lo_parser_never_panics_and_names_the_file() {
    let seeds = [
        read_seed("docs/location/lync-pidf.xml"),
        read_seed("docs/location/unvalidated-pidf.xml"),
    ];
    fuzz("pidf", &seeds, &|b| match PidfLo::parse(&text(b)) {
        Ok(_) => Ok(()),
        Err(e) => one_line_naming("fuzz.xml", &[format!("fuzz.xml: {e}")]),
    });
}

#[test]
fn fuzz_lync_csv_parser_never_panics_and_names_the_file() {
    let tables = [
        ("docs/location/acme-wap.csv", Table::Wap),
        ("docs/location/acme-port.csv", Table::Port),
        ("docs/location/acme-switch.csv", Table::Switch),
        ("docs/location/acme-subnet.csv", Table::Subnet),
        ("docs/location/acme-mac.csv", Table::Mac),
    ];
    for (file, table) in tables {
        fuzz(
            &format!("lync-{table:?}"),
            &[read_seed(file)],
            &|b| match Lis::default().load(table, &text(b)) {
                Ok(_) => Ok(()),
                Err(errors) => {
                    let msgs: Vec<String> =
                        errors.iter().map(|e| format!("fuzz.csv:{e}")).collect();
                    one_line_naming("fuzz.csv", &msgs)
                }
            },
        );
    }
}
