//! What a command may write: never one of its inputs (not even with `--force`), and not a file
//! that already exists unless `--force` — checked before the run starts, so a long run cannot
//! end by refusing to save what it decided.

use std::path::{Path, PathBuf};

/// The same file on disk (by device and inode where the file exists, else by path).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Refuse `outputs` that are one of `inputs`, or that exist without `force`. `flag` names the
/// option that chose them (for the message).
pub fn check(
    flag: &str,
    outputs: &[PathBuf],
    inputs: &[PathBuf],
    force: bool,
) -> anyhow::Result<()> {
    for o in outputs {
        if let Some(i) = inputs.iter().find(|i| same_file(o, i)) {
            anyhow::bail!(
                "{}: {flag} would overwrite the input {}; choose another output",
                o.display(),
                i.display()
            );
        }
        // A device or pipe (`-o /dev/null`) is not a file to keep.
        if !force && std::fs::metadata(o).is_ok_and(|m| m.is_file()) {
            anyhow::bail!(
                "{}: {flag}: the file exists; remove it or add --force",
                o.display()
            );
        }
    }
    Ok(())
}

/// The files a `--out DIR` run writes: `calls.jsonl` and a WAV per leg and direction.
pub fn leg_files(dir: &Path, legs: &[String], prefixes: &[&str]) -> Vec<PathBuf> {
    let mut v = vec![dir.join("calls.jsonl")];
    for leg in legs {
        for p in prefixes {
            v.push(dir.join(format!("{p}-{leg}.wav")));
        }
    }
    v
}

/// `--out DIR` must be a directory (or not exist yet).
pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("{}: --out must be a directory", dir.display());
    }
    Ok(())
}
