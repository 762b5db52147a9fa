//! The calls up, and what reaches one: each call's event channel by id, each dialog's call and
//! media, the calls waiting for a PRACK. The server registers a call and hands its task a
//! [`CallCtx`] — the provider's settings and tables, the office's command channel, its own event
//! sender — and nothing else of the server's.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::config::Config;
use super::media::MediaStats;
use super::office::{Cmd, Ev};
use crate::location::enterprise::SipProvider;
use crate::tandem::tables::Office;

/// Events a call may have waiting.
pub const CALL_EVENTS: usize = 256;

/// What a call task hears.
pub(super) enum CallEv {
    Office(Ev),
    Acked,
    /// The caller ended the dialog (BYE, CANCEL) or the transaction layer gave up.
    Gone(super::call_state::Gone),
    /// The provider is stopping: release the call.
    Shutdown,
    /// The provider's drain was cut short: write the record now, wait for nothing.
    Forced,
    Media(MediaStats),
    /// Something for the record's notes (a hold, a resume, moved media).
    Note(String),
    /// No session refresh within the session interval (RFC 4028 §10).
    SessionExpired,
}

/// A dialog's call, and its media once the call has an answer to give.
pub(super) struct DialogEntry {
    pub call: u64,
    pub media: Option<MediaCtl>,
    /// Told of every re-INVITE and UPDATE (a session refresh, RFC 4028).
    pub refreshed: tokio::sync::watch::Sender<()>,
}

/// What a re-INVITE or UPDATE needs: our address, the SDP's session and version, the offer in
/// force, and the running leg's channel for a new one.
pub(super) struct MediaCtl {
    pub ip: IpAddr,
    pub port: u16,
    pub session: u64,
    pub version: u64,
    pub offer: super::sdp::Offer,
    pub updates: tokio::sync::watch::Sender<super::sdp::Offer>,
}

impl MediaCtl {
    pub fn answer(&self) -> String {
        super::sdp::answer(self.ip, self.port, &self.offer, self.session, self.version)
    }
}

/// The calls up.
#[derive(Default)]
pub(super) struct Registry {
    /// Each call's events: bounded ([`CALL_EVENTS`]); a call that falls that far behind loses
    /// the newest, with a warning (its task is stuck; its record still closes).
    calls: Mutex<HashMap<u64, mpsc::Sender<CallEv>>>,
    /// Dialog id → its call and media.
    pub dialogs: Mutex<HashMap<String, DialogEntry>>,
    /// Calls waiting for the PRACK of a reliable 180, by Call-ID.
    pracks: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
}

impl Registry {
    /// A new call `id`: its event channel (the sender kept here, the receiver for its task).
    pub fn add(&self, id: u64) -> (mpsc::Sender<CallEv>, mpsc::Receiver<CallEv>) {
        let (tx, rx) = mpsc::channel(CALL_EVENTS);
        self.calls.lock().unwrap().insert(id, tx.clone());
        (tx, rx)
    }

    /// Call `id` is over.
    pub fn remove(&self, id: u64, call_id: &str) {
        self.calls.lock().unwrap().remove(&id);
        self.pracks.lock().unwrap().remove(call_id);
    }

    pub fn send(&self, id: u64, ev: CallEv) {
        if let Some(s) = self.calls.lock().unwrap().get(&id) {
            if let Err(mpsc::error::TrySendError::Full(_)) = s.try_send(ev) {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: call {id} is {CALL_EVENTS} events behind: one dropped"
                );
            }
        }
    }

    /// The call of dialog `dialog`, if it is up.
    pub fn call_of(&self, dialog: &str) -> Option<u64> {
        self.dialogs.lock().unwrap().get(dialog).map(|e| e.call)
    }

    /// What a call waits on for the PRACK of its reliable 180.
    pub fn prack_waiter(&self, call_id: &str) -> Arc<tokio::sync::Notify> {
        self.pracks
            .lock()
            .unwrap()
            .entry(call_id.to_string())
            .or_default()
            .clone()
    }

    /// A PRACK came (the transports see it before the stack answers it).
    pub fn prack(&self, call_id: &str) {
        if let Some(n) = self.pracks.lock().unwrap().get(call_id) {
            n.notify_one();
        }
    }

    /// Every call still up: write your record now (`shutdown (forced)`).
    pub fn force_all(&self) {
        for s in self.calls.lock().unwrap().values() {
            let _ = s.try_send(CallEv::Forced);
        }
    }

    /// Calls still up.
    pub fn calls_up(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

/// What one call's task may reach.
pub(super) struct CallCtx {
    pub cfg: Arc<Config>,
    /// MSAG validation, ESQK pools, registered locations, ALI per ESQK.
    pub provider: Arc<Mutex<SipProvider>>,
    /// The office's tables (an ESN's PSAPs, for the 933 answer).
    pub office: Arc<Office>,
    /// Commands to the office thread.
    pub to_office: crossbeam_channel::Sender<Cmd>,
    /// Its own events (its timers and media report here).
    pub events: mpsc::Sender<CallEv>,
    /// Where its dialog's media is kept for re-INVITEs.
    pub registry: Arc<Registry>,
}

impl CallCtx {
    /// A command to the office: it waits while the channel is full.
    pub fn command(&self, c: Cmd) {
        super::config::wait_send(&self.to_office, c);
    }
}
