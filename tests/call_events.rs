//! The switch's events (`Tandem::tell_events`) tell each call's story as its record does: the
//! default office (transfers, an abandoned call, ANI failure, every call released) run with the
//! events taken every block, each call's events checked against its final record — the record
//! being the long-tested output, built by other code than the events'.

use std::collections::BTreeMap;

use e911_tandem::engine::BLOCK;
use e911_tandem::sim::blocks::Blocks;
use e911_tandem::sim::scenario::Scenario;
use e911_tandem::tandem::event::SwitchEvent as E;
use e911_tandem::tandem::record::CallRecord;

#[test]
fn each_calls_events_agree_with_its_record() {
    let sc = Scenario::default_office();
    let (mut tandem, mut world) = e911_tandem::sim::build(&sc).unwrap();
    tandem.tell_events();
    let mut blocks = Blocks::new(tandem.ports().len());
    let mut by_call: BTreeMap<usize, Vec<E>> = BTreeMap::new();
    let mut evs = Vec::new();
    let mut now = 0u64;
    while now < sc.duration {
        blocks.step(&mut tandem, &mut world, now, |_| {});
        now += BLOCK as u64;
        tandem.take_events(&mut evs);
        for e in evs.drain(..) {
            by_call.entry(e.call()).or_default().push(e);
        }
    }
    let records: Vec<CallRecord> = tandem.records().to_vec();
    assert!(records.len() >= 5, "{} calls", records.len());
    assert_eq!(
        by_call.len(),
        records.len(),
        "every call told, and only calls"
    );
    let (mut transfers, mut abandoned, mut gone) = (0, 0, 0);
    for r in &records {
        let id = r.call as usize - 1;
        let ev = &by_call[&id];
        let count = |f: &dyn Fn(&E) -> bool| ev.iter().filter(|e| f(e)).count();
        let at = |f: &dyn Fn(&E) -> bool| ev.iter().position(f);
        // Routed first, once, on the trunk the record names.
        let trunk = tandem.port(&r.trunk, r.channel).unwrap();
        assert_eq!(
            ev[0],
            E::Routed {
                call: id,
                port: trunk
            },
            "call {}: {ev:?}",
            r.call
        );
        assert_eq!(count(&|e| matches!(e, E::Routed { .. })), 1);
        // Delivered to the position the record names (the last delivery, after any no-wink).
        let delivered = ev.iter().rev().find_map(|e| match *e {
            E::Delivered {
                transfer: None,
                port,
                ..
            } => Some(port),
            _ => None,
        });
        let want = r
            .position
            .map(|p| tandem.port(r.psap.as_deref().unwrap(), p as usize).unwrap());
        assert_eq!(delivered, want, "call {}: {ev:?}", r.call);
        // Queued iff the record says it queued.
        let queued = r.logs.iter().any(|l| l.contains("QUEUED WITH RINGBACK"));
        assert_eq!(
            count(&|e| matches!(e, E::Queued { .. })) > 0,
            queued,
            "call {}",
            r.call
        );
        // Answered once iff answered, after its delivery.
        let ans = at(&|e| matches!(e, E::Answered { transfer: None, .. }));
        assert_eq!(
            ans.is_some(),
            r.answered_ms.is_some(),
            "call {}: {ev:?}",
            r.call
        );
        assert_eq!(
            count(&|e| matches!(e, E::Answered { transfer: None, .. })),
            ans.map_or(0, |_| 1)
        );
        if let Some(a) = ans {
            assert!(at(&|e| matches!(e, E::Delivered { transfer: None, .. })).unwrap() < a);
        }
        // Each transfer dialled once; answered iff the record's transfer was.
        for (k, x) in r.transfers.iter().enumerate() {
            transfers += 1;
            assert_eq!(
                count(&|e| *e == E::TransferDialled { call: id, k }),
                1,
                "call {}",
                r.call
            );
            assert_eq!(
                count(&|e| *e
                    == E::Answered {
                        call: id,
                        transfer: Some(k)
                    }),
                usize::from(x.answered_ms.is_some()),
                "call {} transfer {k}",
                r.call
            );
        }
        // The caller's release: once iff released, abandoned as the record says.
        let rel: Vec<bool> = ev
            .iter()
            .filter_map(|e| match *e {
                E::CallerReleased { abandoned, .. } => Some(abandoned),
                _ => None,
            })
            .collect();
        assert_eq!(
            rel.len(),
            usize::from(r.released_ms.is_some()),
            "call {}: {ev:?}",
            r.call
        );
        if let Some(&a) = rel.first() {
            assert_eq!(a, r.abandoned, "call {}", r.call);
            abandoned += usize::from(a);
        }
        // The position's release iff the record has it.
        assert_eq!(
            count(&|e| matches!(e, E::PositionReleased { transfer: None, .. })) > 0,
            r.position_released_ms.is_some(),
            "call {}",
            r.call
        );
        // PSAP gone iff answered and every answered position released.
        let all_released = r.position_released_ms.is_some()
            && r.transfers
                .iter()
                .all(|x| x.answered_ms.is_none() || x.released_ms.is_some());
        let g = count(&|e| matches!(e, E::PsapGone { .. }));
        assert_eq!(
            g > 0,
            r.answered_ms.is_some() && all_released,
            "call {}: {ev:?}",
            r.call
        );
        gone += usize::from(g > 0);
    }
    // The office exercises each kind.
    assert!(
        transfers >= 1 && abandoned >= 1 && gone >= 1,
        "{transfers} {abandoned} {gone}"
    );
}
