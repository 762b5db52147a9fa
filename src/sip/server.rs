//! The SIP side of the provider (rsipstack: transactions, dialogs, retransmissions, UDP and TCP):
//! every INVITE to an emergency number is answered somewhere and ends in exactly one
//! [`SipRecord`]. A call task per INVITE drives its dialog from three sources: the office's
//! events ([`Ev`]), the dialog's own states (ACK, BYE, CANCEL, re-INVITE, OPTIONS), and its media.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{HasHeaders, Header, HeadersExt, Method, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::invite::{self, Dialled, Located};
use super::media::{self, MediaStats};
use super::office::{Cmd, Ev};
use super::record::SipRecord;
use crate::location::enterprise::{SipProvider, SipRoute};
use crate::location::pidf::PidfLo;
use crate::tandem::tables::Office;

/// How the provider behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where RTP sockets are bound and what the SDP answer names.
    pub media_ip: IpAddr,
    /// No RTP for this long ends an answered call.
    pub rtp_timeout: Duration,
    /// The ECRC's name, for the records.
    pub ecrc: String,
    /// The ECRC answers this long after the INVITE.
    pub ecrc_answer: Duration,
    /// A 933 test call is hung up by the provider this long after its MESSAGE.
    pub test_hold: Duration,
}

/// What a call task hears.
enum CallEv {
    Office(Ev),
    Acked,
    /// The caller ended the dialog (BYE, CANCEL) or the transaction layer gave up.
    Gone(&'static str),
    Media(MediaStats),
}

/// What every call task shares.
pub struct Shared {
    pub cfg: Config,
    pub office: Office,
    pub provider: Mutex<SipProvider>,
    pub to_office: crossbeam_channel::Sender<Cmd>,
    pub records: crossbeam_channel::Sender<SipRecord>,
    calls: Mutex<HashMap<u64, mpsc::UnboundedSender<CallEv>>>,
    /// Dialog id → (call, our SDP answer).
    dialogs: Mutex<HashMap<String, (u64, Option<String>)>>,
    next: AtomicU64,
    started: Instant,
}

impl Shared {
    pub fn new(
        cfg: Config,
        office: Office,
        provider: SipProvider,
        to_office: crossbeam_channel::Sender<Cmd>,
        records: crossbeam_channel::Sender<SipRecord>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            cfg,
            office,
            provider: Mutex::new(provider),
            to_office,
            records,
            calls: Mutex::new(HashMap::new()),
            dialogs: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            started: Instant::now(),
        })
    }

    fn send(&self, id: u64, ev: CallEv) {
        if let Some(s) = self.calls.lock().unwrap().get(&id) {
            let _ = s.send(ev);
        }
    }

    /// Hand an office event to its call.
    pub fn office_event(&self, ev: Ev) {
        let id = match &ev {
            Ev::Delivered { id, .. }
            | Ev::Queued { id }
            | Ev::Answered { id }
            | Ev::PsapReleased { id }
            | Ev::Done { id, .. } => *id,
            Ev::Late { ms } => {
                eprintln!("warning: the office ran {ms:.0} ms behind the clock");
                return;
            }
        };
        self.send(id, CallEv::Office(ev));
    }

    /// Calls still up.
    pub fn calls_up(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

fn headers_of(tx: &Transaction) -> Vec<(String, String)> {
    tx.original
        .headers()
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect()
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
    let inv = invite::read(&uri, &headers_of(&tx), &tx.original.body);
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
        let _ = tx
            .reply_with(
                StatusCode::ServiceUnavailable,
                vec![warning("the provider is stopping")],
                None,
            )
            .await;
        return;
    }
    let (state_tx, state_rx) = layer.new_dialog_state_channel();
    let dialog = match layer.get_or_create_server_invite(&tx, state_tx, None, contact) {
        Ok(d) => d,
        Err(e) => {
            let _ = tx
                .reply_with(StatusCode::BadRequest, vec![warning(&e.to_string())], None)
                .await;
            return;
        }
    };
    let id = shared.next.fetch_add(1, Ordering::Relaxed);
    let dialog_id = dialog.id();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    shared.calls.lock().unwrap().insert(id, ev_tx);
    shared
        .dialogs
        .lock()
        .unwrap()
        .insert(dialog.id().to_string(), (id, None));
    let mut rec = SipRecord {
        call: id,
        invite_s: shared.started.elapsed().as_secs_f64(),
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
            _ = st.cancelled() => sh.send(id, CallEv::Gone("shutdown")),
            _ = ov.cancelled() => {}
        }
    });
    // The dialog's own states, for this call.
    tokio::spawn(dialog_states(shared.clone(), state_rx));
    let mut d2 = dialog.clone();
    tokio::spawn(async move {
        let _ = d2.handle(&mut tx).await;
    });
    let t0 = Instant::now();
    call(shared.clone(), dialog, inv, &mut rec, ev_rx, t0).await;
    rec.duration_s = t0.elapsed().as_secs_f64();
    over.cancel();
    layer.remove_dialog(&dialog_id);
    shared
        .dialogs
        .lock()
        .unwrap()
        .remove(&dialog_id.to_string());
    shared.calls.lock().unwrap().remove(&id);
    let _ = shared.records.send(rec);
}

async fn dialog_states(
    shared: Arc<Shared>,
    mut rx: rsipstack::dialog::dialog::DialogStateReceiver,
) {
    while let Some(st) = rx.recv().await {
        let key = |id: &rsipstack::dialog::DialogId| {
            shared.dialogs.lock().unwrap().get(&id.to_string()).cloned()
        };
        match st {
            DialogState::Confirmed(id, _) => {
                if let Some((c, _)) = key(&id) {
                    shared.send(c, CallEv::Acked);
                }
            }
            DialogState::Terminated(id, why) => {
                if let Some((c, _)) = shared.dialogs.lock().unwrap().remove(&id.to_string()) {
                    let what = match why {
                        TerminatedReason::UacCancel => "CANCEL",
                        TerminatedReason::UacBye => "caller BYE",
                        TerminatedReason::UasBye => "provider BYE",
                        TerminatedReason::Timeout => "SIP timeout (no ACK)",
                        _ => "dialog ended",
                    };
                    shared.send(c, CallEv::Gone(what));
                }
                return;
            }
            // A re-INVITE (a hold, a codec change, a session refresh): the same answer again.
            DialogState::Updated(id, _req, handle) => {
                let sdp = key(&id).and_then(|x| x.1);
                let (h, b) = match sdp {
                    Some(s) => (
                        Some(vec![Header::ContentType("application/sdp".into())]),
                        Some(s.into_bytes()),
                    ),
                    None => (None, None),
                };
                let _ = handle.respond(StatusCode::OK, h, b).await;
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

/// End our side of a dialog: BYE once answered, else 480 (only when the provider stops).
async fn end_dialog(d: &InviteDialog) {
    if matches!(
        d.state(),
        DialogState::Confirmed(..) | DialogState::WaitAck(..)
    ) {
        let _ = d.hangup().await;
    } else {
        let _ = d.reject(
            Some(StatusCode::TemporarilyUnavailable),
            Some("the provider is stopping".into()),
        );
    }
}

fn tn_dashed(n: u64) -> String {
    let s = format!("{n:010}");
    format!("{}-{}-{}", &s[..3], &s[3..6], &s[6..])
}

fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

/// A call's media before and after the answer.
struct Media {
    /// The RTP leg, until the answer starts it.
    pending: Option<(media::RtpLeg, media::Offer)>,
    /// Our SDP answer.
    answer: Option<String>,
    cancel: CancellationToken,
}

impl Media {
    /// 200 OK with our SDP.
    fn accept(&self, d: &InviteDialog) {
        let (h, b) = match &self.answer {
            Some(s) => (
                Some(vec![Header::ContentType("application/sdp".into())]),
                Some(s.clone().into_bytes()),
            ),
            None => (None, None),
        };
        let _ = d.accept(h, b);
    }

    /// Start RTP; its end is reported to call `id` as [`CallEv::Media`].
    fn start(&mut self, shared: &Arc<Shared>, id: u64) {
        if let Some((l, o)) = self.pending.take() {
            let sh = shared.clone();
            let c = self.cancel.clone();
            let timeout = shared.cfg.rtp_timeout;
            tokio::spawn(async move {
                let st = l.run(o, timeout, c).await;
                sh.send(id, CallEv::Media(st));
            });
        }
    }
}

/// A silent voice for a call without media.
struct Silence;
impl crate::sim::world::CallAudio for Silence {
    fn say(&mut self, out: &mut [i16]) {
        out.fill(0);
    }
    fn hear(&mut self, _: &[i16]) {}
}

/// One INVITE, start to end.
async fn call(
    shared: Arc<Shared>,
    dialog: InviteDialog,
    inv: invite::Invite,
    rec: &mut SipRecord,
    mut evs: mpsc::UnboundedReceiver<CallEv>,
    t0: Instant,
) {
    let id = rec.call;
    rec.dialled = match &inv.dialled {
        Dialled::Emergency(u) | Dialled::Test(u) | Dialled::Other(u) => u.clone(),
    };
    rec.callback = inv.callback.map(tn_dashed);
    rec.callback_from = inv.callback_from.clone();
    rec.notes.extend(inv.notes.iter().cloned());
    if inv.callback.is_none() {
        rec.notes
            .push("no 10-digit callback number in P-Asserted-Identity or From".into());
    }
    // Where the caller is.
    let doc: Option<&PidfLo> = match &inv.location {
        Located::ByValue { doc, found_by } => {
            rec.location_by = found_by.clone();
            rec.address = Some(doc.civic_address().one_line());
            let l = doc.location();
            rec.label = (!l.is_empty()).then_some(l);
            Some(doc)
        }
        Located::Garbled(e) => {
            rec.location_by = "garbled PIDF-LO".into();
            rec.reason = Some(format!("GARBLED PIDF-LO: {e}"));
            None
        }
        Located::ByReference(u) => {
            rec.location_by = format!("by reference <{u}>");
            rec.reason = Some(format!(
                "LOCATION BY REFERENCE ONLY (<{u}>): NOT DEREFERENCED"
            ));
            None
        }
        Located::None => {
            rec.location_by = "none".into();
            None
        }
    };
    // Media.
    let offer = match inv.sdp.as_deref().map(media::read_offer) {
        Some(Ok(o)) => Some(o),
        Some(Err(e)) => {
            rec.notes.push(format!("no media: {e}"));
            None
        }
        None => {
            rec.notes
                .push("no media: no SDP offer in the INVITE".into());
            None
        }
    };
    let mut leg = None;
    let mut audio: Box<dyn crate::sim::world::CallAudio> = Box::new(Silence);
    let mut answer_sdp: Option<String> = None;
    if let Some(o) = &offer {
        match media::open(shared.cfg.media_ip).await {
            Ok((l, a, port)) => {
                answer_sdp = Some(media::answer(shared.cfg.media_ip, port, o.pt, id));
                leg = Some((l, o.clone()));
                audio = Box::new(a);
            }
            Err(e) => rec.notes.push(format!("no media: RTP socket: {e}")),
        }
    }
    if let Some(e) = shared
        .dialogs
        .lock()
        .unwrap()
        .get_mut(&dialog.id().to_string())
    {
        e.1 = answer_sdp.clone();
    }
    let mut m = Media {
        pending: leg,
        answer: answer_sdp,
        cancel: CancellationToken::new(),
    };
    match inv.dialled {
        Dialled::Test(_) => {
            rec.kind = "test";
            let validated = match doc {
                Some(d) => shared.provider.lock().unwrap().validate(Some(d)),
                None => Err(rec
                    .reason
                    .take()
                    .unwrap_or_else(|| "NO LOCATION IN THE INVITE".into())),
            };
            let text = match &validated {
                Ok(esn) => {
                    rec.esn = Some(*esn);
                    let psap = shared.office.esns.get(esn).map(|e| e.primary.clone());
                    rec.psap = psap.clone();
                    format!(
                        "933 TEST CALL. CALLBACK {}. LOCATION {} IS MSAG-VALID, ESN {}. A 911 CALL WOULD REACH {}.",
                        rec.callback.as_deref().unwrap_or("NONE"),
                        rec.address.as_deref().unwrap_or("-"),
                        esn,
                        psap.as_deref().unwrap_or("NO PSAP (ESN NOT IN E911ESN)")
                    )
                }
                Err(why) => {
                    rec.reason = Some(why.clone());
                    format!(
                        "933 TEST CALL. CALLBACK {}. LOCATION NOT USABLE: {why}. A 911 CALL WOULD GO TO THE ECRC ({}).",
                        rec.callback.as_deref().unwrap_or("NONE"),
                        shared.cfg.ecrc
                    )
                }
            };
            rec.message = Some(text.clone());
            let _ = dialog.ringing(None, None);
            rec.ringing_ms = Some(ms_since(t0));
            m.accept(&dialog);
            rec.answered_ms = Some(ms_since(t0));
            m.start(&shared, id);
            let mut told = false;
            let mut bye_at: Option<tokio::time::Instant> = None;
            loop {
                let wait = bye_at.map_or(Duration::from_secs(3600), |t| {
                    t.saturating_duration_since(tokio::time::Instant::now())
                });
                tokio::select! {
                    e = evs.recv() => match e {
                        Some(CallEv::Acked) if !told => {
                            told = true;
                            let h = vec![Header::ContentType("text/plain".into())];
                            if let Err(e) = dialog.message(Some(h), Some(text.clone().into_bytes())).await {
                                rec.notes.push(format!("MESSAGE not delivered: {e}"));
                            }
                            bye_at = Some(tokio::time::Instant::now() + shared.cfg.test_hold);
                        }
                        Some(CallEv::Gone(w)) => {
                            if w == "shutdown" { end_dialog(&dialog).await; }
                            rec.ended_by = w.into();
                            break;
                        }
                        Some(CallEv::Media(st)) if st.timed_out => {
                            rec.media = Some(st);
                            let _ = dialog.hangup().await;
                            rec.ended_by = "RTP timeout".into();
                            break;
                        }
                        None => { rec.ended_by = "shutdown".into(); break; }
                        _ => {}
                    },
                    _ = tokio::time::sleep(wait), if bye_at.is_some() => {
                        let _ = dialog.hangup().await;
                        rec.ended_by = "provider BYE (test call done)".into();
                        break;
                    }
                }
            }
        }
        Dialled::Emergency(_) => {
            let routed = match (doc, &rec.reason) {
                (_, Some(why)) => SipRoute::Ecrc(why.clone()),
                (d, None) => shared
                    .provider
                    .lock()
                    .unwrap()
                    .route_held(d, inv.callback.unwrap_or(0)),
            };
            match routed {
                SipRoute::Psap { esn, esqk } => {
                    rec.kind = "psap";
                    rec.esn = Some(esn);
                    rec.esqk = Some(tn_dashed(esqk));
                    let ali = Box::new(shared.provider.lock().unwrap().ali[&esqk].clone());
                    let _ = shared.to_office.send(Cmd::Place {
                        id,
                        esqk,
                        ali,
                        audio,
                    });
                    psap_call(&shared, &dialog, rec, &mut evs, t0, &mut m).await;
                    m.cancel.cancel();
                    shared.provider.lock().unwrap().release(esqk);
                }
                SipRoute::Ecrc(why) => {
                    rec.kind = "ecrc";
                    rec.psap = Some(shared.cfg.ecrc.clone());
                    rec.reason = Some(why);
                    let _ = dialog.ringing(None, None);
                    rec.ringing_ms = Some(ms_since(t0));
                    let answer_at = tokio::time::Instant::now() + shared.cfg.ecrc_answer;
                    let mut answered = false;
                    loop {
                        tokio::select! {
                            e = evs.recv() => match e {
                                Some(CallEv::Gone(w)) => {
                            if w == "shutdown" { end_dialog(&dialog).await; }
                            rec.ended_by = w.into();
                            break;
                        }
                                Some(CallEv::Media(st)) if st.timed_out => {
                                    rec.media = Some(st);
                                    let _ = dialog.hangup().await;
                                    rec.ended_by = "RTP timeout".into();
                                    break;
                                }
                                None => { rec.ended_by = "shutdown".into(); break; }
                                _ => {}
                            },
                            _ = tokio::time::sleep_until(answer_at), if !answered => {
                                answered = true;
                                m.accept(&dialog);
                                rec.answered_ms = Some(ms_since(t0));
                                m.start(&shared, id);
                            }
                        }
                    }
                }
            }
        }
        Dialled::Other(_) => unreachable!("refused before the dialog"),
    }
    m.cancel.cancel();
    // The media task's last word.
    if rec.media.is_none() && rec.answered_ms.is_some() && offer.is_some() {
        if let Ok(Some(CallEv::Media(st))) =
            tokio::time::timeout(Duration::from_millis(500), async {
                loop {
                    match evs.recv().await {
                        Some(CallEv::Media(st)) => return Some(CallEv::Media(st)),
                        None => return None,
                        _ => {}
                    }
                }
            })
            .await
        {
            rec.media = Some(st);
        }
    }
}

/// A call routed to a PSAP through the tandem: ring when the tandem delivers it, answer when
/// the PSAP answers, and end when either side hangs up — then wait for the trunk's record.
async fn psap_call(
    shared: &Arc<Shared>,
    dialog: &InviteDialog,
    rec: &mut SipRecord,
    evs: &mut mpsc::UnboundedReceiver<CallEv>,
    t0: Instant,
    m: &mut Media,
) {
    let id = rec.call;
    let mut ended = false;
    let hang_up = |rec: &mut SipRecord, why: &str| {
        if rec.ended_by.is_empty() {
            rec.ended_by = why.into();
        }
        let _ = shared.to_office.send(Cmd::Hangup { id });
    };
    while let Some(e) = evs.recv().await {
        match e {
            CallEv::Office(Ev::Queued { .. }) => {
                rec.notes.push(format!(
                    "every position busy: queued at {:.0} ms",
                    ms_since(t0)
                ));
                if !ended && rec.ringing_ms.is_none() {
                    let _ = dialog.ringing(None, None);
                    rec.ringing_ms = Some(ms_since(t0));
                }
            }
            CallEv::Office(Ev::Delivered { psap, position, .. }) => {
                rec.psap = Some(psap);
                rec.position = Some(position);
                if !ended && rec.ringing_ms.is_none() {
                    let _ = dialog.ringing(None, None);
                    rec.ringing_ms = Some(ms_since(t0));
                }
            }
            CallEv::Office(Ev::Answered { .. }) => {
                if !ended {
                    m.accept(dialog);
                    rec.answered_ms = Some(ms_since(t0));
                    m.start(shared, id);
                }
            }
            CallEv::Office(Ev::PsapReleased { .. }) => {
                if !ended {
                    ended = true;
                    let _ = dialog.hangup().await;
                    hang_up(rec, "PSAP BYE");
                }
            }
            CallEv::Office(Ev::Done {
                record,
                screens,
                psap_leg,
                ..
            }) => {
                rec.tandem = record.map(|r| *r);
                rec.screens = screens;
                rec.psap_leg = psap_leg;
                if rec.ended_by.is_empty() {
                    rec.ended_by = "shutdown".into();
                }
                return;
            }
            CallEv::Office(Ev::Late { .. }) => {}
            CallEv::Acked => {}
            CallEv::Gone(w) => {
                if !ended {
                    ended = true;
                    if w == "shutdown" {
                        end_dialog(dialog).await;
                    }
                    hang_up(rec, w);
                }
            }
            CallEv::Media(st) => {
                let timed_out = st.timed_out;
                rec.media = Some(st);
                if timed_out && !ended {
                    ended = true;
                    let _ = dialog.hangup().await;
                    hang_up(rec, "RTP timeout");
                }
            }
        }
    }
    // The channel closed: the server is stopping.
    if rec.ended_by.is_empty() {
        rec.ended_by = "shutdown".into();
    }
}
