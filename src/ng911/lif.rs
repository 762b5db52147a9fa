//! The LNG's LIF (location interwork, NENA i3): a wireline caller's location from the ALI record
//! of its ANI, as the PIDF-LO (RFC 4119, RFC 5139 civic elements, NENA CLDXF names) that goes in
//! the call's INVITE and that an ECRF or ESRP maps by. The same writer as the Lync path
//! ([`crate::location::pidf::write`]): one PIDF-LO shape in the project.

use crate::location::ali::AliRecord;
use crate::location::lis::{Civic, Erl};
use crate::location::pidf;

/// The civic location of an ALI record: house number and suffix, prefix directional, street,
/// suffix, post directional, community (A3), state (A1), ZIP (PC), country US; the record's
/// location text (apartment, floor) as LOC and its customer as NAM.
pub fn erl_of_ali(r: &AliRecord) -> Erl {
    Erl {
        description: r.address(),
        location: r.location.trim().to_string(),
        company_name: r.customer.trim().to_string(),
        civic: Civic {
            house_number: r.house_number.trim().to_string(),
            house_suffix: r.house_suffix.trim().to_string(),
            prd: r.prefix_dir.trim().to_string(),
            street: r.street.trim().to_string(),
            sts: r.street_suffix.trim().to_string(),
            pod: r.post_dir.trim().to_string(),
            city: r.community.trim().to_string(),
            state: r.state.trim().to_string(),
            postal_code: r.zip.trim().to_string(),
            country: "US".into(),
        },
    }
}

/// The PIDF-LO of an ALI record, for the caller `entity` (`tel:+1NPANXXXXXX`), method `Wireline`
/// (the location comes from the service address on file, not a measurement).
pub fn pidf_of_ali(r: &AliRecord, entity: &str) -> String {
    pidf::write(&erl_of_ali(r), entity, "Wireline")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::ali::Ali;
    use crate::location::pidf::PidfLo;

    #[test]
    fn an_ali_record_reads_back_as_its_civic_address() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/datafill/cary.ali"
        ))
        .unwrap();
        let (ali, errors) = Ali::parse(&text);
        assert!(errors.is_empty(), "{errors:?}");
        let r = ali.lookup(9_195_550_100).expect("316 N ACADEMY ST");
        let p = PidfLo::parse(&pidf_of_ali(r, "tel:+19195550100")).unwrap();
        assert_eq!(p.entity, "tel:+19195550100");
        assert_eq!(p.method, "Wireline");
        for (k, v) in [
            ("country", "US"),
            ("A1", "NC"),
            ("A3", "CARY"),
            ("PRD", "N"),
            ("RD", "ACADEMY"),
            ("STS", "ST"),
            ("HNO", "316"),
            ("LOC", "TOWN HALL 2ND FL"),
        ] {
            assert_eq!(
                p.civic.get(k).map(String::as_str),
                Some(v),
                "{k}: {:?}",
                p.civic
            );
        }
    }
}
