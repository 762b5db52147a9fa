//! Positions, overflow and queueing (tandem.md §3 step 3) on the bundled Cary office:
//! CARYPOLICE has 4 positions and overflows to APEXPOLICE (2 positions, no overflow).

use std::path::PathBuf;

use e911_tandem::tandem::positions::{Placement, Positions};
use e911_tandem::tandem::tables::Office;

fn office() -> Office {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat");
    e911_tandem::files::datafill(&p).unwrap().office
}

#[test]
fn lowest_idle_position_then_overflow_then_queue_never_drop() {
    let o = office();
    let mut p = Positions::new(&o);
    let mut got = Vec::new();
    for call in 0..8 {
        got.push(p.place(&o, "CARYPOLICE", call));
    }
    for (i, g) in got[..4].iter().enumerate() {
        assert_eq!(
            g,
            &Placement::Position {
                psap: "CARYPOLICE".into(),
                position: i as u32,
                overflowed: false
            }
        );
    }
    for (i, g) in got[4..6].iter().enumerate() {
        assert_eq!(
            g,
            &Placement::Position {
                psap: "APEXPOLICE".into(),
                position: i as u32,
                overflowed: true
            }
        );
    }
    assert_eq!(
        got[6],
        Placement::Queued {
            psap: "CARYPOLICE".into(),
            depth: 0
        }
    );
    assert_eq!(
        got[7],
        Placement::Queued {
            psap: "CARYPOLICE".into(),
            depth: 1
        }
    );
    // A freed primary position goes to the longest-waiting call, in order.
    assert_eq!(p.release("CARYPOLICE", 2), Some(6));
    assert_eq!(p.release("CARYPOLICE", 0), Some(7));
    assert_eq!(p.queued("CARYPOLICE"), 0);
    // With nobody waiting the position becomes idle and is the next one used.
    assert_eq!(p.release("CARYPOLICE", 1), None);
    assert_eq!(
        p.place(&o, "CARYPOLICE", 9),
        Placement::Position {
            psap: "CARYPOLICE".into(),
            position: 1,
            overflowed: false
        }
    );
}

#[test]
fn an_overflow_loop_in_the_datafill_still_ends_in_the_queue() {
    let text = "TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\nA 3DIGIT SF 1 B X\nB 3DIGIT SF 1 A X\n";
    let l = e911_tandem::tandem::datafill::load(&[(PathBuf::from("o.dat"), text.to_string())]);
    let o = l.office;
    let mut p = Positions::new(&o);
    assert!(matches!(p.place(&o, "A", 1), Placement::Position { .. }));
    assert!(matches!(
        p.place(&o, "A", 2),
        Placement::Position {
            overflowed: true,
            ..
        }
    ));
    assert_eq!(
        p.place(&o, "A", 3),
        Placement::Queued {
            psap: "A".into(),
            depth: 0
        }
    );
}
