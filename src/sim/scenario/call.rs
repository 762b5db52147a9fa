//! One `[[call]]` of a scenario, validated against the office: its trunk and channel, ANI (or ANI
//! trouble), called digits, hold, voice and impairments, and what the answering attendant does.

use super::*;

impl Scenario {
    pub(super) fn call(
        name: &str,
        n: usize,
        c: &CallFile,
        office: &Office,
        trunks: &BTreeMap<String, usize>,
    ) -> Result<CallSpec, String> {
        let at = |field: &str, msg: String| format!("{name}: call {n}: {field}: {msg}");
        let tg = office
            .trunk_groups
            .get(&c.trunk)
            .ok_or_else(|| at("trunk", format!("{} is not in TRKGRP", c.trunk)))?;
        let count = *trunks.get(&c.trunk).ok_or_else(|| {
            at(
                "trunk",
                format!("{} has no trunks (add it under [trunks])", c.trunk),
            )
        })?;
        if let Some(ch) = c.channel {
            if ch >= count {
                return Err(at(
                    "channel",
                    format!("{ch}, but {} has {count} trunk(s)", c.trunk),
                ));
            }
        }
        let client = match (&c.user, &c.client) {
            (Some(u), Some(cf)) => Some((u.clone(), cf.client().map_err(|e| at("client", e))?)),
            (None, None) => None,
            _ => {
                return Err(at(
                    "user",
                    "an enterprise call needs both `user` and `client`".into(),
                ))
            }
        };
        let ani = match c.ani.as_deref() {
            // Resolved by the ELIN gateway (Fail stands for "no fallback number").
            None if client.is_some() => AniSpec::Fail,
            None if !tg.ani => AniSpec::None,
            None => {
                return Err(at(
                    "ani",
                    format!(
                        "{} sends ANI: give a TN or fail/attendant/garbled/timeout/none",
                        c.trunk
                    ),
                ))
            }
            Some("fail") => AniSpec::Fail,
            Some("attendant") => AniSpec::Attendant,
            Some("garbled") => AniSpec::Garbled,
            Some("timeout") => AniSpec::Timeout,
            Some("none") => AniSpec::None,
            Some(s) if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) => {
                AniSpec::Tn(s.parse().unwrap())
            }
            Some(s) if s.len() == 7 && s.bytes().all(|b| b.is_ascii_digit()) => {
                AniSpec::Tn(tg.npa as u64 * 10_000_000 + s.parse::<u64>().unwrap())
            }
            Some(s) => {
                return Err(at(
                    "ani",
                    format!(
                    "`{s}` is not a 10- or 7-digit TN, fail, attendant, garbled, timeout or none"
                ),
                ))
            }
        };
        if !tg.ani && ani != AniSpec::None {
            return Err(at(
                "ani",
                format!("{} is a non-ANI office (ANI N): it sends no spill", c.trunk),
            ));
        }
        let called = match &c.called {
            Some(s) if s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 10 => s.clone(),
            Some(s) => return Err(at("called", format!("`{s}` is not 0–10 digits"))),
            None => match tg.called {
                Called::D911 => "911".into(),
                Called::D11 => "11".into(),
                Called::D1 => "1".into(),
                Called::None => String::new(),
            },
        };
        let voice = match c.voice.as_deref() {
            None => None,
            Some(v) => Some(parse_voice(v).map_err(|e| at("voice", e))?),
        };
        let g711 = match c.g711.as_deref() {
            None => None,
            Some("ulaw") => Some(Law::Ulaw),
            Some("alaw") => Some(Law::Alaw),
            Some(s) => return Err(at("g711", format!("`{s}`: ulaw or alaw"))),
        };
        let mut mf = MfTiming::default();
        if let Some(l) = c.mf_level_dbm0 {
            mf.dbm0 = within(
                l,
                -60.0,
                0.0,
                "dBm0",
                &format!("{name}: call {n}: mf_level_dbm0"),
            )?;
        }
        if let Some(t) = c.mf_twist_db {
            mf.twist_db = within(
                t,
                -10.0,
                10.0,
                "dB",
                &format!("{name}: call {n}: mf_twist_db"),
            )?;
        }
        if mf.dbm0 + mf.twist_db.max(0.0) > 0.0 {
            return Err(at(
                "mf_twist_db",
                format!(
                    "the high tone at {} dBm0 is above 0 dBm0 (it would clip with the low tone)",
                    mf.dbm0 + mf.twist_db
                ),
            ));
        }
        let noise_dbm0 = match c.noise_dbm0 {
            Some(v) => Some(within(
                v,
                -90.0,
                -10.0,
                "dBm0",
                &format!("{name}: call {n}: noise_dbm0"),
            )?),
            None => None,
        };
        let kind = if client.is_some() {
            "enterprise"
        } else {
            "trunk"
        };
        let actions = Self::actions(name, n, &c.psap)?;
        Ok(CallSpec {
            n,
            at: ms(c.at_ms, &format!("{name}: call {n}: at_ms"))?,
            group: c.trunk.clone(),
            channel: c.channel,
            ani,
            called,
            hold: ms(
                c.hold_ms.unwrap_or(30_000.0),
                &format!("{name}: call {n}: hold_ms"),
            )?,
            voice,
            noise_dbm0,
            g711,
            mf,
            actions,
            client,
            label: None,
            kind,
        })
    }

    pub(super) fn actions(
        name: &str,
        n: usize,
        psap: &[ActionFile],
    ) -> Result<Vec<(u64, Act)>, String> {
        let at = |field: &str, msg: String| format!("{name}: call {n}: {field}: {msg}");
        let mut actions = Vec::new();
        for (k, a) in psap.iter().enumerate() {
            let field = format!("psap[{k}]");
            let after = ms(a.after_ms, &format!("{name}: call {n}: {field}.after_ms"))?;
            let words: Vec<&str> = a.what.split_whitespace().collect();
            let act = match words.as_slice() {
                ["transfer", code] => Act::Transfer(keys(code).map_err(|e| at(&field, e))?),
                ["flash"] => Act::Flash,
                ["dial", code] => Act::Dial(keys(code).map_err(|e| at(&field, e))?),
                ["hangup"] => Act::Hangup,
                _ => {
                    return Err(at(
                        &field,
                        format!(
                            "do = `{}`: transfer *1X, flash, dial KEYS or hangup",
                            a.what
                        ),
                    ))
                }
            };
            actions.push((after, act));
        }
        actions.sort_by_key(|a| a.0);
        Ok(actions)
    }
}

fn keys(code: &str) -> Result<String, String> {
    if code
        .chars()
        .all(|c| crate::register::dtmf::dtmf_freqs(c).is_some())
    {
        Ok(code.to_string())
    } else {
        Err(format!("`{code}` is not DTMF keys (0-9 * # A-D)"))
    }
}

pub fn parse_voice(v: &str) -> Result<Voice, String> {
    let w: Vec<&str> = v.split_whitespace().collect();
    match w.as_slice() {
        ["tone", hz, dbm0] => {
            let hz: u32 = hz
                .parse()
                .map_err(|_| format!("`{hz}` is not a whole frequency in Hz"))?;
            let dbm0: f64 = dbm0
                .parse()
                .map_err(|_| format!("`{dbm0}` is not a level in dBm0"))?;
            if !(50..=3900).contains(&hz) || !(-60.0..=3.0).contains(&dbm0) {
                return Err(format!("tone {hz} Hz {dbm0} dBm0: 50–3900 Hz, −60…+3 dBm0"));
            }
            Ok(Voice::Tone { hz, dbm0 })
        }
        _ => Err(format!("`{v}`: voice = \"tone HZ DBM0\"")),
    }
}
