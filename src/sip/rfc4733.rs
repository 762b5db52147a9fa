//! RFC 4733 telephone-events (a phone's keys sent as RTP events, not as tones) regenerated as
//! DTMF on the trunk, so the PSAP position hears a key as it would from a TDM caller and the
//! tandem's receivers detect it. One event is one key: its tones last the event's duration (the
//! sender's own count, RFC 4733 §2.5.1.3), however the packets repeat it; the end packet's three
//! copies add nothing. Sans I/O: packets in, samples out.

use crate::register::dtmf::{dtmf_freqs, DTMF_KEYS};

/// The longest a key is played (a stuck event must not hold the line): 5 s.
const MOST: u32 = 40_000;

/// The key of event code `e` (0–9, `*` 10, `#` 11, A–D 12–15), or `None` (a flash or another
/// event this trunk does not regenerate).
pub fn key(e: u8) -> Option<char> {
    match e {
        0 => Some('0'),
        1..=9 => Some((b'0' + e) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(DTMF_KEYS[(e - 12) as usize][3]),
        _ => None,
    }
}

/// One telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub code: u8,
    pub end: bool,
    /// −dBm0 of the event's power (0–63).
    pub volume: u8,
    /// Samples since the event's start (its RTP timestamp).
    pub duration: u16,
}

impl Event {
    pub fn read(payload: &[u8]) -> Option<Event> {
        let p = payload.get(..4)?;
        Some(Event {
            code: p[0],
            end: p[1] & 0x80 != 0,
            volume: p[1] & 0x3f,
            duration: u16::from_be_bytes([p[2], p[3]]),
        })
    }
}

/// The regenerator of one call's events.
#[derive(Debug, Default)]
pub struct Regenerator {
    /// The current event: its RTP timestamp, key, samples played, per-tone peak.
    current: Option<(u32, char, u32, f64)>,
    /// Keys regenerated, in order.
    pub keys: String,
}

impl Regenerator {
    /// The samples event packet `ev` (RTP timestamp `ts`) adds to the trunk.
    pub fn take(&mut self, ts: u32, ev: Event) -> Vec<i16> {
        let Some(k) = key(ev.code) else {
            return Vec::new();
        };
        let fresh = !matches!(self.current, Some((t, ..)) if t == ts);
        if fresh {
            // Two tones summing to the event's power, each 3 dB under it, kept inside the
            // receivers' range (−38 … +3 dBm0 per tone).
            let per_tone = (-(ev.volume as f64) - 3.0).clamp(-30.0, -6.0);
            self.current = Some((ts, k, 0, crate::units::dbm0_to_peak(per_tone)));
            if self.keys.len() < 64 {
                self.keys.push(k);
            }
        }
        let Some((_, k, played, peak)) = &mut self.current else {
            unreachable!("set above")
        };
        // At most 200 ms per packet (they come every 20–50 ms): a forged duration cannot make one
        // packet cost seconds of synthesis.
        let upto = (ev.duration as u32).min(MOST).min(*played + 1600);
        if upto <= *played {
            return Vec::new();
        }
        let (lo, hi) = dtmf_freqs(*k).expect("a DTMF key");
        let w = |f: u32| 2.0 * std::f64::consts::PI * f as f64 / crate::units::SAMPLE_RATE as f64;
        let out = (*played..upto)
            .map(|n| {
                let n = n as f64;
                crate::units::to_i16_f64(*peak * ((w(lo) * n).sin() + (w(hi) * n).sin()))
            })
            .collect();
        *played = upto;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::dtmf::DtmfReceiver;

    fn pkt(code: u8, end: bool, duration: u16) -> Event {
        Event::read(&[
            code,
            if end { 0x80 } else { 0 } | 10,
            (duration >> 8) as u8,
            duration as u8,
        ])
        .unwrap()
    }

    /// A phone's `*1` as RTP events (each key 100 ms in 20 ms updates, the end sent 3 times,
    /// 60 ms of silence between) comes out as DTMF our receiver reads as `*1`, once each.
    #[test]
    fn events_become_dtmf_the_receiver_detects_once_each() {
        let mut r = Regenerator::default();
        let mut line: Vec<i16> = vec![0; 400];
        for (ts, code) in [(1000u32, 10u8), (3000, 1)] {
            for d in (160..=800).step_by(160) {
                line.extend(r.take(ts, pkt(code, d == 800, d as u16)));
            }
            for _ in 0..2 {
                assert!(r.take(ts, pkt(code, true, 800)).is_empty(), "repeated end");
            }
            line.extend(std::iter::repeat_n(0, 480));
        }
        assert_eq!(r.keys, "*1");
        let mut rx = DtmfReceiver::new();
        let mut got = String::new();
        rx.process(&line, &mut |e| {
            if e.on {
                got.push(e.key)
            }
        });
        rx.finish(&mut |e| {
            if e.on {
                got.push(e.key)
            }
        });
        assert_eq!(got, "*1");
        // 100 ms each.
        assert_eq!(line.len(), 400 + 2 * (800 + 480));
    }

    #[test]
    fn codes_map_to_keys() {
        assert_eq!(key(0), Some('0'));
        assert_eq!(key(9), Some('9'));
        assert_eq!(key(10), Some('*'));
        assert_eq!(key(11), Some('#'));
        assert_eq!(key(12), Some('A'));
        assert_eq!(key(15), Some('D'));
        assert_eq!(key(16), None);
        assert!(Event::read(&[1, 2]).is_none());
    }
}
