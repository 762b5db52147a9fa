//! ALI (NENA 02-010 TN records): the Cary fixture (written by an independent Python one-off from
//! the column table of location.md) reads field by field, writes back byte-identical, and the PSAP
//! screen shows it — or NO RECORD FOUND for a substitute ANI.

use std::path::PathBuf;

use e911_tandem::location::ali::{Ali, AliRecord, RECORD_LEN};

fn fixture() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.ali");
    std::fs::read_to_string(p).unwrap()
}

fn office() -> e911_tandem::tandem::tables::Office {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/datafill/cary.dat");
    e911_tandem::files::datafill(&p).unwrap().office
}

#[test]
fn the_fixture_reads_field_by_field_and_writes_back_identically() {
    let text = fixture();
    let (ali, errors) = Ali::parse(&text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ali.records.len(), 3);
    let r = ali.lookup(9195551234).unwrap();
    assert_eq!(
        (
            r.function,
            r.npa.as_str(),
            r.number.as_str(),
            r.house_number.as_str()
        ),
        ('I', "919", "5551234", "123")
    );
    assert_eq!(
        (r.street.as_str(), r.street_suffix.as_str()),
        ("MAIN", "ST")
    );
    assert_eq!((r.community.as_str(), r.state.as_str()), ("CARY", "NC"));
    assert_eq!(
        (r.location.as_str(), r.customer.as_str()),
        ("APT 718", "DOE, JANE")
    );
    assert_eq!((r.class_of_service, r.esn), ('1', Some(123)));
    assert_eq!((r.zip.as_str(), r.county_id.as_str()), ("27511", "183"));
    let b = ali.lookup(9195550100).unwrap();
    assert_eq!(b.address(), "316 N ACADEMY ST");
    assert_eq!(ali.lookup(9845557000).unwrap().address(), "73 SALEM ST N");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let r = AliRecord::parse(line, 1).unwrap();
        let w = r.write().unwrap();
        assert_eq!(w.len(), RECORD_LEN);
        assert_eq!(w, line, "round trip");
    }
}

#[test]
fn bad_records_name_line_and_field_and_good_ones_are_kept() {
    let good = fixture()
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .to_string();
    let bad_npa = format!("I9X9{}", &good[4..]);
    let bad_fn = format!("X{}", &good[1..]);
    let short = good[..200].to_string();
    let bad_esn = format!("{}ABCDE{}", &good[..225], &good[230..]);
    let text = [good.as_str(), &bad_npa, &bad_fn, &short, &bad_esn].join("\n");
    let (ali, errors) = Ali::parse(&text);
    assert_eq!(ali.records.len(), 1);
    let got: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got[0].starts_with("2: ALI.NPA"), "{got:?}");
    assert!(got[1].starts_with("3: ALI.FUNCTION"), "{got:?}");
    assert!(got[2].starts_with("4: ALI.ESN") && got[2].contains("200 characters"));
    assert!(got[3].starts_with("5: ALI.ESN") && got[3].contains("ABCDE"));
    // A delete removes the TN.
    let del = format!("D{}", &good[1..]);
    let (ali, _) = Ali::parse(&format!("{good}\n{del}\n"));
    assert!(ali.lookup(9195551234).is_none());
    // Too long a value is named on writing.
    let mut r = AliRecord::parse(&good, 1).unwrap();
    r.location = "X".repeat(61);
    assert!(r.write().unwrap_err().contains("LOCATION"));
}

#[test]
fn the_psap_screen_shows_the_record_or_no_record_found() {
    let (ali, _) = Ali::parse(&fixture());
    let o = office();
    let s = ali.screen(&o, 9195551234, None);
    assert_eq!(
        s,
        "(919) 555-1234 RESD | 123 MAIN ST | CARY NC | APT 718 | DOE, JANE | ESN 123 POLICE CARYPOLICE FIRE CARYFIRE EMS CARYAMBULANCE"
    );
    // Substitute ANI (911-00EE): no record; the ESN the tandem routed on still shows the agencies.
    let s = ali.screen(&o, 9199110011, Some(123));
    assert!(
        s.starts_with("(919) 911-0011 NO RECORD FOUND | ESN 123"),
        "{s}"
    );
}
