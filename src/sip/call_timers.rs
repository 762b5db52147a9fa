//! A call's own SIP timers, as tasks beside the call ([`super::session`] says what they are):
//! the reliable 180's retransmissions until its PRACK, and the session timer that ends a call
//! whose caller stopped refreshing it.

use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::invite_dialog::InviteDialog;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::registry::CallEv;
use super::session::{prack_wait, Asks};
use tokio::sync::mpsc;

/// Send the 180: reliably when the INVITE asked (retransmitted until `prack` is notified, the
/// call is answered — the dialog then sends no more provisionals — or `stop`).
pub(super) fn ring(
    dialog: &InviteDialog,
    asks: &Asks,
    prack: Arc<Notify>,
    stop: CancellationToken,
) {
    let headers = asks.ringing_headers(1);
    let _ = dialog.ringing(headers.clone(), None);
    let Some(headers) = headers else { return };
    let d = dialog.clone();
    tokio::spawn(async move {
        for k in 1.. {
            let Some(wait) = prack_wait(k) else { return };
            tokio::select! {
                _ = prack.notified() => return,
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {
                    let _ = d.ringing(Some(headers.clone()), None);
                }
            }
        }
    });
}

/// Once answered: with a session interval, tell the call (`events`, its own channel)
/// [`CallEv::SessionExpired`] when a whole interval passes with no refresh (`refreshed` changes
/// on each re-INVITE or UPDATE).
pub(super) fn session_timer(
    events: mpsc::Sender<CallEv>,
    interval: Option<Duration>,
    mut refreshed: watch::Receiver<()>,
    stop: CancellationToken,
) {
    let Some(interval) = interval else { return };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                r = refreshed.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(interval) => {
                    let _ = events.send(CallEv::SessionExpired).await;
                    return;
                }
            }
        }
    });
}
