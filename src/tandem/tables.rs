//! The office tables of a DMS-100-style E911 tandem, as loaded and validated by
//! [`super::datafill`] (`docs/call-processing.md`, seed `003`: table E911ESN).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Format of the regenerated ANI towards a PSAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AniFormat {
    /// `KP I NXX-XXXX ST`, I = NPD (+4 with flash), 8 = test call.
    OneDigit,
    /// `KP NPA NXX-XXXX ST`.
    ThreeDigit,
}

/// Supervision on a trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supv {
    Sf,
    None,
}

/// How called digits arrive on an E911 trunk group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Mf,
    Dp,
}

/// Called digits expected on seizure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Called {
    D911,
    D11,
    D1,
    /// Direct seizure: no called digits.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psap {
    pub name: String,
    pub ani_format: AniFormat,
    pub supv: Supv,
    pub positions: u32,
    /// Overflow PSAP, or `None` for NONE.
    pub overflow: Option<String>,
    pub agency: String,
    /// Where it was datafilled.
    pub file: PathBuf,
    pub line: usize,
}

/// One E911ESN row: an emergency service zone's flash field, primary PSAP and PSAP1–PSAP6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Esn {
    pub esn: u16,
    pub flash: bool,
    pub primary: String,
    /// PSAP1 … PSAP6; `None` = NONE.
    pub secondary: [Option<String>; 6],
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkGroup {
    pub key: String,
    pub sig: Sig,
    pub supv: Supv,
    pub called: Called,
    /// `false`: a non-ANI office (substitute ANI).
    pub ani: bool,
    pub npa: u16,
    pub default_esn: u16,
    /// Two-digit emergency service central office number.
    pub esco: u8,
    pub ani_delay_ms: u32,
    pub line: usize,
}

/// A whole office's datafill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Office {
    pub psaps: BTreeMap<String, Psap>,
    /// NPD (0–3) → SNPA.
    pub npd: BTreeMap<u8, u16>,
    pub esns: BTreeMap<u16, Esn>,
    /// 10-digit TN → ESN.
    pub srdb: BTreeMap<u64, u16>,
    pub trunk_groups: BTreeMap<String, TrunkGroup>,
    /// MF receivers in the office's pool (OFCENG `MF_RECEIVERS`); `None`: one for every
    /// trunk (a seizure never waits).
    pub mf_receivers: Option<u32>,
}

impl Office {
    /// The NPD of an area code, if datafilled.
    pub fn npd_of(&self, npa: u16) -> Option<u8> {
        self.npd.iter().find(|(_, &s)| s == npa).map(|(&n, _)| n)
    }
}
