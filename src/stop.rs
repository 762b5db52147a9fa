//! Why a run was asked to stop: the signal a service manager or a user sent (SIGINT from
//! Ctrl-C, SIGTERM from systemd, Docker or Kubernetes, SIGHUP when the terminal goes). The CLI
//! installs the handler (`cli::interrupt`) and sets this; the library only reads it to name the
//! cause in what it writes ("interrupted: SIGTERM"). Every one of the three means the same: stop
//! taking new work, finish or release what is up, write every record.

use std::sync::atomic::{AtomicI32, Ordering};

/// The first stop signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

/// Remember `sig` as the cause (the first one wins).
pub fn record(sig: i32) {
    let _ = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// The signal that stopped the run, if one did.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `SIGINT`, `SIGTERM`, `SIGHUP` (or `signal N`): the cause as it is written in records.
pub fn name_of(sig: i32) -> String {
    match sig {
        SIGHUP => "SIGHUP".into(),
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// The cause of an interrupted run, as records name it (`SIGINT` when none was recorded: a
/// library caller that set its stop flag itself).
pub fn cause() -> String {
    name_of(signal().unwrap_or(SIGINT))
}

/// The exit status of a run a signal stopped: 128 + the signal's number (130 SIGINT, 143 SIGTERM,
/// 129 SIGHUP), as a shell reports a process the signal killed.
pub fn exit_status(sig: i32) -> u8 {
    (128 + sig.clamp(1, 127)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_128_plus_the_signal() {
        assert_eq!(exit_status(SIGINT), 130);
        assert_eq!(exit_status(SIGTERM), 143);
        assert_eq!(exit_status(SIGHUP), 129);
        assert_eq!(name_of(SIGTERM), "SIGTERM");
        assert_eq!(name_of(9), "signal 9");
    }
}
