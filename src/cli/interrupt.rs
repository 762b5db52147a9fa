//! SIGINT (Ctrl-C) ends a long run cleanly: the first one sets a flag the engine and `detect`
//! check once per block, and the command prints and writes everything decided so far; a second
//! one exits at once (130), as a user pressing it twice expects.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The process's interrupt flag, with the handler installed on first use.
pub fn flag() -> Arc<AtomicBool> {
    FLAG.get_or_init(|| {
        let f = Arc::new(AtomicBool::new(false));
        let g = f.clone();
        // If a handler cannot be installed (another library owns SIGINT), Ctrl-C keeps its
        // default meaning: the run stops without its summary.
        let _ = ctrlc::set_handler(move || {
            if g.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\ne911: interrupted: finishing what was decided so far (Ctrl-C again to quit now)"
            );
        });
        f
    })
    .clone()
}

/// Was the run interrupted?
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}
