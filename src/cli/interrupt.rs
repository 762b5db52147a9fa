//! SIGINT (Ctrl-C), SIGTERM (systemd, Docker, Kubernetes) and SIGHUP (the terminal closed) end a
//! long run cleanly, all three alike: the first sets a flag the engine, `detect`, `live` and
//! `sip serve` check, and the command prints and writes everything decided so far, then exits
//! 128 + the signal's number (130, 143, 129). A second signal quits at once — except where the
//! command takes it over ([`forced`]: `sip serve` ends its drain at once and still writes a
//! record for each call up).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::stop;

struct Flags {
    drain: Arc<AtomicBool>,
    forced: Arc<AtomicBool>,
    /// The command handles a second signal itself (sets `forced` instead of exiting).
    takes_second: AtomicBool,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

fn flags() -> &'static Flags {
    FLAGS.get_or_init(|| {
        let f = Flags {
            drain: Arc::new(AtomicBool::new(false)),
            forced: Arc::new(AtomicBool::new(false)),
            takes_second: AtomicBool::new(false),
        };
        install();
        f
    })
}

fn install() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    // If the handlers cannot be installed, the signals keep their default meaning: the run
    // stops without its summary.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let f = flags();
                if !f.drain.swap(true, Ordering::SeqCst) {
                    stop::record(sig);
                    // (stderr may be gone with the terminal: no panic here.)
                    let _ = writeln!(
                        std::io::stderr(),
                        "\ne911: {}: finishing what was decided so far (again to quit now)",
                        stop::name_of(sig)
                    );
                } else if f.takes_second.load(Ordering::SeqCst) {
                    if !f.forced.swap(true, Ordering::SeqCst) {
                        let _ = writeln!(
                            std::io::stderr(),
                            "\ne911: {} again: ending now (calls still up are recorded as forced)",
                            stop::name_of(sig)
                        );
                    }
                } else {
                    std::process::exit(stop::exit_status(stop::signal().unwrap_or(sig)) as i32);
                }
            }
        });
}

/// The process's stop flag, with the handlers installed on first use.
pub fn flag() -> Arc<AtomicBool> {
    flags().drain.clone()
}

/// The flag a second signal sets, for a command that ends its drain itself rather than be
/// ended by the second signal.
pub fn forced() -> Arc<AtomicBool> {
    let f = flags();
    f.takes_second.store(true, Ordering::SeqCst);
    f.forced.clone()
}

/// Was the run interrupted?
pub fn interrupted() -> bool {
    FLAGS.get().is_some_and(|f| f.drain.load(Ordering::SeqCst))
}

/// The exit status of an interrupted run (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
pub fn exit_status() -> u8 {
    stop::exit_status(stop::signal().unwrap_or(stop::SIGINT))
}
