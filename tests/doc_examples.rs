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

fn run(cmd: &str, dir: &Path) -> Vec<String> {
    let (cmd, head) = match cmd.split_once(" | head -") {
        Some((c, n)) => (c, Some(n.trim().parse::<usize>().unwrap())),
        None => (cmd, None),
    };
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
    let lines = text.lines().map(str::to_string);
    match head {
        Some(n) => lines.take(n).collect(),
        None => lines.collect(),
    }
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
