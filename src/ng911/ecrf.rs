//! An ECRF answered from the office's own data: a LoST `findService` for `urn:service:sos` (or
//! one of its sub-services, `urn:service:sos.police` …) at a civic location → the MSAG range
//! that holds the address → its ESN → the ESN's primary PSAP (table E911ESN) → that PSAP's SIP
//! URI. What the office's data cannot map is `notFound`, naming why; a geodetic point is
//! `notFound` too (the office has street ranges, not polygons). No I/O and no clock: the server
//! ([`super::ecrf_server`]) passes the time in.

use std::collections::BTreeMap;

use super::lost::{FindService, LostError, Mapping, Where};
use crate::location::msag::{Address, Msag};
use crate::tandem::tables::Office;

/// Where calls for one ESN go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub esn: u16,
    pub psap: String,
    pub uri: String,
}

#[derive(Debug, Clone)]
pub struct Ecrf {
    msag: Msag,
    routes: BTreeMap<u16, Route>,
    /// This server's name in answers (`source`, `via`).
    pub source: String,
    /// How long a mapping may be cached (seconds).
    pub ttl_s: u64,
}

impl Ecrf {
    /// The ECRF of `office` and its `msag`; each PSAP's URI is `psap_uri(name)`.
    pub fn new(office: &Office, msag: Msag, psap_uri: impl Fn(&str) -> String) -> Ecrf {
        let routes = office
            .esns
            .values()
            .map(|e| {
                (
                    e.esn,
                    Route {
                        esn: e.esn,
                        psap: e.primary.clone(),
                        uri: psap_uri(&e.primary),
                    },
                )
            })
            .collect();
        Ecrf {
            msag,
            routes,
            source: "ecrf.e911.invalid".into(),
            ttl_s: 86_400,
        }
    }

    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.values()
    }

    /// The mapping for `q`, at `now_unix_s`.
    pub fn find(&self, q: &FindService, now_unix_s: u64) -> Result<Mapping, LostError> {
        let service = q.service.trim();
        if service != "urn:service:sos" && !service.starts_with("urn:service:sos.") {
            return Err(LostError::new(
                "serviceNotImplemented",
                format!("`{service}`: this ECRF maps urn:service:sos only"),
            ));
        }
        let civic = q.locations.iter().find_map(|(_, w)| match w {
            Where::Civic(c) => Some(c),
            Where::Point(..) => None,
        });
        let Some(c) = civic else {
            return Err(if q.locations.is_empty() {
                LostError::new("badRequest", "the query has no location")
            } else {
                LostError::new(
                    "notFound",
                    "a geodetic location: this ECRF maps civic addresses (MSAG ranges) only",
                )
            });
        };
        let get = |k: &str| {
            c.get(k)
                .map(|v| v.trim().to_uppercase())
                .unwrap_or_default()
        };
        let a = Address {
            house_number: get("HNO"),
            prd: get("PRD"),
            street: get("RD"),
            sts: get("STS"),
            pod: get("POD"),
            community: get("A3"),
            state: get("A1"),
            exchange: String::new(),
        };
        let words = |w: &[&String]| {
            w.iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let shown = crate::text::one_line(&format!(
            "{}, {}",
            words(&[&a.house_number, &a.prd, &a.street, &a.sts, &a.pod]),
            words(&[&a.community, &a.state])
        ));
        let range = self.msag.validate(&a).map_err(|f| {
            LostError::new(
                "notFound",
                format!("`{shown}`: not in the MSAG ({}: {})", f.code(), f.text()),
            )
        })?;
        let route = self.routes.get(&range.esn).ok_or_else(|| {
            LostError::new(
                "notFound",
                format!(
                    "`{shown}`: ESN {} (MSAG line {}) has no E911ESN row",
                    range.esn, range.line
                ),
            )
        })?;
        Ok(Mapping {
            display_name: route.psap.clone(),
            service: service.to_string(),
            uri: route.uri.clone(),
            service_number: "911".into(),
            expires: rfc3339(now_unix_s + self.ttl_s),
            last_updated: rfc3339(now_unix_s),
            source: self.source.clone(),
            source_id: format!("esn-{}", route.esn),
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (civil from days, Howard Hinnant's algorithm).
pub fn rfc3339(t: u64) -> String {
    let days = (t / 86_400) as i64;
    let s = t % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_in_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2026-12-08 00:21:22 UTC (`date -u -d @1796689282`).
        assert_eq!(rfc3339(1_796_689_282), "2026-12-08T00:21:22Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
