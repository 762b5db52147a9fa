//! What the switch tells about its calls, as things happen: the SIP office and `live tandem` act
//! on these instead of reading records back and guessing what changed. Each names the call by its
//! id (its record's `call` − 1) and, where a port is concerned, the port (the order of
//! `Tandem::ports`); the details — PSAP names, spills, times — are in the call's record, read by
//! id when the event is taken. Copy and small: telling costs the switch no allocation.

/// One thing that happened to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchEvent {
    /// The called digits and ANI are in and the call is routed: its record begins. `port` is the
    /// trunk it came in on.
    Routed { call: usize, port: usize },
    /// Every position of its PSAP (and overflow) busy: the call waits, hearing ringback.
    Queued { call: usize },
    /// A position seized for the call: its own delivery (`transfer: None`) or transfer `k`.
    Delivered {
        call: usize,
        transfer: Option<usize>,
        port: usize,
    },
    /// That position answered (cut through).
    Answered {
        call: usize,
        transfer: Option<usize>,
    },
    /// A PSAP dialled a transfer code: transfer `k` of the call is recorded (pending, reorder or
    /// timeout; its target and position in the record).
    TransferDialled { call: usize, k: usize },
    /// The caller's trunk released; `abandoned` when no position had answered.
    CallerReleased { call: usize, abandoned: bool },
    /// A position on the call released.
    PositionReleased {
        call: usize,
        transfer: Option<usize>,
        port: usize,
    },
    /// The call was answered and no answered position is left on it: the PSAP side hung up.
    PsapGone { call: usize },
}

impl SwitchEvent {
    /// The call it is about.
    pub fn call(&self) -> usize {
        match *self {
            SwitchEvent::Routed { call, .. }
            | SwitchEvent::Queued { call }
            | SwitchEvent::Delivered { call, .. }
            | SwitchEvent::Answered { call, .. }
            | SwitchEvent::TransferDialled { call, .. }
            | SwitchEvent::CallerReleased { call, .. }
            | SwitchEvent::PositionReleased { call, .. }
            | SwitchEvent::PsapGone { call } => call,
        }
    }
}
