//! The office a network service answers from (`sip serve`, `ecrf serve`): the embedded Cary, NC
//! office and its MSAG, or `--datafill` with `--msag`; `--msag` alone replaces the embedded
//! office's MSAG. The files read are the command's inputs (no output may overwrite them).

use std::path::{Path, PathBuf};

use crate::location::msag::Msag;
use crate::sim::scenario::{builtin, Scenario};
use crate::tandem::tables::Office;

pub struct OfficeData {
    pub office: Office,
    pub msag: Msag,
    /// The MSAG's file, or `builtin:datafill/cary.msag`.
    pub msag_name: String,
    /// Every file read.
    pub inputs: Vec<PathBuf>,
    /// The embedded office (no `--datafill`).
    pub embedded: bool,
}

/// Load the office; `what_for` says why `--datafill` needs `--msag` (in its error).
pub fn load(
    datafill: Option<&Path>,
    msag: Option<&Path>,
    what_for: &str,
) -> anyhow::Result<OfficeData> {
    let mut inputs = Vec::new();
    let office = match datafill {
        None => Scenario::default_office().office,
        Some(p) => {
            let loaded = crate::files::datafill(p).map_err(anyhow::Error::msg)?;
            if let Some(e) = loaded.errors().next() {
                anyhow::bail!("{e} (run `e911 datafill check` for every problem)");
            }
            inputs.extend(loaded.files.iter().cloned());
            if msag.is_none() {
                anyhow::bail!("--datafill needs --msag ({what_for})");
            }
            loaded.office
        }
    };
    let (msag_name, text) = match msag {
        Some(m) => {
            inputs.push(m.to_path_buf());
            let t =
                std::fs::read_to_string(m).map_err(|e| anyhow::anyhow!("{}: {e}", m.display()))?;
            (m.display().to_string(), t)
        }
        None => {
            let (_, t) = builtin("datafill/cary.msag").map_err(anyhow::Error::msg)?;
            ("builtin:datafill/cary.msag".to_string(), t)
        }
    };
    let msag = Msag::parse(&text)
        .map_err(|e| anyhow::anyhow!("{msag_name}:{}", e.first().cloned().unwrap_or_default()))?;
    Ok(OfficeData {
        office,
        msag,
        msag_name,
        inputs,
        embedded: datafill.is_none(),
    })
}
