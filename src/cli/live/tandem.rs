//! `live tandem`: the card's channels are the tandem's lines — the first `--trunks` trunks of
//! GRPKEY, then the positions of each `--psap` — and the rest of the office is modelled as in
//! `simulate` (SF PSAPs by position models in audio, `SUPV NONE` PSAPs by attendants on their
//! leads). One thread, paced by the card: each block the card's input goes to the tandem's
//! receivers and the tandem's answer straight back out, so the tandem adds no block of its own.

use std::collections::{BTreeMap, BTreeSet};

use super::expect::Expect;
use super::session::Session;
use super::TandemArgs;
use crate::sim::blocks::Blocks;
use crate::sim::scenario::{Attendant, Scenario};
use crate::sim::world::World;
use crate::tandem::record::{CallRecord, TransferOutcome};
use crate::tandem::switch::{SwitchEvent, Tandem};
use crate::tandem::tables::{Office, Supv};

/// `NAME` or `NAME:N` → (PSAP, positions on the card).
fn psap_on_card(office: &Office, s: &str) -> anyhow::Result<(String, usize)> {
    let (name, n) =
        match s.split_once(':') {
            Some((a, b)) => (
                a,
                Some(b.parse::<usize>().map_err(|_| {
                    anyhow::anyhow!("--psap {s}: {b:?} is not a number of positions")
                })?),
            ),
            None => (s, None),
        };
    let name = name.to_ascii_uppercase();
    let p = office
        .psaps
        .get(&name)
        .ok_or_else(|| anyhow::anyhow!("--psap {s}: {name} is not in E911PSAP"))?;
    if p.supv != Supv::Sf {
        anyhow::bail!(
            "--psap {s}: {name} has SUPV NONE: its positions answer on leads a sound card cannot carry; datafill SUPV SF to put it on the card"
        );
    }
    let n = n.unwrap_or(p.positions as usize);
    if n == 0 || n > p.positions as usize {
        anyhow::bail!(
            "--psap {s}: {name} has {} position(s), not {n}",
            p.positions
        );
    }
    Ok((name, n))
}

/// Where a call stands, from the switch's events.
#[derive(Default, Clone, PartialEq)]
struct Said {
    released: bool,
    position_released: bool,
}

/// The call log as it happens: one line per event the switch tells (details from the call's
/// record); the whole record when both sides have released and no transfer is pending (or when
/// the run ends).
struct Log {
    open: BTreeMap<usize, Said>,
}

impl Log {
    /// Say what `e` tells; the call's record when this closes it.
    fn tell<'t>(
        &mut self,
        s: &Session,
        tandem: &'t Tandem,
        e: SwitchEvent,
    ) -> Option<&'t CallRecord> {
        let c = e.call();
        let r = tandem.record(c)?;
        if let SwitchEvent::Routed { .. } = e {
            self.open.insert(c, Said::default());
            let t = format!(
                "call {}: {} ch {} seized at {:.1} s, called {}, spill `{}`: ANI {} ({}) → ESN {} ({})",
                r.call,
                r.trunk,
                r.channel,
                r.seized_ms / 1000.0,
                r.called,
                r.ani_spill,
                r.ani.as_deref().unwrap_or("-"),
                r.ani_status,
                r.esn.map(|e| e.to_string()).unwrap_or_default(),
                r.esn_source.unwrap_or("-")
            );
            s.log(&t, &event(r, "routed"));
        }
        let said = self.open.get_mut(&c)?;
        let transfer_line = |k: usize| {
            let x = &r.transfers[k];
            let t = format!(
                "call {}: {} dialled `{}` → {}{}: {}",
                r.call,
                x.from,
                x.code,
                x.target.as_deref().unwrap_or("-"),
                x.position.map(|p| format!(" pos {p}")).unwrap_or_default(),
                x.outcome
            );
            s.log(&t, &event(r, "transfer"));
        };
        match e {
            SwitchEvent::Delivered { transfer: None, .. } => {
                let t = format!(
                    "call {}: delivered to {} pos {}, sent `{}`",
                    r.call,
                    r.psap.as_deref().unwrap_or("-"),
                    r.position.unwrap_or(0),
                    r.outpulsed.as_deref().unwrap_or("")
                );
                s.log(&t, &event(r, "delivered"));
            }
            SwitchEvent::Answered { transfer: None, .. } => {
                let at = r.answered_ms.unwrap_or(0.0);
                let t = format!("call {}: answered at {:.1} s", r.call, at / 1000.0);
                s.log(&t, &event(r, "answered"));
            }
            SwitchEvent::TransferDialled { k, .. }
            | SwitchEvent::Answered {
                transfer: Some(k), ..
            } => transfer_line(k),
            SwitchEvent::CallerReleased { .. } => {
                said.released = true;
                s.log(
                    &format!("call {}: caller released", r.call),
                    &event(r, "released"),
                );
            }
            SwitchEvent::PositionReleased { transfer: None, .. } => {
                said.position_released = true;
                let t = format!("call {}: position released", r.call);
                s.log(&t, &event(r, "position released"));
            }
            _ => {}
        }
        // A transfer released unanswered is settled too.
        let settled = said.released
            && said.position_released
            && !r
                .transfers
                .iter()
                .any(|x| x.outcome == TransferOutcome::Pending && x.released_ms.is_none());
        if !settled {
            return None;
        }
        self.open.remove(&c);
        Some(Self::close(s, r))
    }

    /// The whole record of a call.
    fn close<'t>(s: &Session, r: &'t CallRecord) -> &'t CallRecord {
        let mut j = serde_json::to_value(r).unwrap_or_default();
        j["event"] = "record".into();
        s.log(crate::cli::route::text_record(r).trim_end(), &j);
        r
    }
}

fn event(r: &CallRecord, what: &str) -> serde_json::Value {
    serde_json::json!({"event": what, "call": r.call, "trunk": r.trunk, "channel": r.channel,
        "ani": r.ani, "esn": r.esn, "psap": r.psap, "position": r.position})
}

pub fn run(a: TandemArgs) -> anyhow::Result<()> {
    let (office, mut inputs) = super::session::office(&a.datafill)?;
    let key = a.trunk.to_ascii_uppercase();
    let tg = office
        .trunk_groups
        .get(&key)
        .ok_or_else(|| anyhow::anyhow!("--trunk: {key} is not in TRKGRP"))?;
    if tg.supv != Supv::Sf {
        anyhow::bail!(
            "--trunk: {key} has SUPV NONE: its seizure and hang-up travel on E&M leads, which a sound card cannot carry; use a group with SUPV SF"
        );
    }
    let mut on_card = Vec::new();
    for p in &a.psap {
        let x = psap_on_card(&office, p)?;
        if on_card.iter().any(|(n, _)| n == &x.0) {
            crate::cli::usage!("--psap {p}: {} is given twice", x.0);
        }
        on_card.push(x);
    }
    let ali = match &a.ali {
        Some(p) => super::session::ali(p)?,
        None => Default::default(),
    };
    let mut expect = match &a.expect {
        Some(p) => Some(Expect::load(p)?),
        None => None,
    };
    let trunks = a.trunks as usize;
    let heard: BTreeSet<String> = office
        .psaps
        .values()
        .filter(|p| p.supv == Supv::Sf)
        .map(|p| p.name.clone())
        .collect();
    let mut tandem =
        Tandem::new(&office, &[(key.clone(), trunks)], &heard).map_err(anyhow::Error::msg)?;
    let sc = Scenario {
        name: "live tandem".into(),
        office: office.clone(),
        ali: ali.clone(),
        trunks: vec![(key.clone(), trunks)],
        attendant: Attendant::default(),
        calls: Vec::new(),
        duration: u64::MAX,
        notes: Vec::new(),
        warnings: Vec::new(),
        inputs: Vec::new(),
    };
    let mut world = World::new(&sc, tandem.ports());
    let mut card_ports: Vec<usize> = (0..trunks).collect();
    for (name, n) in &on_card {
        for k in 0..*n {
            card_ports.push(
                tandem
                    .port(name, k)
                    .expect("a datafilled position has a port"),
            );
        }
    }
    for &p in &card_ports {
        world.detach(p);
    }
    tandem.lines_unknown_at_start(&card_ports);
    inputs.extend(a.ali.iter().cloned());
    inputs.extend(a.expect.iter().cloned());
    let mut s = Session::open(&a.card, &a.run, card_ports.len(), &inputs)?;
    let mut lines = format!("the card: {key} trunk 0…{}", trunks - 1);
    for (name, n) in &on_card {
        lines += &format!(", {name} position 0…{}", n - 1);
    }
    eprintln!("{lines}; everything else modelled");

    let mut blocks = Blocks::new(tandem.ports().len());
    let mut log = Log {
        open: BTreeMap::new(),
    };
    tandem.tell_events();
    let mut events = Vec::with_capacity(64);
    let mut screens = 0;
    let mut verdicts = Vec::new();
    while s.read() {
        let now = s.now;
        let heard = &s.heard;
        blocks.step(&mut tandem, &mut world, now, |s_out| {
            for (k, &p) in card_ports.iter().enumerate() {
                s_out[p].copy_from_slice(&heard[k]);
            }
        });
        let sent: Vec<&[i16]> = card_ports
            .iter()
            .map(|&p| blocks.t_out[p].as_slice())
            .collect();
        s.write(&sent);
        tandem.take_events(&mut events);
        for ev in events.drain(..) {
            if let Some(r) = log.tell(&s, &tandem, ev) {
                if let Some(e) = &mut expect {
                    verdicts.push(e.judge(&s, &office, &ali, r));
                }
            }
        }
        for sc in &world.screens[screens..] {
            let t = format!(
                "screen at {} pos {} ({:.1} s): {}",
                sc.psap,
                sc.position,
                sc.at_ms / 1000.0,
                sc.screen
            );
            let mut j = serde_json::to_value(sc).unwrap_or_default();
            j["event"] = "screen".into();
            s.log(&t, &j);
        }
        screens = world.screens.len();
    }
    // The run ended: every call still open, as it stands.
    for c in std::mem::take(&mut log.open).into_keys() {
        if let Some(r) = tandem.record(c) {
            Log::close(&s, r);
            if let Some(e) = &mut expect {
                verdicts.push(e.judge(&s, &office, &ali, r));
            }
        }
    }
    for (g, ch) in tandem.in_setup() {
        let t = format!("{g} ch {ch}: seized, still in setup when the run ended");
        s.log(
            &t,
            &serde_json::json!({"event": "in setup", "trunk": g, "channel": ch}),
        );
    }
    let failed = match &expect {
        Some(e) => e.summary(&s, &verdicts),
        None => 0,
    };
    let tally = s.close()?;
    eprintln!("{tally}");
    if failed > 0 {
        anyhow::bail!("--expect: {failed} call(s) failed");
    }
    if tandem.records().is_empty() {
        eprintln!("no call was placed on the card");
    }
    Ok(())
}
