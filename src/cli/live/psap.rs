//! `live psap`: the card is a PSAP's positions facing a real tandem. Each position is the
//! simulator's position model ([`PsapPosition`]): it winks when seized, decodes the spill against
//! E911NPD, shows the ALI screen, answers, and does what it is told — `--transfer CODE --after T`
//! on every call, or a line typed while it runs (`*11`: flash and dial; `flash`; `hangup`), on
//! the position that has a call up.

use std::io::BufRead;

use super::session::Session;
use super::PsapArgs;
use crate::dsp::correlator::KernelPlanner;
use crate::engine::BLOCK;
use crate::location::ali::Ali;
use crate::sim::psap::PsapPosition;
use crate::sim::scenario::{Act, Attendant};
use crate::tandem::tables::Supv;
use crate::units::{ms_to_samples, samples_to_ms};

/// A key line typed by the attendant: `*11` (flash and dial), `flash`, `hangup`.
fn typed(l: &str) -> Result<Act, String> {
    match l.trim().to_ascii_lowercase().as_str() {
        "flash" => Ok(Act::Flash),
        "hangup" | "hang up" => Ok(Act::Hangup),
        k => dtmf_code(k).map(Act::Transfer),
    }
}

fn dtmf_code(k: &str) -> Result<String, String> {
    let k = k.trim().to_ascii_uppercase();
    if k.is_empty() || k.len() > 16 || !k.bytes().all(|b| b"0123456789*#ABCD".contains(&b)) {
        return Err(format!(
            "{k:?}: a transfer code is DTMF keys (e.g. *11), or type `flash` or `hangup`"
        ));
    }
    Ok(k)
}

fn describe(a: &Act) -> String {
    match a {
        Act::Transfer(c) => format!("flash, dial `{c}`"),
        Act::Flash => "flash".into(),
        Act::Dial(k) => format!("dial `{k}`"),
        Act::Hangup => "hang up".into(),
    }
}

pub fn run(a: PsapArgs) -> anyhow::Result<()> {
    let (office, mut inputs) = super::session::office(&a.datafill)?;
    let name = a.psap.to_ascii_uppercase();
    let psap = office
        .psaps
        .get(&name)
        .ok_or_else(|| anyhow::anyhow!("--psap: {name} is not in E911PSAP"))?
        .clone();
    if psap.supv != Supv::Sf {
        anyhow::bail!(
            "--psap: {name} has SUPV NONE: a tandem seizes it on leads a sound card cannot carry"
        );
    }
    let n = a.positions as usize;
    if n > psap.positions as usize {
        anyhow::bail!(
            "--positions: {name} has {} position(s), not {n}",
            psap.positions
        );
    }
    let transfer = a
        .transfer
        .as_deref()
        .map(dtmf_code)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--transfer: {e}"))?;
    let ali = match &a.ali {
        Some(p) => super::session::ali(p)?,
        None => Ali::default(),
    };
    let att = Attendant {
        hold_ms: a.hold,
        ..Attendant::default()
    };
    let s_of = |ms: f64| ms_to_samples(ms) as u64;
    let mut planner = KernelPlanner::new();
    let mut pos: Vec<PsapPosition> = (0..n)
        .map(|k| PsapPosition::new(&psap, k as u32, &mut planner).keep_acts())
        .collect();
    inputs.extend(a.ali.iter().cloned());
    let mut s = Session::open(&a.card, &a.run, n, &inputs)?;
    eprintln!(
        "the card: {name} position 0…{}; type a code (*11) or `flash` or `hangup` and Enter during a call",
        n - 1
    );
    // Keys typed while it runs (a closed stdin just ends the thread).
    let (ktx, krx) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        for l in std::io::stdin().lock().lines().map_while(Result::ok) {
            if ktx.send(l).is_err() {
                break;
            }
        }
    });
    let mut out = vec![vec![0i16; BLOCK]; n];
    let mut screens = Vec::new();
    let mut shown = 0;
    let mut claim = |_ani: u64| -> Option<Vec<(u64, Act)>> {
        let mut v = Vec::new();
        if let Some(c) = &transfer {
            v.push((s_of(a.after), Act::Transfer(c.clone())));
        }
        v.push((s_of(a.hold), Act::Hangup));
        Some(v)
    };
    while s.read() {
        let now = s.now;
        while let Ok(l) = krx.try_recv() {
            match typed(&l) {
                Ok(act) => {
                    if !pos.iter_mut().any(|p| p.act_at(now, act.clone())) {
                        eprintln!("no call is up: {l:?} ignored");
                    }
                }
                Err(e) => eprintln!("{e}"),
            }
        }
        for (k, p) in pos.iter_mut().enumerate() {
            p.step(
                now,
                &s.heard[k],
                &mut out[k],
                &office,
                &ali,
                &att,
                &mut claim,
                &mut screens,
            );
        }
        let sent: Vec<&[i16]> = out.iter().map(|v| v.as_slice()).collect();
        s.write(&sent);
        for sc in &screens[shown..] {
            let t = format!(
                "{:.1} s {} pos {}: spill `{}` → {}",
                sc.at_ms / 1000.0,
                sc.psap,
                sc.position,
                sc.spill,
                sc.screen
            );
            let mut j = serde_json::to_value(sc).unwrap_or_default();
            j["event"] = "screen".into();
            s.log(&t, &j);
        }
        shown = screens.len();
        for (k, p) in pos.iter_mut().enumerate() {
            for (t, act) in p.take_acts() {
                let d = describe(&act);
                let line = format!("{:.1} s {name} pos {k}: {d}", samples_to_ms(t) / 1000.0);
                s.log(
                    &line,
                    &serde_json::json!({"event": "attendant", "psap": name, "position": k,
                        "at_ms": samples_to_ms(t), "did": d}),
                );
            }
        }
    }
    let talking = pos.iter().filter(|p| p.talking()).count();
    let tally = s.close()?;
    eprintln!(
        "{tally}; {} call(s) shown, {talking} still up",
        screens.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_keys_become_acts_and_nonsense_is_refused() {
        assert_eq!(typed("*11"), Ok(Act::Transfer("*11".into())));
        assert_eq!(typed(" Flash "), Ok(Act::Flash));
        assert_eq!(typed("hangup"), Ok(Act::Hangup));
        assert!(typed("*1x").is_err());
        assert!(typed("").is_err());
    }
}
