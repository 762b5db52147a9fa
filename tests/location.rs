//! The enterprise location paths (location.md): the Lync wiremap from its CSVs and its lookup
//! precedence, the ELIN gateway's choice and callback window, PIDF-LO reading and writing, and the
//! SIP-trunk provider's MSAG validation, ESQK and ECRC.

use std::path::PathBuf;

use e911_tandem::location::enterprise::{ElinGateway, SipProvider, SipRoute};
use e911_tandem::location::lis::{Client, Lis, Table};
use e911_tandem::location::msag::Msag;
use e911_tandem::location::pidf::{self, PidfLo};

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn lis() -> Lis {
    let mut l = Lis::default();
    for (t, f) in [
        (Table::Wap, "acme-wap.csv"),
        (Table::Port, "acme-port.csv"),
        (Table::Switch, "acme-switch.csv"),
        (Table::Subnet, "acme-subnet.csv"),
        (Table::Mac, "acme-mac.csv"),
    ] {
        l.load(t, &fixture(&format!("docs/location/{f}"))).unwrap();
    }
    l
}

#[test]
fn the_wiremap_finds_an_erl_in_lync_precedence() {
    let l = lis();
    let every = Client {
        bssid: Some("00:0b:86:11:22:33".into()),
        chassis: Some("00-1E-13-AA-BB-CC".into()),
        port: Some("Gi1/0/7".into()),
        ip: Some("10.40.20.15".parse().unwrap()),
        mac: Some("3C-52-82-00-00-03".into()),
    };
    let at = |c: &Client| l.locate(c).map(|(e, via)| (e.location.clone(), via));
    assert_eq!(
        at(&every),
        Some(("Bldg 4 Fl 2".into(), "wireless access point"))
    );
    let mut c = every.clone();
    c.bssid = None;
    assert_eq!(at(&c), Some(("Bldg 4 Fl 3 Rm 310".into(), "switch port")));
    c.port = Some("Gi1/0/8".into());
    assert_eq!(at(&c), Some(("Bldg 4 Fl 3".into(), "switch")));
    c.chassis = None;
    assert_eq!(
        at(&c),
        Some(("Bldg 4 Lobby".into(), "subnet")),
        "the longest prefix"
    );
    c.ip = Some("10.40.99.1".parse().unwrap());
    assert_eq!(at(&c), Some(("Bldg 4".into(), "subnet")));
    c.ip = None;
    assert_eq!(at(&c), Some(("Mobile Cart 3".into(), "client MAC")));
    c.mac = None;
    assert_eq!(at(&c), None);
    // ELINs from CompanyName, hyphens and all.
    let (e, _) = l.locate(&every).unwrap();
    assert_eq!(e.elins(), vec![9195550199, 9195550198]);
    // Bad rows are named: a label over 20 characters, a wrong column count, a bad subnet.
    let mut l = Lis::default();
    let bad = "00-0B-86-11-22-55,ACME,Building Four Floor Two North,9195550199,2000,,,Regency,Pkwy,,Cary,NC,27518,US\n00-0B,too,few\n";
    let e = l.load(Table::Wap, bad).unwrap_err();
    assert!(
        e[0].starts_with("1: LIS.Location") && e[0].contains("20 characters"),
        "{e:?}"
    );
    assert!(e[1].starts_with("2: LIS: 3 columns"), "{e:?}");
    let e = l
        .load(Table::Subnet, "10.40.300.0,A,B,C,1,,,S,St,,Cary,NC,1,US\n")
        .unwrap_err();
    assert!(e[0].contains("LIS.Subnet"), "{e:?}");
}

#[test]
fn the_elin_gateway_picks_unused_then_least_busy_then_longest_idle_and_maps_callbacks() {
    let l = lis();
    let (erl, _) = l
        .locate(&Client {
            bssid: Some("00-0B-86-11-22-33".into()),
            ..Default::default()
        })
        .unwrap();
    let erl = erl.clone();
    let s = 8000u64;
    let mut g = ElinGateway::new(30).unwrap();
    // Two ELINs: the first call takes the first, the second (concurrent) the other unused one.
    assert_eq!(g.place(&erl, "alice", 10 * s), Some(9195550199));
    assert_eq!(g.place(&erl, "bob", 20 * s), Some(9195550198));
    // Both busy with one call: tie on active calls → the one unused for longer (…199, at 10 s).
    assert_eq!(g.place(&erl, "carol", 30 * s), Some(9195550199));
    // …198 is now the least busy.
    assert_eq!(g.place(&erl, "dave", 40 * s), Some(9195550198));
    g.release(9195550198);
    g.release(9195550198);
    assert_eq!(
        g.place(&erl, "erin", 50 * s),
        Some(9195550198),
        "idle again: unused first"
    );
    // Callbacks reach the last caller on that ELIN within 30 minutes, nobody after.
    assert_eq!(g.callback(9195550199, 60 * s).map(|c| c.0), Some("carol"));
    assert_eq!(
        g.callback(9195550199, (30 + 30 * 60) * s).map(|c| c.0),
        Some("carol")
    );
    assert_eq!(g.callback(9195550199, (31 + 30 * 60) * s), None);
    assert_eq!(g.callback(9195550100, 60 * s), None);
    assert!(ElinGateway::new(61).is_err());
    let g0 = ElinGateway::new(0).unwrap();
    assert_eq!(g0.window, 0);
}

#[test]
fn a_lync_pidf_lo_reads_and_writes() {
    let p = PidfLo::parse(&fixture("docs/location/lync-pidf.xml")).unwrap();
    assert_eq!(p.entity, "sip:alice@acme.example");
    assert_eq!(p.method, "LLDP-MED");
    assert_eq!(p.civic["HNO"], "2000");
    assert_eq!(p.civic["RD"], "Regency");
    assert_eq!(p.civic["A3"], "Cary");
    assert_eq!(p.location(), "Bldg 4 Fl 2");
    assert_eq!(p.conference_mode.as_deref(), Some("twoway"));
    assert!(p
        .conference_uri
        .as_deref()
        .unwrap()
        .starts_with("sip:+19195550100@"));
    let c = p.civic_address();
    assert_eq!(c.one_line(), "2000 REGENCY PKWY, CARY NC");
    // What we write reads back the same.
    let l = lis();
    let (erl, _) = l
        .locate(&Client {
            mac: Some("3c:52:82:00:00:03".into()),
            ..Default::default()
        })
        .unwrap();
    let back = PidfLo::parse(&pidf::write(erl, "sip:x@acme.example", "Manual")).unwrap();
    assert_eq!(back.civic_address(), erl.civic);
    assert_eq!(
        (back.location(), back.method.as_str()),
        ("Mobile Cart 3".into(), "Manual")
    );
    assert!(PidfLo::parse("<presence><tuple></presence>").is_err());
    assert!(PidfLo::parse("<foo/>").unwrap_err().contains("presence"));
}

#[test]
fn the_sip_provider_routes_validated_locations_with_an_esqk_and_the_rest_to_the_ecrc() {
    let msag = Msag::parse(&fixture("docs/datafill/cary.msag")).unwrap();
    let mut sp = SipProvider::new(msag, 919, &[123, 124, 200], 10);
    let ok = PidfLo::parse(&fixture("docs/location/lync-pidf.xml")).unwrap();
    let r = sp.route(Some(&ok), 9195550100);
    // ESN 124 is the second ESN: its pool is 919-211-0100 … 0109.
    assert_eq!(
        r,
        SipRoute::Psap {
            esn: 124,
            esqk: 9192110100
        }
    );
    assert_eq!(
        sp.route(Some(&ok), 9195550100),
        SipRoute::Psap {
            esn: 124,
            esqk: 9192110101
        }
    );
    // The PSAP's ALI query with the ESQK returns the caller's ERL.
    let rec = &sp.ali[&9192110100];
    assert_eq!(
        (rec.address(), rec.location.as_str()),
        ("2000 REGENCY PKWY".into(), "Bldg 4 Fl 2")
    );
    assert_eq!(rec.customer, "VOIP CBN 9195550100");
    assert!(rec.write().is_ok(), "a valid NENA record");
    assert!(sp.srdb_rows().contains(&(9192110100, 124)));
    // Unvalidated, manual, missing: the ECRC.
    let bad = PidfLo::parse(&fixture("docs/location/unvalidated-pidf.xml")).unwrap();
    match sp.route(Some(&bad), 9195550300) {
        SipRoute::Ecrc(why) => assert!(why.contains("O (street not in the MSAG)"), "{why}"),
        r => panic!("{r:?}"),
    }
    let mut manual = ok.clone();
    manual.method = "Manual".into();
    assert!(matches!(sp.route(Some(&manual), 1), SipRoute::Ecrc(w) if w.contains("MANUAL")));
    assert!(matches!(sp.route(None, 1), SipRoute::Ecrc(w) if w.contains("NO LOCATION")));
}

/// Finding 19 (issue 29): docs/sip.md's Asterisk example shows a call that routes — the PIDF-LO
/// Asterisk's res_geolocation builds from that `location_info` and `method` validates against the
/// bundled MSAG to an ESN — and the same location with `method = Manual` goes to the ECRC.
#[test]
fn finding_19_the_asterisk_example_routes() {
    let doc = fixture("docs/sip.md");
    let field = |key: &str| -> String {
        let l = doc
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("docs/sip.md: no `{key} =` line"));
        let v = l.split_once('=').unwrap().1;
        v.split(';').next().unwrap().trim().to_string()
    };
    let method = field("method");
    let info = field("location_info");
    // res_geolocation: each `KEY=value` of location_info one civicAddress element.
    let civic: String = info
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            format!("<ca:{k}>{v}</ca:{k}>")
        })
        .collect();
    let pidf_with = |method: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
  xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:alice@asterisk">
 <device id="alice"><gp:geopriv><gp:location-info><ca:civicAddress>{civic}</ca:civicAddress>
 </gp:location-info><gp:usage-rules/><gp:method>{method}</gp:method></gp:geopriv></device>
</presence>"#
        )
    };
    let msag = Msag::parse(&fixture("docs/datafill/cary.msag")).unwrap();
    let provider = SipProvider::new(msag, 919, &[123, 124, 200], 4);
    let p = PidfLo::parse(&pidf_with(&method)).unwrap();
    assert_eq!(provider.validate(Some(&p)), Ok(123), "{method} {info}");
    let manual = PidfLo::parse(&pidf_with("Manual")).unwrap();
    assert_eq!(
        provider.validate(Some(&manual)),
        Err("MANUAL LOCATION (NOT VALIDATED)".to_string())
    );
}
