//! Scenario files for `e911 simulate` (TOML; `docs/simulate.md`): the office datafill and ALI, how
//! many trunks each end office has, the PSAP attendants' defaults, and the calls — when, on which
//! trunk group, with what ANI (or ANI trouble), how long, with what voice and impairments, and
//! what the answering attendant does (transfer, hang up).
//!
//! Parsing validates everything against the office before anything runs; errors name the file,
//! the call and the field.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

mod call;
pub use call::parse_voice;

use crate::dsp::g711::Law;
use crate::generate::sender::MfTiming;
use crate::location::ali::Ali;
use crate::location::msag::Msag;
use crate::register::mf::MfSignal;
use crate::tandem::tables::{Called, Office, TrunkGroup};
use crate::units::{ms_to_samples, samples_to_ms};

/// The embedded default office: the seed's Cary, NC example grown to a few ESNs, trunk groups
/// and calls.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../docs/scenarios/cary.toml");
const EMBEDDED: [(&str, &str); 10] = [
    (
        "../datafill/cary.dat",
        include_str!("../../../docs/datafill/cary.dat"),
    ),
    (
        "../datafill/cary.ali",
        include_str!("../../../docs/datafill/cary.ali"),
    ),
    (
        "../datafill/cary.msag",
        include_str!("../../../docs/datafill/cary.msag"),
    ),
    (
        "../location/acme-wap.csv",
        include_str!("../../../docs/location/acme-wap.csv"),
    ),
    (
        "../location/acme-port.csv",
        include_str!("../../../docs/location/acme-port.csv"),
    ),
    (
        "../location/acme-switch.csv",
        include_str!("../../../docs/location/acme-switch.csv"),
    ),
    (
        "../location/acme-subnet.csv",
        include_str!("../../../docs/location/acme-subnet.csv"),
    ),
    (
        "../location/acme-mac.csv",
        include_str!("../../../docs/location/acme-mac.csv"),
    ),
    (
        "../location/lync-pidf.xml",
        include_str!("../../../docs/location/lync-pidf.xml"),
    ),
    (
        "../location/unvalidated-pidf.xml",
        include_str!("../../../docs/location/unvalidated-pidf.xml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    datafill: String,
    ali: Option<String>,
    msag: Option<String>,
    duration_ms: Option<f64>,
    trunks: BTreeMap<String, usize>,
    enterprise: Option<super::enterprise::EnterpriseFile>,
    #[serde(default)]
    sip_call: Vec<super::enterprise::SipCallFile>,
    #[serde(default)]
    callback: Vec<super::enterprise::CallbackFile>,
    #[serde(default)]
    attendant: Attendant,
    #[serde(default, rename = "call")]
    calls: Vec<CallFile>,
}

/// What every PSAP attendant model does unless a call says otherwise (milliseconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Attendant {
    /// Wink this long after the tandem seizes the position…
    pub wink_delay_ms: f64,
    /// …for this long (100–350 ms accepted by the tandem).
    pub wink_ms: f64,
    /// Answer this long after the ANI spill's ST.
    pub answer_ms: f64,
    /// Hang up this long after answering.
    pub hold_ms: f64,
    /// What the attendant says once answered (`sip serve --psap-voice`; none in scenarios).
    #[serde(skip)]
    pub voice: Option<Voice>,
}

impl Default for Attendant {
    fn default() -> Self {
        Attendant {
            wink_delay_ms: 150.0,
            wink_ms: 200.0,
            answer_ms: 500.0,
            hold_ms: 20_000.0,
            voice: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallFile {
    at_ms: f64,
    trunk: String,
    channel: Option<usize>,
    ani: Option<String>,
    called: Option<String>,
    hold_ms: Option<f64>,
    voice: Option<String>,
    noise_dbm0: Option<f64>,
    g711: Option<String>,
    mf_level_dbm0: Option<f64>,
    mf_twist_db: Option<f64>,
    /// An enterprise caller behind the ELIN gateway (with `client`).
    user: Option<String>,
    client: Option<super::enterprise::ClientFile>,
    #[serde(default)]
    psap: Vec<ActionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionFile {
    after_ms: f64,
    #[serde(rename = "do")]
    what: String,
}

/// What the end office sends as ANI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AniSpec {
    /// A 10-digit TN: `KP 0 NXXXXXX ST` when its NPA is the group's, else `KP 00 NPANXXXXXX ST`.
    Tn(u64),
    /// `KP 2 ST` (ANI failure).
    Fail,
    /// `KP 1 ST` (operator/attendant, no ANI).
    Attendant,
    /// A spill with a wrong digit count.
    Garbled,
    /// `KP 0` and no ST (crossbar ANI-B failure, ends by timeout).
    Timeout,
    /// Nothing (a non-ANI office).
    None,
}

/// The caller's voice.
#[derive(Debug, Clone)]
pub enum Voice {
    Tone { hz: u32, dbm0: f64 },
}

/// What the answering attendant does, `after` samples after answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Hook flash, then the code in DTMF (`transfer *11`).
    Transfer(String),
    /// A hook flash alone.
    Flash,
    /// DTMF keys alone.
    Dial(String),
    Hangup,
}

/// One call of the scenario, validated.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// 1-based, in file order.
    pub n: usize,
    pub at: u64,
    pub group: String,
    pub channel: Option<usize>,
    pub ani: AniSpec,
    pub called: String,
    pub hold: u64,
    pub voice: Option<Voice>,
    pub noise_dbm0: Option<f64>,
    pub g711: Option<Law>,
    pub mf: MfTiming,
    pub actions: Vec<(u64, Act)>,
    /// An enterprise caller: user and what the client sees on the network.
    pub client: Option<(String, crate::location::lis::Client)>,
    /// How the call came to be (enterprise, SIP provider), for the log.
    pub label: Option<String>,
    /// `trunk` (an end-office call), `enterprise` (behind the ELIN gateway) or `sip` (from the
    /// SIP-trunk provider, on its ESGW trunk): the `kind` of its call record.
    pub kind: &'static str,
}

impl CallSpec {
    /// The ANI the PSAP will be sent for this call: the TN, or the substitute (NPA 911-00EE).
    pub fn psap_ani(&self, tg: &TrunkGroup) -> u64 {
        match self.ani {
            AniSpec::Tn(tn) if tg.ani => tn,
            _ => crate::tandem::ani::substitute_tn(tg),
        }
    }

    /// The spill the end office sends.
    pub fn spill(&self, tg: &TrunkGroup) -> Vec<MfSignal> {
        let d = |s: &str| {
            s.bytes()
                .map(|b| MfSignal::Digit(b - b'0'))
                .collect::<Vec<_>>()
        };
        let mut v = vec![MfSignal::KP];
        match self.ani {
            AniSpec::Tn(tn) if tn / 10_000_000 == tg.npa as u64 => {
                v.push(MfSignal::Digit(0));
                v.extend(d(&format!("{:07}", tn % 10_000_000)));
                v.push(MfSignal::ST);
            }
            AniSpec::Tn(tn) => {
                v.extend(d("00"));
                v.extend(d(&format!("{tn:010}")));
                v.push(MfSignal::ST);
            }
            AniSpec::Fail => v.extend([MfSignal::Digit(2), MfSignal::ST]),
            AniSpec::Attendant => v.extend([MfSignal::Digit(1), MfSignal::ST]),
            AniSpec::Garbled => {
                v.push(MfSignal::Digit(0));
                v.extend(d("55512"));
                v.push(MfSignal::ST);
            }
            AniSpec::Timeout => v.push(MfSignal::Digit(0)),
            AniSpec::None => return Vec::new(),
        }
        v
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The scenario or a file it names is invalid; the one-line message names the file, and the
    /// call, field or line.
    #[error("{0}")]
    Invalid(String),
}

/// Scenario paths with this prefix name the bundled copies of the default office's files.
pub const BUILTIN: &str = "builtin:";

/// A bundled file by its name under `docs/` (`datafill/cary.dat`).
pub fn builtin(name: &str) -> Result<(PathBuf, String), String> {
    EMBEDDED
        .iter()
        .find(|(n, _)| n.strip_prefix("../") == Some(name))
        .map(|(n, t)| {
            (
                PathBuf::from(format!("{BUILTIN}{}", &n[3..])),
                t.to_string(),
            )
        })
        .ok_or_else(|| {
            format!(
                "{BUILTIN}{name}: no such bundled file ({})",
                EMBEDDED
                    .iter()
                    .map(|(n, _)| format!("{BUILTIN}{}", &n[3..]))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Fetches a file a scenario names (relative path) → `(path, text)`.
pub type ReadFile<'a> = dyn Fn(&str) -> Result<(PathBuf, String), String> + 'a;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub office: Office,
    pub ali: Ali,
    /// End-office trunk groups and their trunk counts, in port order.
    pub trunks: Vec<(String, usize)>,
    pub attendant: Attendant,
    pub calls: Vec<CallSpec>,
    /// Samples to run.
    pub duration: u64,
    /// Enterprise events (ELIN choices, callbacks, SIP routing, ECRC) with their times.
    pub notes: Vec<super::enterprise::Note>,
    /// Things the run will do that the file may not mean (calls cut off by `duration_ms`).
    pub warnings: Vec<String>,
    /// Files read from disk (the scenario and what it names): never overwritten by outputs.
    pub inputs: Vec<PathBuf>,
}

/// A time in milliseconds from a scenario field: finite, 0 … 24 h (NaN and infinities refused).
pub(crate) fn ms(v: f64, what: &str) -> Result<u64, String> {
    if !(0.0..=86_400_000.0).contains(&v) {
        return Err(format!("{what}: {v} ms is outside 0 … 86400000 (24 h)"));
    }
    Ok(ms_to_samples(v) as u64)
}

/// A level or ratio from a scenario field: finite and within `lo ..= hi` `unit`.
pub(crate) fn within(v: f64, lo: f64, hi: f64, unit: &str, what: &str) -> Result<f64, String> {
    if !(lo..=hi).contains(&v) {
        return Err(format!("{what}: {v} {unit} is outside {lo} … {hi} {unit}"));
    }
    Ok(v)
}

/// One line for a file's problems: the first, and how many more there are.
pub(crate) fn first_of(problems: &[String], hint: &str) -> String {
    match problems {
        [] => "no problems".into(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (and {} more problem(s): {hint})", rest.len()),
    }
}

/// A TOML error on one line: `NAME:LINE:COL: message`.
fn toml_error(name: &str, text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{name}:{line}:{col}: {msg}")
        }
        None => format!("{name}: {msg}"),
    }
}

impl Attendant {
    /// Every field finite and in range (the tandem's own limits are tested by the calls, not
    /// here: a wink outside 100–350 ms is a legitimate fault to study).
    fn validate(&self, name: &str) -> Result<(), String> {
        for (field, v) in [
            ("wink_delay_ms", self.wink_delay_ms),
            ("wink_ms", self.wink_ms),
            ("answer_ms", self.answer_ms),
            ("hold_ms", self.hold_ms),
        ] {
            ms(v, &format!("{name}: attendant.{field}"))?;
        }
        if self.wink_ms < 1.0 || self.wink_ms > 10_000.0 {
            return Err(format!(
                "{name}: attendant.wink_ms: {} ms is outside 1 … 10000",
                self.wink_ms
            ));
        }
        Ok(())
    }
}

impl Scenario {
    /// The default scenario as `--print-default` prints it: its files as `builtin:` names, so the
    /// copy works wherever it is saved.
    pub fn printable_default() -> String {
        DEFAULT_SCENARIO
            .replace("\"../datafill/", &format!("\"{BUILTIN}datafill/"))
            .replace("\"../location/", &format!("\"{BUILTIN}location/"))
    }

    /// The embedded default office.
    pub fn default_office() -> Scenario {
        Self::parse("<default scenario>", DEFAULT_SCENARIO, &|rel| {
            builtin(rel.strip_prefix("../").unwrap_or(rel))
        })
        .expect("the embedded default scenario is valid (tested)")
    }

    /// Parse scenario text; `read(rel)` fetches the files it names.
    pub fn parse(name: &str, text: &str, read: &ReadFile<'_>) -> Result<Scenario, ScenarioError> {
        Self::parse_text(name, text, read).map_err(ScenarioError::Invalid)
    }

    fn parse_text(name: &str, text: &str, read: &ReadFile<'_>) -> Result<Scenario, String> {
        let f: File = toml::from_str(text).map_err(|e| toml_error(name, text, &e))?;
        f.attendant.validate(name)?;
        let (dpath, dtext) = read(&f.datafill).map_err(|e| format!("{name}: datafill: {e}"))?;
        let mut loaded = crate::tandem::datafill::load(&[(dpath, dtext)]);
        loaded.require_office();
        if !loaded.is_valid() {
            let problems: Vec<String> = loaded.errors().map(|p| p.to_string()).collect();
            return Err(first_of(&problems, "`e911 datafill check` lists them all"));
        }
        let mut office = loaded.office;
        let mut ali = match &f.ali {
            Some(rel) => {
                let (p, t) = read(rel).map_err(|e| format!("{name}: ali: {e}"))?;
                let (ali, errors) = Ali::parse(&t);
                if let Some(e) = errors.first() {
                    return Err(format!("{}:{e}", p.display()));
                }
                ali
            }
            None => Ali::default(),
        };
        let mut trunks = Vec::new();
        for (key, &n) in &f.trunks {
            if !office.trunk_groups.contains_key(key) {
                return Err(format!("{name}: trunks.{key}: not in TRKGRP"));
            }
            if n == 0 || n > 4096 {
                return Err(format!("{name}: trunks.{key}: {n} trunks (1–4096)"));
            }
            trunks.push((key.clone(), n));
        }
        let mut calls = Vec::new();
        for (i, c) in f.calls.iter().enumerate() {
            calls.push(Self::call(name, i + 1, c, &office, &f.trunks)?);
        }
        let msag = match &f.msag {
            Some(rel) => {
                let (p, t) = read(rel).map_err(|e| format!("{name}: msag: {e}"))?;
                Some(Msag::parse(&t).map_err(|e| {
                    let v: Vec<String> = e.iter().map(|l| format!("{}:{l}", p.display())).collect();
                    first_of(&v, "`e911 msag validate` lists them all")
                })?)
            }
            None => None,
        };
        let trunk_map = f.trunks.clone();
        let office_for_sip = office.clone();
        let make_sip = |n: usize,
                        s: &super::enterprise::SipCallFile,
                        trunk: &str,
                        esqk: u64|
         -> Result<CallSpec, String> {
            let c = CallFile {
                at_ms: s.at_ms,
                trunk: trunk.to_string(),
                channel: None,
                ani: Some(format!("{esqk:010}")),
                called: None,
                hold_ms: s.hold_ms,
                voice: s.voice.clone(),
                noise_dbm0: None,
                g711: None,
                mf_level_dbm0: None,
                mf_twist_db: None,
                user: None,
                client: None,
                psap: Vec::new(),
            };
            let mut spec = Self::call(name, n, &c, &office_for_sip, &trunk_map)?;
            spec.actions = Self::actions(name, n, &s.psap)?;
            Ok(spec)
        };
        let notes = super::enterprise::apply(
            super::enterprise::Inputs {
                name,
                ent: f.enterprise.as_ref(),
                msag: msag.as_ref(),
                sip_calls: &f.sip_call,
                callbacks: &f.callback,
                trunks: &f.trunks,
                read,
            },
            &mut office,
            &mut ali,
            &mut calls,
            &make_sip,
        )?;
        calls.sort_by_key(|c| (c.at, c.n));
        let last = calls
            .iter()
            .map(|c| c.at + c.hold.max(c.actions.iter().map(|a| a.0).max().unwrap_or(0)))
            .max()
            .unwrap_or(0);
        let mut warnings = Vec::new();
        let duration = match f.duration_ms {
            Some(d) => {
                let d = ms(d, &format!("{name}: duration_ms"))?;
                let secs = |t: u64| samples_to_ms(t) / 1000.0;
                let never = calls.iter().filter(|c| c.at >= d).count();
                let cut = calls
                    .iter()
                    .filter(|c| c.at < d && c.at + c.hold > d)
                    .count();
                if never > 0 || cut > 0 {
                    warnings.push(format!(
                        "{name}: duration_ms: the run ends at {:.2} s: {never} call(s) start after it and are not placed, {cut} call(s) are cut short (the last call ends at {:.2} s)",
                        secs(d),
                        secs(last)
                    ));
                }
                d
            }
            // Long enough for the last call to end and the PSAPs to hang up.
            None => {
                last + ms_to_samples(f.attendant_hold_or_default()) as u64
                    + ms_to_samples(10_000.0) as u64
            }
        };
        Ok(Scenario {
            name: f.name.clone().unwrap_or_else(|| name.to_string()),
            office,
            ali,
            trunks,
            attendant: f.attendant,
            calls,
            duration,
            notes,
            warnings,
            inputs: Vec::new(),
        })
    }
}

impl File {
    fn attendant_hold_or_default(&self) -> f64 {
        self.attendant.hold_ms
    }
}
