//! MSAG: the Master Street Address Guide, street ranges with their ESN, and address validation
//! with NENA-style error codes (`docs/location.md`). A validated TN's ESN becomes its
//! E911SRDB row.
//!
//! File format (CSV, `#` comments, a header line of these names first):
//! `PRD,STREET,STS,POD,LOW,HIGH,OEB,COMMUNITY,STATE,EXCHANGE,ESN` — prefix directional, street
//! name, street suffix, post directional, low and high house number, `O`dd/`E`ven/`B`oth,
//! community, state, exchange, ESN.

use std::fmt;

/// Odd, even or both sides of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    Odd,
    Even,
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub prd: String,
    pub street: String,
    pub sts: String,
    pub pod: String,
    pub low: u32,
    pub high: u32,
    pub parity: Parity,
    pub community: String,
    pub state: String,
    pub exchange: String,
    pub esn: u16,
    pub line: usize,
}

/// An address to validate (upper case, trimmed; empty = absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub house_number: String,
    pub prd: String,
    pub street: String,
    pub sts: String,
    pub pod: String,
    pub community: String,
    pub state: String,
    pub exchange: String,
}

/// Why an address did not validate (NENA-style codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// I: incomplete (no house number, street or community).
    Incomplete,
    /// M: several ranges match.
    Multiple,
    /// E: matches only when the exchange is ignored.
    Exchange,
    /// C: matches only when the community is ignored.
    Community,
    /// T: matches only when the thoroughfare type (street suffix) is ignored.
    Thoroughfare,
    /// P: matches only when the prefix directional is ignored.
    Prefix,
    /// A: the street is there, but the house number is outside every range (or on the wrong side).
    Address,
    /// O: other (no such street in the MSAG).
    Other,
}

impl Failure {
    pub fn code(self) -> char {
        match self {
            Failure::Incomplete => 'I',
            Failure::Multiple => 'M',
            Failure::Exchange => 'E',
            Failure::Community => 'C',
            Failure::Thoroughfare => 'T',
            Failure::Prefix => 'P',
            Failure::Address => 'A',
            Failure::Other => 'O',
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Failure::Incomplete => "incomplete address",
            Failure::Multiple => "several MSAG ranges match",
            Failure::Exchange => "matches only ignoring the exchange",
            Failure::Community => "matches only ignoring the community",
            Failure::Thoroughfare => "matches only ignoring the street suffix",
            Failure::Prefix => "matches only ignoring the prefix directional",
            Failure::Address => "house number outside every range of the street",
            Failure::Other => "street not in the MSAG",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.text())
    }
}

/// The MSAG.
#[derive(Debug, Clone, Default)]
pub struct Msag {
    pub ranges: Vec<Range>,
}

const HEADER: [&str; 11] = [
    "PRD",
    "STREET",
    "STS",
    "POD",
    "LOW",
    "HIGH",
    "OEB",
    "COMMUNITY",
    "STATE",
    "EXCHANGE",
    "ESN",
];

/// A house number by the MSAG's own rule: digits only (1–10 of them, NENA's HOUSE_NUMBER
/// field; leading zeros allowed), its suffix apart (HNS, HOUSE_NUMBER_SUFFIX). `1e400`, `12-14`,
/// `123A` or `½` are not house numbers.
pub fn house_number(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("NO HOUSE NUMBER".into());
    }
    if t.len() > 10 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "HOUSE NUMBER `{}` IS NOT 1-10 DIGITS (A SUFFIX GOES APART, PIDF-LO HNS)",
            crate::text::one_line(t)
        ));
    }
    t.parse()
        .map_err(|_| format!("HOUSE NUMBER {t} IS BEYOND EVERY MSAG RANGE"))
}

fn house(s: &str) -> Option<u32> {
    house_number(s).ok()
}

/// Which fields a match looks at.
#[derive(Clone, Copy)]
struct Ignore {
    exchange: bool,
    community: bool,
    sts: bool,
    prd: bool,
    number: bool,
}

const EXACT: Ignore = Ignore {
    exchange: false,
    community: false,
    sts: false,
    prd: false,
    number: false,
};

impl Msag {
    /// Parse the CSV text; every bad line is an error `LINE: MSAG.FIELD: message`.
    pub fn parse(text: &str) -> Result<Msag, Vec<String>> {
        let mut ranges = Vec::new();
        let mut errors = Vec::new();
        let mut header_seen = false;
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let f: Vec<String> = l
                .split(',')
                .map(|x| x.trim().to_ascii_uppercase())
                .collect();
            if !header_seen {
                if f != HEADER {
                    errors.push(format!(
                        "{line}: MSAG: the first line must be the header {}",
                        HEADER.join(",")
                    ));
                    return Err(errors);
                }
                header_seen = true;
                continue;
            }
            if f.len() != HEADER.len() {
                errors.push(format!(
                    "{line}: MSAG: {} fields, want {}",
                    f.len(),
                    HEADER.len()
                ));
                continue;
            }
            let num = |i: usize| -> Result<u32, String> {
                f[i].parse::<u32>().map_err(|_| {
                    format!(
                        "{line}: MSAG.{}: `{}` is not a house number",
                        HEADER[i], f[i]
                    )
                })
            };
            let r = (|| {
                let (low, high) = (num(4)?, num(5)?);
                if low > high {
                    return Err(format!("{line}: MSAG.LOW: {low} is above HIGH {high}"));
                }
                let parity = match f[6].as_str() {
                    "O" => Parity::Odd,
                    "E" => Parity::Even,
                    "B" => Parity::Both,
                    o => return Err(format!("{line}: MSAG.OEB: `{o}` is not O, E or B")),
                };
                if f[1].is_empty() || f[7].is_empty() {
                    return Err(format!("{line}: MSAG.STREET/COMMUNITY: both are required"));
                }
                let esn = f[10]
                    .parse::<u16>()
                    .map_err(|_| format!("{line}: MSAG.ESN: `{}` is not an ESN", f[10]))?;
                Ok(Range {
                    prd: f[0].clone(),
                    street: f[1].clone(),
                    sts: f[2].clone(),
                    pod: f[3].clone(),
                    low,
                    high,
                    parity,
                    community: f[7].clone(),
                    state: f[8].clone(),
                    exchange: f[9].clone(),
                    esn,
                    line,
                })
            })();
            match r {
                Ok(r) => ranges.push(r),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() && ranges.is_empty() {
            errors.push(if header_seen {
                "1: MSAG: no ranges after the header".to_string()
            } else {
                format!(
                    "1: MSAG: empty (want the header {} and ranges)",
                    HEADER.join(",")
                )
            });
        }
        if errors.is_empty() {
            Ok(Msag { ranges })
        } else {
            Err(errors.iter().map(|e| crate::text::one_line(e)).collect())
        }
    }

    fn matches(&self, a: &Address, n: u32, ig: Ignore) -> Vec<&Range> {
        self.ranges
            .iter()
            .filter(|r| {
                r.street == a.street
                    && r.pod == a.pod
                    && (ig.prd || r.prd == a.prd)
                    && (ig.sts || r.sts == a.sts)
                    && (ig.community || r.community == a.community)
                    && (ig.exchange || a.exchange.is_empty() || r.exchange == a.exchange)
                    && (a.state.is_empty() || r.state == a.state)
                    && (ig.number
                        || ((r.low..=r.high).contains(&n)
                            && match r.parity {
                                Parity::Odd => n % 2 == 1,
                                Parity::Even => n.is_multiple_of(2),
                                Parity::Both => true,
                            }))
            })
            .collect()
    }

    /// Validate an address: the one matching range, or why not.
    pub fn validate(&self, a: &Address) -> Result<&Range, Failure> {
        let Some(n) = house(&a.house_number) else {
            return Err(Failure::Incomplete);
        };
        if a.street.is_empty() || a.community.is_empty() {
            return Err(Failure::Incomplete);
        }
        let exact = self.matches(a, n, EXACT);
        match exact.len() {
            1 => return Ok(exact[0]),
            0 => {}
            _ => return Err(Failure::Multiple),
        }
        let tries = [
            (
                Failure::Exchange,
                Ignore {
                    exchange: true,
                    ..EXACT
                },
            ),
            (
                Failure::Community,
                Ignore {
                    community: true,
                    ..EXACT
                },
            ),
            (Failure::Thoroughfare, Ignore { sts: true, ..EXACT }),
            (Failure::Prefix, Ignore { prd: true, ..EXACT }),
            (
                Failure::Address,
                Ignore {
                    number: true,
                    ..EXACT
                },
            ),
        ];
        for (f, ig) in tries {
            if !self.matches(a, n, ig).is_empty() {
                return Err(f);
            }
        }
        Err(Failure::Other)
    }
}

impl Address {
    /// From an ALI record.
    pub fn of_ali(r: &super::ali::AliRecord) -> Address {
        Address {
            house_number: r.house_number.clone(),
            prd: r.prefix_dir.clone(),
            street: r.street.clone(),
            sts: r.street_suffix.clone(),
            pod: r.post_dir.clone(),
            community: r.community.clone(),
            state: r.state.clone(),
            exchange: r.exchange.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn house_numbers_are_digits_by_the_msags_rule() {
        assert_eq!(house_number("123"), Ok(123));
        assert_eq!(house_number(" 00123 "), Ok(123));
        for bad in ["1e400", "123A", "12-14", "", "½", "12345678901", "-5", "+5"] {
            assert!(house_number(bad).is_err(), "{bad}");
        }
        assert!(house_number("9999999999").unwrap_err().contains("BEYOND"));
    }
}
