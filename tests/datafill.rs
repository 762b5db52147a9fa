//! Datafill: one test per rule of `docs/call-processing.md`, each checking the exact
//! `FILE:LINE: TABLE.FIELD` the problem is reported at.

use std::path::PathBuf;

use e911_tandem::tandem::datafill::{load, Loaded};

const PSAPS: &str = "TABLE E911PSAP
PSAPNAME        ANIFMT  SUPV  POSITIONS  OVFL  AGENCY
CARYPOLICE      1DIGIT  SF    2          NONE  POLICE
CARYFIRE        1DIGIT  SF    2          NONE  FIRE
CARYAMBULANCE   3DIGIT  SF    2          NONE  EMS
";

const NPD: &str = "TABLE E911NPD
NPD SNPA
0   919
";

const SEED_ESN: &str = "TABLE E911ESN
ESN     FLASH     PRIMPSAP    PSAP1     PSAP2          PSAP3  PSAP4  PSAP5  PSAP6
_________________________________________________________________________________
123     N         CARYPOLICE  CARYFIRE  CARYAMBULANCE  NONE   NONE   NONE   NONE
";

fn run(text: &str) -> Loaded {
    load(&[(PathBuf::from("office.dat"), text.to_string())])
}

fn messages(l: &Loaded) -> Vec<String> {
    l.problems.iter().map(|p| p.to_string()).collect()
}

/// The one error of `text`, which must start with `prefix`.
fn one_error(text: &str, prefix: &str) {
    let l = run(text);
    let errs: Vec<String> = l.errors().map(|p| p.to_string()).collect();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with(prefix),
        "{} does not start with {prefix}",
        errs[0]
    );
}

#[test]
fn the_seeds_example_row_loads_as_written() {
    let l = run(&format!("{PSAPS}{NPD}{SEED_ESN}"));
    assert!(l.problems.is_empty(), "{:#?}", messages(&l));
    let e = &l.office.esns[&123];
    assert!(!e.flash);
    assert_eq!(e.primary, "CARYPOLICE");
    assert_eq!(e.secondary[0].as_deref(), Some("CARYFIRE"));
    assert_eq!(e.secondary[1].as_deref(), Some("CARYAMBULANCE"));
    assert!(e.secondary[2..].iter().all(|s| s.is_none()));
}

#[test]
fn the_bundled_cary_office_is_valid() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat");
    let l = e911_tandem::files::datafill(&path).unwrap();
    assert!(l.problems.is_empty(), "{:#?}", messages(&l));
    assert_eq!(l.office.trunk_groups.len(), 4);
    assert_eq!(l.office.srdb[&9_195_551_234], 123);
}

#[test]
fn e911psap_none_is_reserved_not_a_name() {
    one_error("TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\nNONE 1DIGIT SF 1 NONE POLICE\n", "office.dat:3: E911PSAP.PSAPNAME:");
}

#[test]
fn e911psap_name_is_1_to_16_letters_and_digits() {
    one_error("TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\nABCDEFGHIJKLMNOPQ 1DIGIT SF 1 NONE POLICE\n", "office.dat:3: E911PSAP.PSAPNAME:");
    one_error("TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\nCARY-PD 1DIGIT SF 1 NONE POLICE\n", "office.dat:3: E911PSAP.PSAPNAME:");
}

#[test]
fn e911psap_fields_take_only_their_values() {
    let h = "TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\n";
    one_error(
        &format!("{h}P 2DIGIT SF 1 NONE X\n"),
        "office.dat:3: E911PSAP.ANIFMT:",
    );
    one_error(
        &format!("{h}P 3DIGIT EM 1 NONE X\n"),
        "office.dat:3: E911PSAP.SUPV:",
    );
    one_error(
        &format!("{h}P 3DIGIT SF 0 NONE X\n"),
        "office.dat:3: E911PSAP.POSITIONS:",
    );
    one_error(
        &format!("{h}P 3DIGIT SF 100 NONE X\n"),
        "office.dat:3: E911PSAP.POSITIONS:",
    );
    one_error(
        &format!("{h}P 3DIGIT SF 1 P X\n"),
        "office.dat:3: E911PSAP.OVFL:",
    );
    one_error(
        &format!("{h}P 3DIGIT SF 1 Q X\n"),
        "office.dat:3: E911PSAP.OVFL: Q is not in E911PSAP",
    );
    one_error(
        &format!("{h}P 3DIGIT SF 1 NONE X\nP 3DIGIT SF 1 NONE X\n"),
        "office.dat:4: E911PSAP.PSAPNAME:",
    );
}

#[test]
fn e911psap_overflow_may_name_a_later_row() {
    let l = run("TABLE E911PSAP\nPSAPNAME ANIFMT SUPV POSITIONS OVFL AGENCY\nA 3DIGIT SF 1 B X\nB 3DIGIT SF 1 NONE X\n");
    assert!(l.is_valid(), "{:#?}", messages(&l));
}

#[test]
fn a_1digit_psap_needs_e911npd() {
    one_error(
        PSAPS,
        "office.dat:3: E911PSAP.ANIFMT: 1DIGIT needs table E911NPD",
    );
}

#[test]
fn e911npd_is_0_to_3_with_one_npd_per_snpa() {
    let h = "TABLE E911NPD\nNPD SNPA\n";
    one_error(&format!("{h}4 919\n"), "office.dat:3: E911NPD.NPD:");
    one_error(&format!("{h}0 919\n1 919\n"), "office.dat:4: E911NPD.SNPA:");
    one_error(&format!("{h}0 919\n0 984\n"), "office.dat:4: E911NPD.NPD:");
    one_error(&format!("{h}0 091\n"), "office.dat:3: E911NPD.SNPA:");
}

#[test]
fn e911esn_rules() {
    let head = format!(
        "{PSAPS}{NPD}TABLE E911ESN\nESN FLASH PRIMPSAP PSAP1 PSAP2 PSAP3 PSAP4 PSAP5 PSAP6\n"
    );
    // Lines: PSAPS 5, NPD 3, TABLE + header 2 → the first tuple is line 11.
    one_error(
        &format!("{head}16000 N CARYPOLICE NONE NONE NONE NONE NONE NONE\n"),
        "office.dat:11: E911ESN.ESN:",
    );
    one_error(
        &format!("{head}1 X CARYPOLICE NONE NONE NONE NONE NONE NONE\n"),
        "office.dat:11: E911ESN.FLASH:",
    );
    one_error(
        &format!("{head}1 N NONE NONE NONE NONE NONE NONE NONE\n"),
        "office.dat:11: E911ESN.PRIMPSAP: NONE is not a valid entry",
    );
    one_error(
        &format!("{head}1 N RALEIGHPD NONE NONE NONE NONE NONE NONE\n"),
        "office.dat:11: E911ESN.PRIMPSAP: RALEIGHPD is not in E911PSAP",
    );
    one_error(
        &format!("{head}1 N CARYPOLICE NONE NONE NONE NONE NONE RALEIGHFIRE\n"),
        "office.dat:11: E911ESN.PSAP6:",
    );
    one_error(&format!("{head}1 N CARYPOLICE NONE NONE NONE NONE NONE NONE\n1 N CARYPOLICE NONE NONE NONE NONE NONE NONE\n"), "office.dat:12: E911ESN.ESN:");
    one_error(
        &format!("{head}1 N CARYPOLICE NONE NONE NONE NONE NONE\n"),
        "office.dat:11: E911ESN: 8 fields, the header has 9",
    );
}

#[test]
fn e911esn_holds_at_most_1000_rows() {
    let mut t = format!(
        "{PSAPS}{NPD}TABLE E911ESN\nESN FLASH PRIMPSAP PSAP1 PSAP2 PSAP3 PSAP4 PSAP5 PSAP6\n"
    );
    for esn in 0..1001 {
        t.push_str(&format!(
            "{esn} N CARYPOLICE NONE NONE NONE NONE NONE NONE\n"
        ));
    }
    one_error(&t, "office.dat:1011: E911ESN.ESN: more than 1000 rows");
}

#[test]
fn a_column_mixing_agencies_is_a_warning_not_an_error() {
    let t = format!("{PSAPS}{NPD}TABLE E911ESN\nESN FLASH PRIMPSAP PSAP1 PSAP2 PSAP3 PSAP4 PSAP5 PSAP6\n1 N CARYPOLICE CARYFIRE NONE NONE NONE NONE NONE\n2 N CARYPOLICE CARYAMBULANCE NONE NONE NONE NONE NONE\n");
    let l = run(&t);
    assert!(l.is_valid());
    let m = messages(&l);
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with(
            "office.dat:12: E911ESN.PSAP1: warning: the column mixes agencies EMS, FIRE"
        ),
        "{}",
        m[0]
    );
}

#[test]
fn e911srdb_rows_need_a_known_esn_and_a_10_digit_tn() {
    let base = format!("{PSAPS}{NPD}{SEED_ESN}");
    // PSAPS 5 + NPD 3 + SEED_ESN 4 lines = 12; TABLE + header → first tuple at 15.
    one_error(
        &format!("{base}TABLE E911SRDB\nTN ESN\n9195551234 124\n"),
        "office.dat:15: E911SRDB.ESN: ESN 124 is not in E911ESN",
    );
    one_error(
        &format!("{base}TABLE E911SRDB\nTN ESN\n919555123 123\n"),
        "office.dat:15: E911SRDB.TN:",
    );
    let l = run(&format!(
        "{base}TABLE E911SRDB\nNPA DN ESN\n919 5551234 123\n"
    ));
    assert!(l.is_valid(), "{:#?}", messages(&l));
    assert_eq!(l.office.srdb[&9_195_551_234], 123);
}

#[test]
fn trkgrp_rules() {
    let base = format!("{PSAPS}{NPD}{SEED_ESN}TABLE TRKGRP\nGRPKEY GRPTYP SIG SUPV CALLED ANI NPA DEFESN ESCO ANIDELAY\n");
    let ok = run(&format!("{base}CARYEO1 E911 MF SF 911 Y 919 123 11 0\n"));
    assert!(ok.is_valid(), "{:#?}", messages(&ok));
    one_error(
        &format!("{base}CARYEO1 E911 MF SF 911 Y 919 999 11 0\n"),
        "office.dat:15: TRKGRP.DEFESN: ESN 999 is not in E911ESN",
    );
    one_error(
        &format!("{base}CARYEO1 E911 MF SF 911 Y 984 123 11 0\n"),
        "office.dat:15: TRKGRP.NPA: 984 is not in E911NPD",
    );
    one_error(
        &format!("{base}CARYEO1 IT MF SF 911 Y 919 123 11 0\n"),
        "office.dat:15: TRKGRP.GRPTYP:",
    );
    one_error(
        &format!("{base}CARYEO1 E911 MF SF 912 Y 919 123 11 0\n"),
        "office.dat:15: TRKGRP.CALLED:",
    );
    one_error(
        &format!("{base}CARYEO1 E911 MF SF 911 Y 919 123 7 0\n"),
        "office.dat:15: TRKGRP.ESCO:",
    );
    one_error(
        &format!("{base}CARYEO1 E911 DP NONE 911 Y 919 123 11 0\n"),
        "office.dat:15: TRKGRP.SIG:",
    );
}

#[test]
fn tables_go_in_datafill_order_and_references_must_already_exist() {
    let t = format!("{PSAPS}{SEED_ESN}{NPD}");
    let l = run(&t);
    let m = messages(&l);
    assert!(
        m.iter()
            .any(|s| s.starts_with("office.dat:10: E911NPD: datafilled after E911ESN")),
        "{m:#?}"
    );
    // Finding 13 (issue 29): tables out of order is one fault, said once — the references of
    // the early table are not each reported again.
    let t = format!("{SEED_ESN}{PSAPS}{NPD}");
    let l = run(&t);
    let m = messages(&l);
    assert_eq!(m.len(), 2, "{m:#?}");
    assert!(
        m[0].contains(": E911PSAP: datafilled after E911ESN"),
        "{m:#?}"
    );
    assert!(
        m[1].contains(": E911NPD: datafilled after E911ESN"),
        "{m:#?}"
    );
    // A reference to what no table holds is still an error.
    let t = format!("{PSAPS}{NPD}{SEED_ESN}").replace("CARYFIRE  CARYAMB", "CARYFIRE2 CARYAMB");
    let m = messages(&run(&t));
    assert!(
        m.iter()
            .any(|s| s.contains("E911ESN.PSAP1: CARYFIRE2 is not in E911PSAP")),
        "{m:#?}"
    );
}

#[test]
fn unknown_tables_fields_and_stray_tuples_are_named() {
    one_error(
        "TABLE E911FOO\n",
        "office.dat:1: TABLE: unknown table `E911FOO`",
    );
    one_error(
        "CARYEO1 E911\n",
        "office.dat:1: TABLE: a tuple outside any table",
    );
    let l = run("TABLE E911NPD\nNPD SNPA COLOUR\n0 919 RED\n");
    assert!(messages(&l)
        .iter()
        .any(|s| s.starts_with("office.dat:2: E911NPD.COLOUR: unknown field")));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let l = run("TABLE E911NPD\nNPD SNPA\n7 919\n0 12\n0 919\n0 984\n");
    assert_eq!(l.errors().count(), 3, "{:#?}", messages(&l));
}

#[test]
fn a_directory_loads_every_dat_file_in_name_order() {
    let d = std::env::temp_dir().join(format!("e911-datafill-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("1-psap.dat"), PSAPS).unwrap();
    std::fs::write(d.join("2-npd.dat"), NPD).unwrap();
    std::fs::write(d.join("3-esn.dat"), SEED_ESN).unwrap();
    std::fs::write(d.join("notes.txt"), "TABLE NONSENSE\n").unwrap();
    let l = e911_tandem::files::datafill(&d).unwrap();
    // Every table loaded; the one problem is the office's missing TRKGRP (an office needs it).
    let m = messages(&l);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("3-esn.dat:1: TRKGRP: no tuples"), "{m:#?}");
    assert_eq!(l.office.esns.len(), 1);
}

#[test]
fn cli_datafill_check_prints_every_problem_and_exits_1() {
    let d = std::env::temp_dir().join(format!("e911-dfcli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("bad.dat");
    std::fs::write(&f, "TABLE E911NPD\nNPD SNPA\n7 919\n0 12\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["datafill", "check", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("bad.dat:3: E911NPD.NPD:") && out.contains("bad.dat:4: E911NPD.SNPA:"),
        "{out}"
    );
    let good = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["datafill", "check", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn ofceng_sets_the_mf_receiver_pool_and_checks_its_rows() {
    let cary = include_str!("../docs/datafill/cary.dat");
    let l = run(&format!(
        "{cary}\nTABLE OFCENG\nPARMNAME PARMVAL\nMF_RECEIVERS 12\n"
    ));
    assert!(l.problems.is_empty(), "{:#?}", messages(&l));
    assert_eq!(l.office.mf_receivers, Some(12));
    assert_eq!(
        run(cary).office.mf_receivers,
        None,
        "no OFCENG: no pool limit"
    );
    for (row, field) in [
        ("MF_RECEIVERS 0", "OFCENG.PARMVAL"),
        ("MF_RECEIVERS 10001", "OFCENG.PARMVAL"),
        ("MF_RECEIVERS many", "OFCENG.PARMVAL"),
        ("DTMF_RECEIVERS 4", "OFCENG.PARMNAME"),
    ] {
        let l = run(&format!("{cary}\nTABLE OFCENG\nPARMNAME PARMVAL\n{row}\n"));
        let m = messages(&l);
        assert!(
            m.len() == 1 && m[0].contains(&format!(": {field}: ")),
            "{row}: {m:#?}"
        );
    }
    // Datafilled before TRKGRP: out of order, like any other table.
    let l = run(&format!(
        "TABLE OFCENG\nPARMNAME PARMVAL\nMF_RECEIVERS 4\n{cary}"
    ));
    assert!(
        messages(&l)
            .iter()
            .any(|m| m.contains("tables go in the order")),
        "{:#?}",
        messages(&l)
    );
}

/// Finding 13 (issue 29), the other way: a faulty second row of a PSAP that already loaded does
/// not make the good one "refused" — the rows naming it still load, and the fault is the one error.
#[test]
fn a_faulty_duplicate_row_does_not_hide_the_good_one() {
    let t = format!(
        "{}CARYPOLICE      1DIGIT  XX    2          NONE  POLICE\n{NPD}{SEED_ESN}",
        PSAPS
    );
    let l = run(&t);
    let errs: Vec<String> = l.errors().map(|p| p.to_string()).collect();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("E911PSAP.SUPV"), "{errs:#?}");
    assert!(
        l.office.esns.contains_key(&123),
        "the ESN naming CARYPOLICE loaded"
    );
}
