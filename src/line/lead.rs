//! Out-of-band supervision: what the E&M leads of a line without tones carry (a `SUPV NONE`
//! trunk, a PSAP position whose audio is not heard).

/// Supervision carried out of band — the E&M leads of a line without tones on it — in either
/// direction: from the far end to the switch (a seizure, a wink, an answer, a hang-up) and from
/// the switch to the far end (it seizes, sends a spill of known length, releases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    OffHook,
    OnHook,
    /// A wink of `len` samples.
    Wink {
        len: u64,
    },
    /// The switch sends a spill lasting `len` samples.
    Spill {
        len: u64,
    },
}

/// One out-of-band signal: `(port, at, lead)`.
pub type LineSignal = (usize, u64, Lead);
