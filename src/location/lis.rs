//! The enterprise Location Information service (Lync Server 2013, seed 000; location.md
//! §Enterprise): a wiremap from what a client sees on the network to an Emergency Response
//! Location (ERL), loaded from CSV files in Lync's import column order:
//!
//! | file | columns |
//! |---|---|
//! | wireless access points | `BSSID,Description,Location,CompanyName,HouseNumber,HouseNumberSuffix,PreDirectional,StreetName,StreetSuffix,PostDirectional,City,State,PostalCode,Country` |
//! | ports | `ChassisID,PortIDSubType,PortID,` then the same ten address columns after `Description,Location,CompanyName` |
//! | switches | `ChassisID,Description,Location,CompanyName,…` |
//! | subnets | `Subnet,Description,Location,CompanyName,…` (`10.1.20.0`, a /24, or `10.1.20.0/23`) |
//! | client MACs | `MACAddress,Description,Location,CompanyName,…` (our stand-in for Lync's SNMP step) |
//!
//! A first line naming the columns is allowed. Lookup precedence: BSSID → switch chassis + port →
//! chassis → subnet → client MAC. `Location` (the ERL's label) is at most 20 characters; in an
//! ELIN-gateway deployment `CompanyName` carries the ELINs, `;`-separated.

use std::collections::HashMap;
use std::net::Ipv4Addr;

/// A civic address as Lync stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Civic {
    pub house_number: String,
    pub house_suffix: String,
    pub prd: String,
    pub street: String,
    pub sts: String,
    pub pod: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

impl Civic {
    pub fn one_line(&self) -> String {
        [
            format!("{}{}", self.house_number, self.house_suffix),
            self.prd.clone(),
            self.street.clone(),
            self.sts.clone(),
            self.pod.clone(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
            + &format!(", {} {}", self.city, self.state)
    }

    /// As an MSAG address (the city is the MSAG community).
    pub fn msag_address(&self) -> super::msag::Address {
        super::msag::Address {
            house_number: self.house_number.clone(),
            prd: self.prd.clone(),
            street: self.street.clone(),
            sts: self.sts.clone(),
            pod: self.pod.clone(),
            community: self.city.clone(),
            state: self.state.clone(),
            exchange: String::new(),
        }
    }
}

/// An Emergency Response Location.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erl {
    pub description: String,
    /// The label within the building (≤ 20 characters), e.g. `Bldg 4 Fl 2`.
    pub location: String,
    /// ELINs in an ELIN-gateway deployment.
    pub company_name: String,
    pub civic: Civic,
}

impl Erl {
    /// The ELINs in CompanyName (`;`-separated, hyphens allowed), as 10-digit numbers.
    pub fn elins(&self) -> Vec<u64> {
        self.company_name
            .split(';')
            .filter_map(|e| {
                let d: String = e.chars().filter(|c| c.is_ascii_digit()).collect();
                (d.len() == 10).then(|| d.parse().ok()).flatten()
            })
            .collect()
    }
}

/// Which wiremap a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Wap,
    Port,
    Switch,
    Subnet,
    Mac,
}

impl Table {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Table::Wap => &["BSSID"],
            Table::Port => &["CHASSISID", "PORTIDSUBTYPE", "PORTID"],
            Table::Switch => &["CHASSISID"],
            Table::Subnet => &["SUBNET"],
            Table::Mac => &["MACADDRESS"],
        }
    }
}

const ADDRESS: [&str; 13] = [
    "DESCRIPTION",
    "LOCATION",
    "COMPANYNAME",
    "HOUSENUMBER",
    "HOUSENUMBERSUFFIX",
    "PREDIRECTIONAL",
    "STREETNAME",
    "STREETSUFFIX",
    "POSTDIRECTIONAL",
    "CITY",
    "STATE",
    "POSTALCODE",
    "COUNTRY",
];

/// What a client reports about where it is on the network.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub bssid: Option<String>,
    pub chassis: Option<String>,
    pub port: Option<String>,
    pub ip: Option<Ipv4Addr>,
    pub mac: Option<String>,
}

/// The wiremap.
#[derive(Debug, Clone, Default)]
pub struct Lis {
    waps: HashMap<String, Erl>,
    ports: HashMap<(String, String), Erl>,
    switches: HashMap<String, Erl>,
    subnets: Vec<(u32, u32, Erl)>,
    macs: HashMap<String, Erl>,
}

/// `00:11:22:AA:BB:CC`, `00-11-22-aa-bb-cc` → `00-11-22-AA-BB-CC`.
pub fn norm_mac(s: &str) -> String {
    s.trim().to_ascii_uppercase().replace(':', "-")
}

fn parse_subnet(s: &str) -> Option<(u32, u32)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse::<u32>().ok()?),
        None => (s, 24),
    };
    if len > 32 {
        return None;
    }
    let ip: Ipv4Addr = a.trim().parse().ok()?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some((u32::from(ip) & mask, mask))
}

impl Lis {
    /// Load one CSV file of wiremap `table`; errors name the line and column.
    pub fn load(&mut self, table: Table, text: &str) -> Result<usize, Vec<String>> {
        let keys = table.keys();
        let want = keys.len() + ADDRESS.len();
        let mut errors = Vec::new();
        let mut n = 0;
        // Each key once per table: the later row would silently win a lookup.
        let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = l.split(',').map(|x| x.trim()).collect();
            if f.first().map(|s| s.to_ascii_uppercase()) == Some(keys[0].to_string()) {
                continue; // a header line
            }
            if f.len() != want {
                errors.push(format!(
                    "{line}: LIS: {} columns, want {want} ({},{})",
                    f.len(),
                    keys.join(","),
                    ADDRESS.join(",")
                ));
                continue;
            }
            let key = match table {
                Table::Port => format!("{} port {}", norm_mac(f[0]), f[2].to_ascii_uppercase()),
                Table::Subnet => f[0].to_string(),
                _ => norm_mac(f[0]),
            };
            if let Some(first) = seen.insert(key, line) {
                errors.push(format!(
                    "{line}: LIS.{}: `{}` is already on line {first}",
                    keys[0], f[0]
                ));
                continue;
            }
            let a = &f[keys.len()..];
            if a[1].chars().count() > 20 {
                errors.push(format!(
                    "{line}: LIS.Location: `{}` is longer than 20 characters",
                    a[1]
                ));
                continue;
            }
            let erl = Erl {
                description: a[0].to_string(),
                location: a[1].to_string(),
                company_name: a[2].to_string(),
                civic: Civic {
                    house_number: a[3].into(),
                    house_suffix: a[4].to_ascii_uppercase(),
                    prd: a[5].to_ascii_uppercase(),
                    street: a[6].to_ascii_uppercase(),
                    sts: a[7].to_ascii_uppercase(),
                    pod: a[8].to_ascii_uppercase(),
                    city: a[9].to_ascii_uppercase(),
                    state: a[10].to_ascii_uppercase(),
                    postal_code: a[11].into(),
                    country: a[12].to_ascii_uppercase(),
                },
            };
            match table {
                Table::Wap => {
                    self.waps.insert(norm_mac(f[0]), erl);
                }
                Table::Port => {
                    self.ports
                        .insert((norm_mac(f[0]), f[2].to_ascii_uppercase()), erl);
                }
                Table::Switch => {
                    self.switches.insert(norm_mac(f[0]), erl);
                }
                Table::Subnet => match parse_subnet(f[0]) {
                    Some((net, mask)) => self.subnets.push((net, mask, erl)),
                    None => {
                        errors.push(format!("{line}: LIS.Subnet: `{}` is not a subnet", f[0]));
                        continue;
                    }
                },
                Table::Mac => {
                    self.macs.insert(norm_mac(f[0]), erl);
                }
            }
            n += 1;
        }
        if n == 0 && errors.is_empty() {
            errors.push(format!(
                "1: LIS: no rows ({} header and at least one row)",
                keys.join(",")
            ));
        }
        // Longest prefix first.
        self.subnets.sort_by_key(|s| std::cmp::Reverse(s.1));
        if errors.is_empty() {
            Ok(n)
        } else {
            Err(errors.iter().map(|e| crate::text::one_line(e)).collect())
        }
    }

    /// The client's ERL and which element found it: BSSID, then switch chassis + port, chassis,
    /// subnet, client MAC.
    pub fn locate(&self, c: &Client) -> Option<(&Erl, &'static str)> {
        if let Some(e) = c.bssid.as_ref().and_then(|b| self.waps.get(&norm_mac(b))) {
            return Some((e, "wireless access point"));
        }
        if let (Some(ch), Some(p)) = (&c.chassis, &c.port) {
            if let Some(e) = self.ports.get(&(norm_mac(ch), p.to_ascii_uppercase())) {
                return Some((e, "switch port"));
            }
        }
        if let Some(e) = c
            .chassis
            .as_ref()
            .and_then(|ch| self.switches.get(&norm_mac(ch)))
        {
            return Some((e, "switch"));
        }
        if let Some(ip) = c.ip {
            let x = u32::from(ip);
            if let Some((_, _, e)) = self.subnets.iter().find(|(n, m, _)| x & m == *n) {
                return Some((e, "subnet"));
            }
        }
        if let Some(e) = c.mac.as_ref().and_then(|m| self.macs.get(&norm_mac(m))) {
            return Some((e, "client MAC"));
        }
        None
    }

    /// Every ERL in the wiremap (for provisioning ALI with the ELINs).
    pub fn erls(&self) -> Vec<&Erl> {
        let mut v: Vec<&Erl> = self
            .waps
            .values()
            .chain(self.ports.values())
            .chain(self.switches.values())
            .chain(self.subnets.iter().map(|s| &s.2))
            .chain(self.macs.values())
            .collect();
        v.sort_by(|a, b| (&a.company_name, &a.location).cmp(&(&b.company_name, &b.location)));
        v.dedup_by(|a, b| a == b);
        v
    }
}
