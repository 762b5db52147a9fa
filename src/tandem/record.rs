//! The tandem's call records (`calls.jsonl`, README "Call records"): what happened to each call,
//! written by the switch as things happen and never read back to decide anything.

use serde::Serialize;

/// How a selective transfer ended (`transfers[].outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferOutcome {
    /// The target is seized or queued and has not answered yet.
    Pending,
    /// The target answered: three-way conference.
    Conferenced,
    /// NONE, an invalid code, or a second code while one was pending: reorder, call untouched.
    Reorder,
    /// The code was not completed in time.
    Timeout,
}

impl TransferOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferOutcome::Pending => "pending",
            TransferOutcome::Conferenced => "conferenced",
            TransferOutcome::Reorder => "reorder",
            TransferOutcome::Timeout => "timeout",
        }
    }
}

impl std::fmt::Display for TransferOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for TransferOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One selective transfer a PSAP asked for (`calls.jsonl` `transfers[]`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TransferRecord {
    /// The keys dialled (`*11`; what came before a timeout; empty for a flash with no digits).
    pub code: String,
    /// The PSAP whose attendant flashed.
    pub from: String,
    pub flashed_ms: f64,
    pub target: Option<String>,
    pub position: Option<u32>,
    pub outcome: TransferOutcome,
    pub outpulsed: Option<String>,
    pub answered_ms: Option<f64>,
    /// When the target position released (its PSAP went on-hook).
    pub released_ms: Option<f64>,
}

impl CallRecord {
    /// Every time of the record moved by `ms`: the record read on another clock (a SIP
    /// record's, whose zero is the server's start, not the office's).
    pub fn shift(&mut self, ms: f64) {
        let add = |t: &mut Option<f64>| {
            if let Some(v) = t {
                *v += ms;
            }
        };
        self.seized_ms += ms;
        add(&mut self.answered_ms);
        add(&mut self.abandoned_ms);
        add(&mut self.released_ms);
        add(&mut self.position_released_ms);
        for x in &mut self.transfers {
            x.flashed_ms += ms;
            add(&mut x.answered_ms);
            add(&mut x.released_ms);
        }
    }
}

/// One call (`calls.jsonl`, contract).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallRecord {
    pub call: u64,
    pub trunk: String,
    pub channel: usize,
    pub seized_ms: f64,
    pub called: String,
    pub ani_spill: String,
    pub ani: Option<String>,
    pub ani_status: &'static str,
    pub esn: Option<u16>,
    pub esn_source: Option<&'static str>,
    pub psap: Option<String>,
    pub position: Option<u32>,
    pub outpulsed: Option<String>,
    /// When the position answered. On an abandoned call the caller was gone by then: the call
    /// is still delivered, so the PSAP has its ANI/ALI to call back.
    pub answered_ms: Option<f64>,
    /// The caller hung up before any position answered.
    pub abandoned: bool,
    /// When the caller hung up, on an abandoned call.
    pub abandoned_ms: Option<f64>,
    /// Where the call was when the caller hung up: `in setup`, `queued at PSAP`,
    /// `ringing at PSAP/POSITION`.
    pub abandoned_while: Option<String>,
    pub transfers: Vec<TransferRecord>,
    /// When the end-office side released (the PSAPs hold their side: called-party hold). On SF
    /// trunks this is when the disconnect was recognised: 1.3 s of idle tone after the hang-up.
    pub released_ms: Option<f64>,
    /// When the position of the call's own delivery released (the PSAP went on-hook).
    pub position_released_ms: Option<f64>,
    pub logs: Vec<String>,
}
