//! RFC 4733 telephone-events (a phone's keys sent as RTP events, not as tones) regenerated as
//! DTMF on the trunk, so the PSAP position hears a key as it would from a TDM caller and the
//! tandem's receivers detect it. One event is one key: its tones last the event's duration (the
//! sender's own count, RFC 4733 §2.5.1.3), however the packets repeat it; the end packet's three
//! copies add nothing. A phone that goes on sending voice packets during the event (baresip
//! does, alternating them with the event's) has them dropped for the event's span (the event stands
//! for that audio; Asterisk mutes it too): 20 ms of key and 20 ms of voice in
//! turn is no key a receiver can read. Sans I/O: packets in, samples out.

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

/// How far past what has been played an event not yet ended keeps the voice off (samples,
/// 100 ms): events come every 20–50 ms, so a lost end packet mutes the caller 100 ms at most.
const AHEAD: u32 = 800;

/// The regenerator of one call's events.
#[derive(Debug, Default)]
pub struct Regenerator {
    /// The current event: its RTP timestamp, key, samples played, per-tone peak.
    current: Option<(u32, char, u32, f64)>,
    /// The current event's end packet has come.
    ended: bool,
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
            self.ended = false;
            if self.keys.len() < 64 {
                self.keys.push(k);
            }
        }
        self.ended |= ev.end;
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

impl Regenerator {
    /// Does the current event own the line at RTP timestamp `ts` (a voice packet's, dropped if
    /// so)? From the event's timestamp to its end; until the end packet, to what has been played
    /// and [`AHEAD`] beyond.
    pub fn owns(&self, ts: u32) -> bool {
        let Some((t0, _, played, _)) = self.current else {
            return false;
        };
        let d = ts.wrapping_sub(t0) as i32;
        let span = if self.ended { played } else { played + AHEAD };
        d >= 0 && (d as u32) < span
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

    /// baresip's way: voice packets between the event's (odd sequence numbers, the same
    /// timestamps the event covers). The event owns its span; voice before and after plays.
    #[test]
    fn voice_inside_an_event_is_the_events() {
        let mut r = Regenerator::default();
        assert!(!r.owns(1000), "no event yet");
        r.take(1000, pkt(5, false, 160));
        assert!(
            r.owns(1160),
            "voice after the first update: still the key's"
        );
        assert!(!r.owns(840), "voice before the event plays");
        r.take(1000, pkt(5, false, 320));
        r.take(1000, pkt(5, true, 480));
        assert!(r.owns(1320));
        assert!(!r.owns(1480), "past the ended event's 480 samples");
        // An event whose end is lost lets the voice back 100 ms past what was played.
        let mut r = Regenerator::default();
        r.take(5000, pkt(1, false, 160));
        assert!(r.owns(5000 + 160 + 799));
        assert!(!r.owns(5000 + 160 + 800));
        // Timestamps wrap.
        let mut r = Regenerator::default();
        r.take(u32::MAX - 100, pkt(2, false, 320));
        assert!(r.owns(100));
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
