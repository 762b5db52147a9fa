//! The record of one INVITE: every INVITE to an emergency or test number ends in exactly one,
//! naming where it went (`psap`, `ecrc`, `test`) and how it ended. Written as it closes, as a line
//! of text or of JSON (`--format jsonl`; docs/sip.md "Call records").

use serde::Serialize;

use super::media::MediaStats;
use crate::sim::psap::Screen;
use crate::tandem::record::CallRecord;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SipRecord {
    /// 1-based, in the order INVITEs arrived.
    pub call: u64,
    /// `psap` (through the tandem), `ecrc`, `test` (933, answered by the provider), `refused`
    /// (malformed: 400 with the reason).
    pub kind: &'static str,
    /// When the INVITE arrived. Every `*_ms` of a record — this one's and its `tandem` record's —
    /// is on one clock: ms since the server started.
    pub invite_ms: f64,
    pub transport: String,
    pub call_id: String,
    /// The Request-URI's user part (`911`, `+911`, `urn:service:sos`, `933`).
    pub dialled: String,
    /// The callback number (10 digits) and the header it came from.
    pub callback: Option<String>,
    pub callback_from: String,
    /// How the location was found (`Geolocation <cid:…>`, `the last PIDF-LO part`), or what
    /// there was instead.
    pub location_by: String,
    /// The civic address, one line, as validated (or as sent, when it was not).
    pub address: Option<String>,
    /// The location label (PIDF-LO `LOC`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub esn: Option<u16>,
    /// The ESQK the provider gave the call (the ANI the PSAP received).
    pub esqk: Option<String>,
    /// Where it went: the PSAP (and position), the ECRC's name, or the PSAP a test call would
    /// have reached.
    pub psap: Option<String>,
    pub position: Option<u32>,
    /// ECRC: why the location was not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the 180 Ringing went (`ringing_ms − invite_ms`: the caller's wait for it).
    pub ringing_ms: Option<f64>,
    /// When the 200 OK went.
    pub answered_ms: Option<f64>,
    /// When the caller left before any answer (CANCEL, BYE): the call was abandoned then,
    /// whatever the PSAP position did after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandoned_ms: Option<f64>,
    /// What ended the call: `caller BYE`, `PSAP BYE`, `CANCEL`, `RTP timeout`, …
    pub ended_by: String,
    /// When the call ended.
    pub ended_ms: f64,
    /// A 933 call: what the provider told the caller (the SIP MESSAGE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub media: Option<MediaStats>,
    /// The tandem's record of the ESGW trunk call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tandem: Option<CallRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub screens: Vec<Screen>,
    /// Anything odd about the INVITE or the call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the PSAP position heard (kept only for `--out`).
    #[serde(skip)]
    pub psap_leg: Vec<i16>,
}

impl SipRecord {
    /// One line of the text log: whatever a caller put in a header or a location (a newline from
    /// `&#10;`, an ESC sequence) is escaped, so a record is always one line and cannot forge
    /// another; UTF-8 is kept as it is.
    pub fn text(&self) -> String {
        crate::text::one_line(&self.raw_text())
    }

    fn raw_text(&self) -> String {
        let mut t = format!(
            "call {}: {} {} from {} ({}) → ",
            self.call,
            self.transport,
            self.dialled,
            self.callback.as_deref().unwrap_or("NO CALLBACK NUMBER"),
            self.call_id
        );
        match self.kind {
            "psap" => {
                t += &format!(
                    "ESN {} ESQK {} → {} pos {}",
                    self.esn.map_or("-".into(), |e| e.to_string()),
                    self.esqk.as_deref().unwrap_or("-"),
                    self.psap.as_deref().unwrap_or("-"),
                    self.position.map_or("-".into(), |p| p.to_string())
                )
            }
            "ecrc" => {
                t += &format!(
                    "ECRC {}: {}",
                    self.psap.as_deref().unwrap_or("-"),
                    self.reason.as_deref().unwrap_or("")
                )
            }
            "refused" => t += &format!("REFUSED: {}", self.reason.as_deref().unwrap_or("")),
            _ => {
                t += &format!(
                    "TEST CALL answered by the provider: {}",
                    self.message.as_deref().unwrap_or("")
                )
            }
        }
        if let Some(a) = &self.address {
            t += &format!(" | {a}");
        }
        // In the text, each time as the caller lived it: after the INVITE.
        let after = |m: f64| format!("{:.0} ms", m - self.invite_ms);
        if let Some(a) = self.abandoned_ms {
            t += &format!(" | ABANDONED {} after the INVITE", after(a));
        }
        t += &format!(
            " | 180 {} | 200 {} | ended by {} after {:.1} s",
            self.ringing_ms.map_or("-".into(), after),
            self.answered_ms.map_or("-".into(), after),
            self.ended_by,
            (self.ended_ms - self.invite_ms) / 1000.0
        );
        if let Some(m) = &self.media {
            t += &format!(
                " | RTP in {} out {} lost {}",
                m.packets_in, m.packets_out, m.lost
            );
        }
        for s in &self.screens {
            t += &format!(" | screen {} pos {}: {}", s.psap, s.position, s.screen);
        }
        for n in &self.notes {
            t += &format!(" | note: {n}");
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding 18 (issue 29): one clock and one unit per record. The JSON gives every time in ms
    /// on the server's clock (no `invite_s`, no `duration_s`), the text each as a wait after the
    /// INVITE; the tandem's record, made on the office's clock, is moved onto the same one.
    #[test]
    fn finding_18_one_clock_one_unit() {
        let r = SipRecord {
            call: 1,
            kind: "psap",
            invite_ms: 1000.0,
            ringing_ms: Some(3500.0),
            answered_ms: Some(5700.0),
            ended_ms: 8500.0,
            ended_by: "caller BYE".into(),
            ..Default::default()
        };
        let j = serde_json::to_value(&r).unwrap();
        for k in ["invite_ms", "ringing_ms", "answered_ms", "ended_ms"] {
            assert!(j[k].is_f64(), "{k}: {j}");
        }
        assert!(j.get("invite_s").is_none() && j.get("duration_s").is_none());
        let t = r.text();
        assert!(
            t.contains("| 180 2500 ms | 200 4700 ms | ended by caller BYE after 7.5 s"),
            "{t}"
        );
        // An office record at office time 400 ms, the office started 250 ms after the server.
        let mut c = CallRecord {
            call: 1,
            trunk: "VPCESGW".into(),
            channel: 0,
            seized_ms: 400.0,
            called: "911".into(),
            ani_spill: String::new(),
            ani: None,
            ani_status: "ok",
            esn: None,
            esn_source: None,
            psap: None,
            position: None,
            outpulsed: None,
            answered_ms: Some(4000.0),
            abandoned: false,
            abandoned_ms: None,
            abandoned_while: None,
            transfers: Vec::new(),
            released_ms: Some(9000.0),
            position_released_ms: None,
            logs: Vec::new(),
        };
        c.shift(250.0);
        assert_eq!(
            (
                c.seized_ms,
                c.answered_ms,
                c.released_ms,
                c.position_released_ms
            ),
            (650.0, Some(4250.0), Some(9250.0), None)
        );
    }
}
