//! `Tandem::forget_finished` (what keeps `sip serve`'s memory flat) forgets only calls that are
//! over: the default office run with the tandem forgetting every second gives, record for record,
//! what the same run gives keeping everything — and it did forget.

use std::collections::BTreeMap;

use e911_tandem::engine::BLOCK;
use e911_tandem::sim::blocks::Blocks;
use e911_tandem::sim::scenario::Scenario;
use e911_tandem::tandem::record::CallRecord;

fn run(forget: bool) -> (BTreeMap<u64, String>, usize) {
    let sc = Scenario::default_office();
    let (mut tandem, mut world) = e911_tandem::sim::build(&sc).unwrap();
    let mut blocks = Blocks::new(tandem.ports().len());
    let mut seen: BTreeMap<u64, String> = BTreeMap::new();
    let mut forgotten = 0;
    let keep = |seen: &mut BTreeMap<u64, String>, r: &[CallRecord]| {
        for r in r {
            seen.insert(r.call, serde_json::to_string(r).unwrap());
        }
    };
    let mut now = 0u64;
    while now < sc.duration {
        blocks.step(&mut tandem, &mut world, now, |_| {});
        now += BLOCK as u64;
        if forget && now.is_multiple_of(8000) {
            keep(&mut seen, tandem.records());
            forgotten += tandem.forget_finished(usize::MAX);
        }
    }
    keep(&mut seen, tandem.records());
    (seen, forgotten)
}

#[test]
fn forgetting_finished_calls_loses_nothing_that_changes() {
    let (all, none) = run(false);
    let (kept, forgotten) = run(true);
    assert_eq!(none, 0);
    assert!(forgotten >= 3, "forgot {forgotten} calls");
    assert_eq!(kept.len(), all.len());
    for (k, v) in &all {
        assert_eq!(&kept[k], v, "call {k}: forgotten before it was over");
    }
}
