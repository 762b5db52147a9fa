//! MSAG validation (location.md): odd/even ranges, every NENA-style error code, E911SRDB rows from
//! validated TN records, and `e911 msag validate`.

use std::path::PathBuf;
use std::process::Command;

use e911_tandem::location::msag::{Address, Failure, Msag};

fn msag() -> Msag {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.msag");
    Msag::parse(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn addr(hn: &str, prd: &str, street: &str, sts: &str, community: &str, exchange: &str) -> Address {
    Address {
        house_number: hn.into(),
        prd: prd.into(),
        street: street.into(),
        sts: sts.into(),
        pod: String::new(),
        community: community.into(),
        state: "NC".into(),
        exchange: exchange.into(),
    }
}

#[test]
fn odd_and_even_sides_and_every_error_code() {
    let m = msag();
    let ok = |a: Address| m.validate(&a).map(|r| (r.esn, r.line));
    // Odd side 1–199 and even side 2–198 of Main St are separate rows (lines 4 and 5).
    assert_eq!(
        ok(addr("123", "", "MAIN", "ST", "CARY", "CARY")),
        Ok((123, 4))
    );
    assert_eq!(ok(addr("124", "", "MAIN", "ST", "CARY", "")), Ok((123, 5)));
    assert_eq!(
        ok(addr("250", "", "MAIN", "ST", "CARY", "CARY")),
        Ok((124, 6))
    );
    assert_eq!(
        ok(addr("316", "N", "ACADEMY", "ST", "CARY", "CARY")),
        Ok((124, 7))
    );
    assert_eq!(
        ok(addr("317", "N", "ACADEMY", "ST", "CARY", "CARY")),
        Ok((124, 8))
    );
    let e = |a: Address| m.validate(&a).unwrap_err();
    assert_eq!(
        e(addr("", "", "MAIN", "ST", "CARY", "CARY")),
        Failure::Incomplete
    );
    assert_eq!(
        e(addr("12", "", "", "ST", "CARY", "CARY")),
        Failure::Incomplete
    );
    assert_eq!(
        e(addr("450", "", "HARRISON", "AVE", "CARY", "CARY")),
        Failure::Multiple
    );
    assert_eq!(
        e(addr("123", "", "MAIN", "ST", "CARY", "APEX")),
        Failure::Exchange
    );
    assert_eq!(
        e(addr("123", "", "MAIN", "ST", "MORRISVILLE", "CARY")),
        Failure::Community
    );
    assert_eq!(
        e(addr("123", "", "MAIN", "AVE", "CARY", "CARY")),
        Failure::Thoroughfare
    );
    assert_eq!(
        e(addr("316", "S", "ACADEMY", "ST", "CARY", "CARY")),
        Failure::Prefix
    );
    assert_eq!(
        e(addr("401", "", "MAIN", "ST", "CARY", "CARY")),
        Failure::Address
    );
    // An odd number on an even-only street is outside every range too.
    assert_eq!(
        e(addr("2001", "", "REGENCY", "PKWY", "CARY", "CARY")),
        Failure::Address
    );
    assert_eq!(
        e(addr("5", "", "ELM", "ST", "CARY", "CARY")),
        Failure::Other
    );
    let codes: String = [
        Failure::Incomplete,
        Failure::Multiple,
        Failure::Exchange,
        Failure::Community,
        Failure::Thoroughfare,
        Failure::Prefix,
        Failure::Address,
        Failure::Other,
    ]
    .iter()
    .map(|f| f.code())
    .collect();
    assert_eq!(codes, "IMECTPAO");
}

#[test]
fn bad_msag_lines_are_named() {
    let text = "PRD,STREET,STS,POD,LOW,HIGH,OEB,COMMUNITY,STATE,EXCHANGE,ESN\n,MAIN,ST,,9,1,B,CARY,NC,CARY,1\n,MAIN,ST,,1,9,X,CARY,NC,CARY,1\n,MAIN,ST,,1,9,B,CARY,NC,CARY\n,MAIN,ST,,a,9,B,CARY,NC,CARY,1\n";
    let e = Msag::parse(text).unwrap_err();
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[0].starts_with("2: MSAG.LOW"), "{e:?}");
    assert!(e[1].starts_with("3: MSAG.OEB"), "{e:?}");
    assert!(e[2].starts_with("4: MSAG: 10 fields"), "{e:?}");
    assert!(e[3].starts_with("5: MSAG.LOW: `A`"), "{e:?}");
    assert!(Msag::parse("STREET\n").unwrap_err()[0].contains("header"));
}

#[test]
fn cli_msag_validate_builds_e911srdb_from_the_ali_records() {
    let dir = std::env::temp_dir().join(format!("e911-msag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let srdb = dir.join("srdb.dat");
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args([
            "msag",
            "validate",
            "--msag",
            root.join("docs/datafill/cary.msag").to_str().unwrap(),
            root.join("docs/datafill/cary.ali").to_str().unwrap(),
            "--srdb",
            srdb.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("9195551234  ok  ESN 123"), "{out}");
    assert!(out.contains("3 of 3 validated"), "{out}");
    // The rows agree with the hand-written E911SRDB of cary.dat.
    let rows = std::fs::read_to_string(&srdb).unwrap();
    assert!(rows.starts_with("TABLE E911SRDB\nTN"), "{rows}");
    for row in ["9195551234  123", "9195550100  124", "9845557000  200"] {
        assert!(rows.contains(row), "{row} in {rows}");
    }
    // And they load as datafill.
    let dat = std::fs::read_to_string(root.join("docs/datafill/cary.dat")).unwrap();
    let without: String = dat.split("TABLE E911SRDB").next().unwrap().to_string();
    let after = dat.split("TABLE TRKGRP").nth(1).unwrap();
    let merged = format!("{without}{rows}\nTABLE TRKGRP{after}");
    let l = e911_tandem::tandem::datafill::load(&[(PathBuf::from("m.dat"), merged)]);
    assert!(l.is_valid(), "{:?}", l.problems);
    assert_eq!(l.office.srdb.len(), 3);
    // A failing record: exit 1, the TN and the code named.
    let bad_ali = dir.join("bad.ali");
    let good = std::fs::read_to_string(root.join("docs/datafill/cary.ali")).unwrap();
    let line = good.lines().find(|l| l.starts_with('I')).unwrap();
    let moved = format!("{}{:<60}{}", &line[..27], "ELM", &line[87..]);
    std::fs::write(&bad_ali, format!("{moved}\n")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args([
            "msag",
            "validate",
            "--msag",
            root.join("docs/datafill/cary.msag").to_str().unwrap(),
            bad_ali.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("9195551234  O"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
