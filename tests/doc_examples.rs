//! The README's and docs' examples are what the tool prints: every ```console block in README.md
//! and docs/*.md is a command (`$ e911 …`, optionally `| head -N`) run from the repository root,
//! and the lines after it are its standard output, exactly.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(file, command line, expected output)` of every console block.
fn examples() -> Vec<(String, String, Vec<String>)> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut lines = text.lines();
        while let Some(l) = lines.next() {
            if l.trim() != "```console" {
                continue;
            }
            let cmd = lines.next().unwrap_or_default();
            let cmd = cmd
                .strip_prefix("$ ")
                .unwrap_or_else(|| panic!("{}: a console block starts with `$ `", f.display()));
            let want: Vec<String> = lines
                .by_ref()
                .take_while(|l| l.trim() != "```")
                .map(str::to_string)
                .collect();
            out.push((f.display().to_string(), cmd.to_string(), want));
        }
    }
    out
}

/// Run `cmd` (`e911 …`, then any of `| head -N` and `| tail -n +K`, applied in order).
fn run(cmd: &str, dir: &Path) -> Vec<String> {
    let mut parts = cmd.split(" | ");
    let cmd = parts.next().unwrap();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(words[0], "e911", "{cmd}");
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .current_dir(dir)
        .args(&words[1..])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for f in parts {
        if let Some(n) = f.strip_prefix("head -") {
            lines.truncate(n.trim().parse().unwrap());
        } else if let Some(k) = f.strip_prefix("tail -n +") {
            let k: usize = k.trim().parse().unwrap();
            lines.drain(..(k - 1).min(lines.len()));
        } else {
            panic!("{cmd}: `| {f}` is not a filter the doc test knows (head -N, tail -n +K)");
        }
    }
    lines
}

#[test]
fn every_console_example_in_the_readme_and_docs_prints_what_it_shows() {
    let ex = examples();
    assert!(
        ex.len() >= 3,
        "the README's simulate and detect examples and location.md's msag example"
    );
    for (file, cmd, want) in ex {
        let got = run(&cmd, &root());
        assert_eq!(got, want, "{file}: `{cmd}`");
    }
}

#[test]
fn no_doc_cites_a_file_outside_the_repository() {
    for f in std::fs::read_dir(root().join("docs")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(!t.contains("shared/spec"), "{}", p.display());
        }
    }
    let t = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(!t.contains("shared/spec"));
}

/// Finding 2 (issue 29): the latency figures the README, docs/signalling.md and
/// docs/performance.md quote are the ones `e911 bench --no-throughput` prints (counted in
/// samples: the same on any machine), and a missed target is flagged in that output.
#[test]
fn finding_02_documented_latency_figures_are_the_programs() {
    let out = run("e911 bench --no-throughput", &root());
    // Each row: name → (n, p50, p95, p99, max), as printed (one decimal).
    let row = |name: &str| -> (String, [String; 4]) {
        let l = out
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row `{name}` in {out:#?}"));
        let w: Vec<&str> = l.split_whitespace().collect();
        let after = |k: &str| w[w.iter().position(|x| *x == k).unwrap() + 1].to_string();
        let n = w.iter().find_map(|x| x.strip_prefix("n=")).unwrap();
        (
            n.to_string(),
            [after("p50"), after("p95"), after("p99"), after("max")],
        )
    };
    let grouped = |n: &str| {
        let v: usize = n.parse().unwrap();
        if v >= 1000 {
            format!("{} {:03}", v / 1000, v % 1000)
        } else {
            v.to_string()
        }
    };
    let (mf_n, [mf50, mf95, mf99, mfmax]) = row("MF, skew ≤ 4 ms");
    let (kp_n, [kp50, kp95, kp99, kpmax]) = row("MF KP only");
    let (s6_n, [s650, s695, s699, s6max]) = row("MF, skew 6 ms");
    let (d_n, [d50, d95, d99, dmax]) = row("DTMF, skew ≤ 3 ms");
    let doc = |f: &str| std::fs::read_to_string(root().join(f)).unwrap();
    let (readme, sig, perf) = (
        doc("README.md"),
        doc("docs/signalling.md"),
        doc("docs/performance.md"),
    );
    let must = |text: &str, file: &str, s: String| {
        assert!(
            text.contains(&s),
            "{file} does not quote the program's `{s}`"
        )
    };
    must(&readme, "README.md", format!(
        "p50 {mf50} ms, p99 {mf99} ms, max {mfmax} ms (skew ≤ 4 ms); max {s6max} ms at 6 ms skew | p50 {d50} ms, p99 {d99} ms, max {dmax} ms"
    ));
    must(&sig, "docs/signalling.md", format!(
        "p50 {mf50}, p99 {mf99}, max {mfmax} ms (skew ≤ 4 ms, n = {}); max {s6max} ms at 6 ms skew; KP p50 {kp50}, max {kpmax} ms | p50 {d50}, p99 {d99}, max {dmax} ms (n = {}",
        grouped(&mf_n), grouped(&d_n)
    ));
    must(
        &sig,
        "docs/signalling.md",
        format!("| p50 {mf50}, p99 {mf99}, max {mfmax} ms | p50 43 ms |"),
    );
    must(
        &perf,
        "docs/performance.md",
        format!(
            "| MF, skew ≤ 4 ms | {} | {mf50} ms | {mf95} | {mf99} | {mfmax} |",
            grouped(&mf_n)
        ),
    );
    must(
        &perf,
        "docs/performance.md",
        format!(
            "| MF KP only | {} | {kp50} | {kp95} | {kp99} | {kpmax} |",
            grouped(&kp_n)
        ),
    );
    must(
        &perf,
        "docs/performance.md",
        format!(
            "| MF, skew 6 ms | {} | {s650} | {s695} | {s699} | {s6max} |",
            grouped(&s6_n)
        ),
    );
    must(
        &perf,
        "docs/performance.md",
        format!(
            "| DTMF, skew ≤ 3 ms | {} | {d50} | {d95} | {d99} | {dmax} |",
            grouped(&d_n)
        ),
    );
    // A target missed is said in the output (the printed figure can round to the limit: the
    // program's own flag decides), and the docs say the same.
    let missed = out.iter().any(|l| l.contains("TARGET MISSED: DTMF p50"));
    assert!(missed || d50.parse::<f64>().unwrap() <= 26.0, "{out:#?}");
    assert_eq!(
        out.iter().any(|l| l.contains("every target met")),
        !missed,
        "{out:#?}"
    );
    assert_eq!(
        readme.contains("(target p50 ≤ 26: not yet met)"),
        missed,
        "README.md"
    );
    assert_eq!(
        sig.contains("the p50 target, ≤ 26, not yet met"),
        missed,
        "signalling.md"
    );
    assert_eq!(
        perf.contains("p50 ≤ 26 (**missed by"),
        missed,
        "performance.md"
    );
}

/// Finding 20 (issue 29): messages the docs quote in prose are the program's, word for word:
/// docs/generate.md's script error and docs/datafill.md's partial-office error, made again
/// from inputs that provoke them.
#[test]
fn finding_20_quoted_messages_are_the_programs() {
    let d = std::env::temp_dir().join(format!("e911-doc-msgs-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_e911"))
            .current_dir(&d)
            .args(args)
            .output()
            .unwrap()
    };
    let doc = |f: &str| std::fs::read_to_string(root().join(f)).unwrap();
    // "Errors name the script and line: `spill.txt:2: `12X` is not an MF signal`."
    std::fs::write(d.join("spill.txt"), "silence 100\nmf 12X\n").unwrap();
    let o = run(&["generate", "spill.txt", "-o", "out.wav"]);
    let err = String::from_utf8_lossy(&o.stderr);
    let quoted = "spill.txt:2: `12X` is not an MF signal";
    assert!(doc("docs/generate.md").contains(&format!("`{quoted}`")));
    assert!(err.contains(quoted), "{err}");
    // "an empty or partial datafill is an error (`e.dat:1: TRKGRP: no tuples: …`)"
    let cary = doc("docs/datafill/cary.dat");
    std::fs::write(d.join("e.dat"), &cary[..cary.find("TABLE TRKGRP").unwrap()]).unwrap();
    let o = run(&["datafill", "check", "e.dat"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let quoted = "e.dat:1: TRKGRP: no tuples: ";
    assert!(doc("docs/datafill.md").contains(&format!("`{quoted}…`")));
    assert!(out.contains(quoted), "{out}");
    assert_eq!(o.status.code(), Some(1));
}
