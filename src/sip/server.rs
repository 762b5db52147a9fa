//! The SIP side of the provider (rsipstack: transactions, dialogs, retransmissions, UDP and TCP):
//! every INVITE to an emergency number is answered somewhere and ends in exactly one
//! [`SipRecord`]. A call task per INVITE drives its dialog from three sources: the office's
//! events ([`Ev`]), the dialog's own states (ACK, BYE, CANCEL, re-INVITE, OPTIONS), and its media.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::{HasHeaders, Header, HeadersExt, Method, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use tokio_util::sync::CancellationToken;

pub use super::config::Config;
use super::invite::{self, Dialled};
use super::office::{Cmd, Ev};
use super::record::SipRecord;
use super::registry::{CallCtx, CallEv, DialogEntry, Registry};
use crate::location::enterprise::SipProvider;
use crate::tandem::tables::Office;

/// What every call task shares.
pub struct Shared {
    pub cfg: Arc<Config>,
    pub office: Arc<Office>,
    pub provider: Arc<Mutex<SipProvider>>,
    pub to_office: crossbeam_channel::Sender<Cmd>,
    pub records: crossbeam_channel::Sender<SipRecord>,
    /// The calls up.
    pub(super) registry: Arc<Registry>,
    next: AtomicU64,
    started: Instant,
    /// Refused INVITEs already recorded (Call-ID + CSeq), oldest first.
    refused_seen: Mutex<(HashSet<String>, VecDeque<String>)>,
    /// Messages dropped before the stack.
    dropped: AtomicU64,
}

impl Shared {
    pub fn new(
        cfg: Config,
        office: Office,
        provider: SipProvider,
        to_office: crossbeam_channel::Sender<Cmd>,
        records: crossbeam_channel::Sender<SipRecord>,
        started: Instant,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            cfg: Arc::new(cfg),
            office: Arc::new(office),
            provider: Arc::new(Mutex::new(provider)),
            to_office,
            records,
            registry: Arc::new(Registry::default()),
            next: AtomicU64::new(1),
            started,
            refused_seen: Mutex::new((HashSet::new(), VecDeque::new())),
            dropped: AtomicU64::new(0),
        })
    }

    /// A record to the writer: it waits while the channel is full, never dropped.
    pub(super) fn record(&self, r: SipRecord) {
        super::config::wait_send(&self.records, r);
    }

    pub(super) fn send(&self, id: u64, ev: CallEv) {
        self.registry.send(id, ev);
    }

    /// Hand an office event to its call.
    pub fn office_event(&self, ev: Ev) {
        let id = match &ev {
            Ev::Delivered { id, .. }
            | Ev::Queued { id }
            | Ev::Answered { id }
            | Ev::PsapReleased { id }
            | Ev::Done { id, .. } => *id,
            Ev::KeyFree { esqk } => {
                self.provider.lock().unwrap().release(*esqk);
                return;
            }
            Ev::Late { ms } => {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: the office ran {ms:.0} ms behind the clock"
                );
                return;
            }
        };
        self.send(id, CallEv::Office(ev));
    }

    /// An INVITE the guard refused as malformed (400): its record — one per INVITE, however
    /// often it is retransmitted.
    pub(super) fn refused(&self, req: &rsipstack::sip::Request, from: &str, why: &str) {
        let call_id = req.header_value("Call-ID").unwrap_or_default();
        let cseq = req.header_value("CSeq").unwrap_or_default();
        let inv = invite::read(&req.uri.to_string(), &headers_of(req), &req.body);
        let reason = format!("400 MALFORMED REQUEST: {why}");
        self.refused_record(&call_id, &cseq, from, reason, "400 Bad Request", inv);
    }

    /// An INVITE turned away with `503` (the office full, the provider stopping): its record.
    pub(super) fn turned_away(&self, req: &rsipstack::sip::Request, from: &str, reason: String) {
        let call_id = req.header_value("Call-ID").unwrap_or_default();
        let cseq = req.header_value("CSeq").unwrap_or_default();
        let inv = invite::read(&req.uri.to_string(), &headers_of(req), &req.body);
        let ended = "503 Service Unavailable";
        self.refused_record(&call_id, &cseq, from, reason, ended, inv);
    }

    /// An INVITE the transport's gate stopped (RFC 3261 §8.2.2.1's `505`, or no Via: nowhere to
    /// answer): its record, as every INVITE has one. Other messages are only logged (a drop).
    pub(super) fn gated(&self, text: &str, from: &str, g: &super::wire::Gate) {
        let h = super::wire::Head::read(text);
        if !h.is_request() || h.method() != "INVITE" {
            return;
        }
        match g {
            super::wire::Gate::Answer(_, code) => {
                let reason = format!(
                    "{code} VERSION NOT SUPPORTED: {}",
                    crate::text::one_line(h.version())
                );
                self.raw_record(&h, from, reason, "505 Version Not Supported");
            }
            super::wire::Gate::Drop(why) => {
                let reason = format!("DROPPED: {}", why.to_uppercase());
                self.raw_record(&h, from, reason, "dropped (no answer possible)");
            }
            super::wire::Gate::Pass => {}
        }
    }

    /// An INVITE the stack could not read at all (400 sent from its raw text): its record.
    pub(super) fn refused_raw(&self, h: &super::wire::Head, from: &str, why: &str) {
        let reason = format!("400 MALFORMED REQUEST: {why}");
        self.raw_record(h, from, reason, "400 Bad Request");
    }

    /// The record of an INVITE known only by its raw text.
    fn raw_record(&self, h: &super::wire::Head, from: &str, reason: String, ended_by: &str) {
        let headers: Vec<(String, String)> = ["P-Asserted-Identity", "From"]
            .iter()
            .filter_map(|n| h.value(n, "").map(|v| (n.to_string(), v.to_string())))
            .collect();
        let inv = invite::read(h.uri(), &headers, &[]);
        let call_id = h.value("Call-ID", "i").unwrap_or("").to_string();
        let cseq = h.value("CSeq", "").unwrap_or("").to_string();
        self.refused_record(&call_id, &cseq, from, reason, ended_by, inv);
    }

    fn refused_record(
        &self,
        call_id: &str,
        cseq: &str,
        from: &str,
        reason: String,
        ended_by: &str,
        inv: invite::Invite,
    ) {
        {
            let mut seen = self.refused_seen.lock().unwrap();
            let key = format!("{call_id}\n{cseq}");
            if seen.0.contains(&key) {
                return;
            }
            // Retransmissions come within 32 s (64 × T1): the last 4 096 keys are plenty.
            if seen.1.len() >= 4096 {
                if let Some(old) = seen.1.pop_front() {
                    seen.0.remove(&old);
                }
            }
            seen.0.insert(key.clone());
            seen.1.push_back(key);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let now_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.record(SipRecord {
            call: id,
            kind: "refused",
            invite_ms: now_ms,
            ended_ms: now_ms,
            transport: from.to_string(),
            call_id: call_id.to_string(),
            dialled: match inv.dialled {
                Dialled::Emergency(u) | Dialled::Test(u) | Dialled::Other(u) => u,
            },
            callback: inv.callback.map(crate::text::tn_dashed),
            callback_from: inv.callback_from,
            reason: Some(reason),
            ended_by: ended_by.into(),
            ..Default::default()
        });
    }

    /// A PRACK came (the transports see it before the stack answers it).
    pub(super) fn prack(&self, call_id: &str) {
        self.registry.prack(call_id);
    }

    /// A message refused before the stack (`why`): the `400` to send back when it is a request
    /// that can be answered (an INVITE's recorded), else `None` (logged as dropped).
    pub(super) fn refuse_raw(
        &self,
        h: &super::wire::Head,
        from: &str,
        why: &str,
    ) -> Option<String> {
        if !h.is_request() || h.method() == "ACK" {
            self.dropped(from, why);
            return None;
        }
        if h.method() == "INVITE" {
            self.refused_raw(h, from, why);
        }
        Some(super::wire::refusal(h, "400 Bad Request", why))
    }

    /// A message dropped before the stack (nothing could be answered): logged with its source.
    pub(super) fn dropped(&self, from: &str, why: &str) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = writeln!(
            std::io::stderr(),
            "e911 sip: dropped a message from {}: {} ({n} dropped so far)",
            crate::text::one_line(from),
            crate::text::one_line(why)
        );
    }

    /// Every call still up: write your record now (`shutdown (forced)`).
    pub fn force_all(&self) {
        self.registry.force_all();
    }

    /// Calls still up.
    pub fn calls_up(&self) -> usize {
        self.registry.calls_up()
    }
}

fn headers_of(req: &rsipstack::sip::Request) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect()
}

/// Does the request's To carry a tag (RFC 3261 §12.2: it belongs to a dialog)?
fn in_a_dialog(req: &rsipstack::sip::Request) -> bool {
    req.headers().iter().any(|h| {
        let n = h.name();
        (n.eq_ignore_ascii_case("To") || n.eq_ignore_ascii_case("t"))
            && h.value()
                .split(';')
                .skip(1)
                .any(|p| p.trim().to_ascii_lowercase().starts_with("tag="))
    })
}

fn warning(text: &str) -> Header {
    Header::Other(
        "Warning".into(),
        format!("399 e911 \"{}\"", text.replace('"', "'")),
    )
}

/// An incoming transaction outside any dialog (or the start of one).
pub async fn incoming(
    shared: Arc<Shared>,
    layer: Arc<DialogLayer>,
    stop: CancellationToken,
    mut tx: Transaction,
) {
    let contact = layer.build_local_contact(None, None).ok();
    if let Some(mut d) = layer.match_dialog(&tx) {
        let _ = d.handle(&mut tx).await;
        return;
    }
    // A request inside a dialog we do not have (it ended, or never was) is not a new call:
    // 481 (RFC 3261 §12.2.2); an ACK is never answered.
    if in_a_dialog(&tx.original) {
        if tx.original.method != Method::Ack {
            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
        }
        return;
    }
    match tx.original.method {
        Method::Invite => {}
        Method::Options => {
            let _ = tx
                .reply_with(
                    StatusCode::OK,
                    vec![
                        Header::Other(
                            "Allow".into(),
                            "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO".into(),
                        ),
                        Header::Other(
                            "Accept".into(),
                            "application/sdp, multipart/mixed, application/pidf+xml".into(),
                        ),
                    ],
                    None,
                )
                .await;
            return;
        }
        Method::Ack => return,
        Method::Bye | Method::Cancel => {
            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            return;
        }
        _ => {
            let _ = tx
                .reply_with(
                    StatusCode::MethodNotAllowed,
                    vec![warning("this trunk takes emergency INVITEs (and OPTIONS)")],
                    None,
                )
                .await;
            return;
        }
    }
    let uri = tx.original.uri.to_string();
    let inv = invite::read(&uri, &headers_of(&tx.original), &tx.original.body);
    if let Dialled::Other(user) = &inv.dialled {
        let _ = tx
            .reply_with(
                StatusCode::NotFound,
                vec![warning(&format!(
                    "not an emergency number: `{user}` (this trunk takes 911, +911, urn:service:sos and the 933 test)"
                ))],
                None,
            )
            .await;
        return;
    }
    if stop.is_cancelled() {
        let h = vec![warning("the provider is stopping")];
        let why = "503 THE PROVIDER IS STOPPING".to_string();
        return turn_away(&shared, &mut tx, h, why).await;
    }
    let up = shared.calls_up();
    if up >= shared.cfg.max_calls {
        let h = vec![
            Header::Other("Retry-After".into(), "5".into()),
            warning(&format!(
                "{up} emergency calls up: the office takes no more now"
            )),
        ];
        let why = format!("503 OFFICE FULL: {up} CALLS UP (--max-calls; Retry-After 5)");
        return turn_away(&shared, &mut tx, h, why).await;
    }
    let (state_tx, state_rx) = layer.new_dialog_state_channel();
    let dialog = match layer.get_or_create_server_invite(&tx, state_tx, None, contact) {
        Ok(d) => d,
        Err(e) => {
            let why = e.to_string();
            let _ = tx
                .reply_with(
                    StatusCode::BadRequest,
                    vec![warning(&format!("malformed request: {why}"))],
                    None,
                )
                .await;
            let from = tx
                .connection
                .as_ref()
                .map_or("?".into(), |c| c.get_addr().to_string());
            shared.refused(&tx.original, &from, &why);
            return;
        }
    };
    let id = shared.next.fetch_add(1, Ordering::Relaxed);
    let dialog_id = dialog.id();
    let (refreshed_tx, refreshed_rx) = tokio::sync::watch::channel(());
    let (ev_tx, ev_rx) = shared.registry.add(id);
    shared.registry.dialogs.lock().unwrap().insert(
        dialog.id().to_string(),
        DialogEntry {
            call: id,
            media: None,
            refreshed: refreshed_tx,
        },
    );
    let mut rec = SipRecord {
        call: id,
        invite_ms: shared.started.elapsed().as_secs_f64() * 1000.0,
        transport: tx.connection.as_ref().map_or("?".into(), |c| {
            c.get_addr().r#type.map_or("?".into(), |t| t.to_string())
        }),
        call_id: tx.original.header_value("Call-ID").unwrap_or_default(),
        ..Default::default()
    };
    // Stopping ends the call.
    let over = CancellationToken::new();
    let (sh, st, ov) = (shared.clone(), stop.clone(), over.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = st.cancelled() => sh.send(id, CallEv::Shutdown),
            _ = ov.cancelled() => {}
        }
    });
    let opts = super::call::Opts {
        invite_ip: source_ip(&tx),
        asks: super::session::read(&headers_of(&tx.original), shared.cfg.session_min),
        prack: shared.registry.prack_waiter(&rec.call_id),
        refreshed: refreshed_rx,
    };
    // The dialog's own states, for this call.
    tokio::spawn(dialog_states(shared.clone(), state_rx));
    let mut d2 = dialog.clone();
    tokio::spawn(async move {
        let _ = d2.handle(&mut tx).await;
    });
    let t0 = Instant::now();
    let ctx = CallCtx {
        cfg: shared.cfg.clone(),
        provider: shared.provider.clone(),
        office: shared.office.clone(),
        to_office: shared.to_office.clone(),
        events: ev_tx,
        registry: shared.registry.clone(),
    };
    super::call::call(ctx, dialog, inv, &mut rec, ev_rx, t0, opts).await;
    rec.ended_ms = rec.invite_ms + t0.elapsed().as_secs_f64() * 1000.0;
    over.cancel();
    layer.remove_dialog(&dialog_id);
    shared
        .registry
        .dialogs
        .lock()
        .unwrap()
        .remove(&dialog_id.to_string());
    shared.registry.remove(id, &rec.call_id);
    shared.record(rec);
}

/// `503` with `headers` to an INVITE, and its record saying `why`.
async fn turn_away(shared: &Shared, tx: &mut Transaction, headers: Vec<Header>, why: String) {
    let _ = tx
        .reply_with(StatusCode::ServiceUnavailable, headers, None)
        .await;
    let from = tx
        .connection
        .as_ref()
        .map_or("?".into(), |c| c.get_addr().to_string());
    shared.turned_away(&tx.original, &from, why);
}

/// The IP an INVITE came from: the connection's peer (TCP), else the top Via's `received`
/// (set by the transport from the datagram's source), else its sent-by host.
fn source_ip(tx: &Transaction) -> Option<IpAddr> {
    if let Some(a) = tx.connection.as_ref().and_then(|c| c.get_remote_addr()) {
        if let Ok(s) = a.get_socketaddr() {
            return Some(s.ip());
        }
    }
    let via = tx.original.header_value("Via")?;
    let via = via.split(',').next()?;
    let received = via.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("received")
            .then(|| v.trim().to_string())
    });
    if let Some(ip) = received.and_then(|r| r.parse().ok()) {
        return Some(ip);
    }
    let host = via.split_whitespace().nth(1)?.split(';').next()?;
    let host = host.trim_start_matches('[');
    let host = match host.rfind(']') {
        Some(i) => &host[..i],
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host.parse().ok()
}

async fn dialog_states(
    shared: Arc<Shared>,
    mut rx: rsipstack::dialog::dialog::DialogStateReceiver,
) {
    while let Some(st) = rx.recv().await {
        match st {
            DialogState::Confirmed(id, _) => {
                if let Some(c) = shared.registry.call_of(&id.to_string()) {
                    shared.send(c, CallEv::Acked);
                }
            }
            DialogState::Terminated(id, why) => {
                if let Some(e) = shared
                    .registry
                    .dialogs
                    .lock()
                    .unwrap()
                    .remove(&id.to_string())
                {
                    use super::call_state::Gone;
                    let what = match why {
                        TerminatedReason::UacCancel => Gone::Cancel,
                        TerminatedReason::UacBye => Gone::Bye,
                        TerminatedReason::UasBye => Gone::OurBye,
                        TerminatedReason::Timeout => Gone::NoAck,
                        _ => Gone::Other,
                    };
                    shared.send(e.call, CallEv::Gone(what));
                }
                return;
            }
            // A re-INVITE or UPDATE (a hold, a resume, moved media, a session refresh): the
            // media follows its offer and the answer says so (RFC 3264 §8); no offer, the
            // answer in force again.
            DialogState::Updated(id, req, handle) => {
                if let Some(e) = shared.registry.dialogs.lock().unwrap().get(&id.to_string()) {
                    let _ = e.refreshed.send(());
                }
                let (status, answer, note) = reoffer(&shared, &id.to_string(), &req);
                let (h, b) = match answer {
                    Some(s) => (
                        Some(vec![Header::ContentType("application/sdp".into())]),
                        Some(s.into_bytes()),
                    ),
                    None => (None, None),
                };
                let _ = handle.respond(status, h, b).await;
                if let Some((c, n)) = note {
                    shared.send(c, CallEv::Note(n));
                }
            }
            DialogState::Options(_, _, handle)
            | DialogState::Info(_, _, handle)
            | DialogState::Message(_, _, handle)
            | DialogState::Notify(_, _, handle) => {
                let _ = handle.reply(StatusCode::OK).await;
            }
            DialogState::Refer(_, _, handle) => {
                let _ = handle
                    .respond(
                        StatusCode::NotImplemented,
                        Some(vec![warning("transfers are the PSAP's (*10–*16)")]),
                        None,
                    )
                    .await;
            }
            _ => {}
        }
    }
}

/// A new offer in dialog `id`: the status, our answer, and a note for the call's record.
#[allow(clippy::type_complexity)]
fn reoffer(
    shared: &Shared,
    id: &str,
    req: &rsipstack::sip::Request,
) -> (StatusCode, Option<String>, Option<(u64, String)>) {
    let mut dialogs = shared.registry.dialogs.lock().unwrap();
    let Some(entry) = dialogs.get_mut(id) else {
        return (StatusCode::OK, None, None);
    };
    let call = entry.call;
    let Some(ctl) = entry.media.as_mut() else {
        return (StatusCode::OK, None, None);
    };
    let inv = invite::read(&req.uri.to_string(), &headers_of(req), &req.body);
    let Some(sdp) = inv.sdp else {
        return (StatusCode::OK, Some(ctl.answer()), None);
    };
    match super::sdp::read_offer(&sdp) {
        Ok(o) => {
            let was = ctl.offer.clone();
            if o == was {
                // A session refresh: the same answer, the same version.
                return (StatusCode::OK, Some(ctl.answer()), None);
            }
            ctl.version += 1;
            ctl.offer = o.clone();
            let _ = ctl.updates.send(o.clone());
            let what = match (was.direction.receives(), o.direction.receives()) {
                (true, false) => format!("held by the caller ({:?})", o.direction).to_lowercase(),
                (false, true) => "resumed by the caller".into(),
                _ => format!("media moved to {}", o.remote),
            };
            (StatusCode::OK, Some(ctl.answer()), Some((call, what)))
        }
        Err(e) => (
            StatusCode::NotAcceptableHere,
            None,
            Some((call, format!("re-INVITE refused (488): {e}"))),
        ),
    }
}
