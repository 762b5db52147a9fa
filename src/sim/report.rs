//! The readable call log `e911 simulate` prints: one block per call (what arrived, where it went,
//! what the PSAP was sent and showed, transfers, logs), then a summary.

use std::fmt::Write as _;

use super::{OtherCall, SimCall, SimRun};
use crate::route::CallRecord;

fn secs(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

fn tn(s: &str) -> String {
    if s.len() == 10 {
        format!("{}-{}-{}", &s[..3], &s[3..6], &s[6..])
    } else {
        s.to_string()
    }
}

/// One call's block.
pub fn call_block(c: &SimCall) -> String {
    let r = &c.record;
    let tag = match c.scenario_call {
        Some(n) if n as u64 != r.call => format!("  [scenario call {n}]"),
        _ => String::new(),
    };
    let mut s = record_head(r, &tag);
    if let Some(o) = &c.origin {
        let _ = writeln!(s, "         from {o}");
    }
    s += &record_transfers(r);
    for sc in &c.screens {
        let _ = writeln!(
            s,
            "         screen {}/{} at {}: {}",
            sc.psap,
            sc.position,
            secs(sc.at_ms),
            sc.screen
        );
    }
    s += &record_logs(r);
    s
}

/// A tandem record in the call log's words — what `e911 route` prints for each call, and the
/// core of `simulate`'s block: the same fields, units and number formats in both.
pub fn record_block(r: &CallRecord) -> String {
    record_head(r, "") + &record_transfers(r) + &record_logs(r)
}

/// The record's first two lines: what arrived, then where it went.
fn record_head(r: &CallRecord, tag: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "call {:<3} {:>8}  {}/{}  called {:<4} ANI {} ({})  spill `{}`{tag}",
        r.call,
        secs(r.seized_ms),
        r.trunk,
        r.channel,
        if r.called.is_empty() { "-" } else { &r.called },
        r.ani.as_deref().map(tn).unwrap_or_else(|| "?".into()),
        r.ani_status,
        r.ani_spill,
    );
    let answered = match (r.abandoned, r.answered_ms) {
        (false, a) => format!("answered {}", a.map_or("-".into(), secs)),
        (true, a) => format!(
            "ABANDONED {} while {}{}",
            r.abandoned_ms.map_or("-".into(), secs),
            r.abandoned_while.as_deref().unwrap_or("-"),
            a.map_or(String::new(), |a| format!(
                ", delivered for callback: position answered {}",
                secs(a)
            ))
        ),
    };
    let queued = if r.psap.is_some() && r.position.is_none() {
        "  QUEUED: every position busy when the run ended"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "         ESN {} ({})  → {}/{}  sent `{}`  {answered}  caller released {}  position released {}{queued}",
        r.esn.map_or("?".into(), |e| e.to_string()),
        r.esn_source.unwrap_or("?"),
        r.psap.as_deref().unwrap_or("?"),
        r.position.map_or("-".into(), |p| p.to_string()),
        r.outpulsed.as_deref().unwrap_or("-"),
        r.released_ms.map_or("-".into(), secs),
        r.position_released_ms.map_or("-".into(), secs),
    );
    s
}

fn record_transfers(r: &CallRecord) -> String {
    let mut s = String::new();
    for x in &r.transfers {
        let _ = writeln!(
            s,
            "         {} flashed {}, dialled `{}` → {}{}  {}{}{}",
            x.from,
            secs(x.flashed_ms),
            x.code,
            x.target.as_deref().unwrap_or("-"),
            x.position.map_or(String::new(), |p| format!("/{p}")),
            x.outcome,
            x.outpulsed
                .as_deref()
                .map_or(String::new(), |o| format!(", sent `{o}`")),
            x.released_ms
                .map_or(String::new(), |t| format!(", released {}", secs(t))),
        );
    }
    s
}

fn record_logs(r: &CallRecord) -> String {
    let mut s = String::new();
    for l in &r.logs {
        let _ = writeln!(s, "         log {l}");
    }
    s
}

/// The block of a call with no tandem record (ECRC, callback, unrouted).
pub fn other_block(o: &OtherCall) -> String {
    let what = if o.kind == "unrouted" {
        "not routed: "
    } else {
        ""
    };
    let scenario = match o.scenario_call {
        Some(n) if n as u64 != o.call => format!("  [scenario call {n}]"),
        _ => String::new(),
    };
    format!(
        "call {:<3} {:>8}  {what}{}{scenario}\n",
        o.call,
        secs(o.at_ms),
        o.text
    )
}

/// The whole log: every call in number order, a summary, the enterprise and end-office notes.
pub fn call_log(name: &str, run: &SimRun) -> String {
    let mut s = format!(
        "{name}: {:.1} s simulated, {} call(s){}\n\n",
        crate::units::samples_to_s(run.duration),
        run.calls.len() + run.others.len(),
        if run.interrupted {
            format!(
                " — INTERRUPTED ({}): what was decided so far",
                crate::stop::cause()
            )
        } else {
            String::new()
        }
    );
    let mut blocks: Vec<(u64, String)> = run
        .calls
        .iter()
        .map(|c| (c.record.call, call_block(c)))
        .chain(run.others.iter().map(|o| (o.call, other_block(o))))
        .collect();
    blocks.sort_by_key(|b| b.0);
    for (_, b) in blocks {
        s.push_str(&b);
        s.push('\n');
    }
    let routed = run.calls.iter().filter(|c| c.record.psap.is_some()).count();
    let abandoned = run.calls.iter().filter(|c| c.record.abandoned).count();
    let answered = run
        .calls
        .iter()
        .filter(|c| c.record.answered_ms.is_some() && !c.record.abandoned)
        .count();
    let ani_trouble = run
        .calls
        .iter()
        .filter(|c| c.record.ani_status != "ok")
        .count();
    let transfers: Vec<_> = run.calls.iter().flat_map(|c| &c.record.transfers).collect();
    let conf = transfers
        .iter()
        .filter(|x| x.outcome == "conferenced")
        .count();
    let kind = |k: &str| run.others.iter().filter(|o| o.kind == k).count();
    let _ = writeln!(
        s,
        "summary: {} calls through the tandem, {routed} routed, {answered} answered, {abandoned} abandoned before answer, {ani_trouble} with ANI trouble or none; {} transfer request(s), {conf} conferenced; {} SIP call(s) to the ECRC, {} callback(s), {} not routed",
        run.calls.len(),
        transfers.len(),
        kind("sip_ecrc"),
        kind("callback"),
        kind("unrouted"),
    );
    if let Some(pool) = run.mf_pool.summary() {
        let _ = writeln!(s, "{pool}");
    }
    if !run.enterprise.is_empty() {
        s.push_str("\nenterprise:\n");
        for n in &run.enterprise {
            let _ = writeln!(s, "  {n}");
        }
    }
    if !run.notes.is_empty() {
        s.push_str("\nend offices:\n");
        for n in &run.notes {
            let _ = writeln!(s, "  {n}");
        }
    }
    s
}
