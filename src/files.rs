//! The edge that reads files for the parsers: datafill (a file, or every `*.dat` file of a
//! directory), scenarios (with the files they name) and `generate` scripts (with their `voice`
//! files). Parsing takes text (`tandem::datafill`, `sim::scenario`, `generate::script`); reading,
//! and what can go wrong reading, is here.

use std::path::{Path, PathBuf};

use crate::generate::script::{render_limited, Limits, Rendered, ScriptError};
pub use crate::sim::scenario::ScenarioError;
use crate::sim::scenario::{builtin, Scenario, BUILTIN};
use crate::tandem::datafill::{load, Loaded};

/// Why datafill could not be read (problems in what was read are `Loaded::problems`).
#[derive(Debug, thiserror::Error)]
pub enum DatafillError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no *.dat files", .0.display())]
    NoDatFiles(PathBuf),
}

/// Render a `generate` script (`name` labels errors) whose `voice` files are read relative to
/// `base` (WAV, any format: its first channel at 8 kHz).
pub fn script(
    name: &str,
    text: &str,
    base: &Path,
    limits: &Limits,
) -> Result<Rendered, ScriptError> {
    render_limited(name, text, limits, &|rel| {
        let p = base.join(rel);
        let audio = crate::audio::wav::read_wav(&p).map_err(|e| e.to_string())?;
        if let Some(d) = audio.damaged {
            return Err(d);
        }
        let first = audio.channels.into_iter().next().unwrap_or_default();
        Ok((p, first))
    })
}

/// Load datafill from a file, or from every `*.dat` file of a directory (in name order), and
/// check that it makes an office.
pub fn datafill(path: &Path) -> Result<Loaded, DatafillError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DatafillError::Io { path, source }
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io(path))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "dat"))
            .collect();
        v.sort();
        if v.is_empty() {
            return Err(DatafillError::NoDatFiles(path.to_path_buf()));
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut sources = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(io(&f))?;
        sources.push((f, text));
    }
    let mut loaded = load(&sources);
    loaded.require_office();
    Ok(loaded)
}

/// Load a scenario file; the files it names are relative to it, or `builtin:NAME` for the
/// bundled copies (`builtin:datafill/cary.dat`, `builtin:location/acme-wap.csv`, …).
pub fn scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let read_files = std::cell::RefCell::new(vec![path.to_path_buf()]);
    let mut sc = Scenario::parse(&path.display().to_string(), &text, &|rel| {
        if let Some(name) = rel.strip_prefix(BUILTIN) {
            return builtin(name);
        }
        let p = dir.join(rel);
        read_files.borrow_mut().push(p.clone());
        std::fs::read_to_string(&p)
            .map(|t| (p.clone(), t))
            .map_err(|e| format!("{}: cannot read: {e}", p.display()))
    })?;
    sc.inputs = read_files.into_inner();
    Ok(sc)
}
