//! One emergency or test INVITE, from its arrival to its record: where it goes (the PSAP through
//! the tandem, the ECRC, or the provider itself for 933), its ringing and answer, its media, and
//! what ends it. Driven by [`CallEv`]s: the office's events, the dialog's states, the media's end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::invite::{self, Dialled, Located};
use super::media;
use super::office::{Cmd, Ev};
use super::record::SipRecord;
use super::server::{CallEv, MediaCtl, Shared};
use crate::location::enterprise::SipRoute;
use crate::location::pidf::PidfLo;
use crate::text::tn_dashed;

/// End our side of a dialog: BYE once answered, else 480 (only when the provider stops). A BYE
/// that finds no answer in 2 s is left to the transaction layer: the record does not wait.
pub(super) async fn end_dialog(d: &InviteDialog) {
    if matches!(
        d.state(),
        DialogState::Confirmed(..) | DialogState::WaitAck(..)
    ) {
        let _ = tokio::time::timeout(Duration::from_secs(2), d.hangup()).await;
    } else {
        let _ = d.reject(
            Some(StatusCode::TemporarilyUnavailable),
            Some("the provider is stopping".into()),
        );
    }
}

/// Our BYE; its answer is waited for 2 s at most (a caller that is gone would hold the record
/// 32 s otherwise; the transaction layer goes on retransmitting on its own).
async fn hang_up_dialog(d: &InviteDialog) {
    let _ = tokio::time::timeout(Duration::from_secs(2), d.hangup()).await;
}

/// What a call's record says when its caller stopped refreshing the session (RFC 4028 §10).
pub(super) const SESSION_EXPIRED: &str = "session expired (no refresh, RFC 4028)";

/// What a call's record says when the provider's drain was cut short while it was up.
pub(super) const FORCED: &str = "shutdown (forced)";

fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

/// The provider's own voice on a call it answers itself (ECRC, 933): a tone into the call's
/// audio every 20 ms until `stop` (the RTP leg sends it to the caller).
fn speak(
    mut audio: Box<dyn crate::sim::world::CallAudio>,
    voice: Option<(u32, f64)>,
    stop: CancellationToken,
) {
    let Some((hz, dbm0)) = voice else { return };
    let amp = crate::units::dbm0_to_peak(dbm0);
    let w = std::f64::consts::TAU * hz as f64 / crate::units::SAMPLE_RATE as f64;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let (mut ph, mut block) = (0f64, [0i16; 160]);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    for v in block.iter_mut() {
                        *v = (amp * ph.sin()).round() as i16;
                        ph = (ph + w) % std::f64::consts::TAU;
                    }
                    audio.hear(&block);
                }
            }
        }
    });
}

/// What ends a call the provider answers itself (the ECRC, 933): the caller leaving, the provider
/// stopping, an RTP timeout. `None` when `e` ended it (the record says how); else `e`, for the
/// caller to handle.
async fn ends_own_call(
    e: Option<CallEv>,
    dialog: &InviteDialog,
    rec: &mut SipRecord,
    t0: Instant,
) -> Option<CallEv> {
    match e {
        Some(CallEv::Gone(w)) => {
            if w == "shutdown" {
                end_dialog(dialog).await;
            } else if rec.answered_ms.is_none() {
                rec.abandoned_ms = Some(ms_since(t0));
            }
            rec.ended_by = w.into();
            None
        }
        Some(CallEv::SessionExpired) => {
            hang_up_dialog(dialog).await;
            rec.ended_by = SESSION_EXPIRED.into();
            None
        }
        Some(CallEv::Forced) => {
            rec.ended_by = FORCED.into();
            None
        }
        Some(CallEv::Media(st)) if st.timed_out => {
            rec.media = Some(st);
            hang_up_dialog(dialog).await;
            rec.ended_by = "RTP timeout".into();
            None
        }
        None => {
            rec.ended_by = "shutdown".into();
            None
        }
        e => e,
    }
}

/// A call's media before and after the answer.
struct Media {
    /// The RTP leg, until the answer starts it.
    pending: Option<(
        media::RtpLeg,
        media::Setup,
        tokio::sync::watch::Receiver<media::Offer>,
    )>,
    /// Our SDP answer.
    answer: Option<String>,
    cancel: CancellationToken,
    /// What the INVITE asked of the 180 and the 200 (RFC 3262, 4028).
    asks: super::session::Asks,
    prack: Arc<tokio::sync::Notify>,
    refreshed: Option<tokio::sync::watch::Receiver<()>>,
}

/// What the server knows of an INVITE beyond its text.
pub(super) struct Opts {
    /// The IP it came from (the only one a NAT media source is learned from).
    pub invite_ip: Option<std::net::IpAddr>,
    pub asks: super::session::Asks,
    /// Notified when the PRACK of our reliable 180 comes.
    pub prack: Arc<tokio::sync::Notify>,
    /// Changes with each re-INVITE or UPDATE.
    pub refreshed: tokio::sync::watch::Receiver<()>,
}

impl Media {
    /// 180 Ringing, reliably when the INVITE asked (RFC 3262).
    fn ring(&self, d: &InviteDialog) {
        super::call_timers::ring(d, &self.asks, self.prack.clone(), self.cancel.clone());
    }

    /// 200 OK with our SDP (and the session interval, RFC 4028).
    fn accept(&self, d: &InviteDialog) {
        let mut h = self.asks.ok_headers();
        let b = self.answer.as_ref().map(|s| {
            h.push(Header::ContentType("application/sdp".into()));
            s.clone().into_bytes()
        });
        let _ = d.accept((!h.is_empty()).then_some(h), b);
    }

    /// Start RTP (its end is reported to call `id` as [`CallEv::Media`]) and the session timer.
    fn start(&mut self, shared: &Arc<Shared>, id: u64) {
        if let Some(r) = self.refreshed.take() {
            super::call_timers::session_timer(
                shared.clone(),
                id,
                self.asks.interval(),
                r,
                self.cancel.clone(),
            );
        }
        if let Some((l, setup, updates)) = self.pending.take() {
            let sh = shared.clone();
            let c = self.cancel.clone();
            tokio::spawn(async move {
                let st = l.run(setup, updates, c).await;
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
pub(super) async fn call(
    shared: Arc<Shared>,
    dialog: InviteDialog,
    inv: invite::Invite,
    rec: &mut SipRecord,
    mut evs: mpsc::Receiver<CallEv>,
    t0: Instant,
    opts: Opts,
) {
    let invite_ip = opts.invite_ip;
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
    let offer = match inv.sdp.as_deref().map(super::sdp::read_offer) {
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
        match media::open(shared.cfg.media_ip, shared.cfg.rtp_ports).await {
            Ok((l, a, port)) => {
                let (updates, rx) = tokio::sync::watch::channel(o.clone());
                let ctl = MediaCtl {
                    ip: shared.cfg.media_ip,
                    port,
                    session: id,
                    version: 1,
                    offer: o.clone(),
                    updates,
                };
                answer_sdp = Some(ctl.answer());
                if let Some(e) = shared
                    .dialogs
                    .lock()
                    .unwrap()
                    .get_mut(&dialog.id().to_string())
                {
                    e.media = Some(ctl);
                }
                let setup = media::Setup {
                    offer: o.clone(),
                    invite_ip: invite_ip.unwrap_or(o.remote.ip()),
                    timeout: shared.cfg.rtp_timeout,
                    rules: shared.cfg.rtp_rules,
                };
                leg = Some((l, setup, rx));
                audio = Box::new(a);
            }
            Err(e) => rec.notes.push(format!("no media: RTP socket: {e}")),
        }
    }
    if opts.asks.raised {
        rec.notes.push(format!(
            "Session-Expires under {} s: answered as {0}",
            shared.cfg.session_min
        ));
    }
    let mut m = Media {
        pending: leg,
        answer: answer_sdp,
        cancel: CancellationToken::new(),
        asks: opts.asks.clone(),
        prack: opts.prack,
        refreshed: Some(opts.refreshed),
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
            m.ring(&dialog);
            rec.ringing_ms = Some(ms_since(t0));
            m.accept(&dialog);
            rec.answered_ms = Some(ms_since(t0));
            m.start(&shared, id);
            speak(audio, shared.cfg.voice, m.cancel.clone());
            let mut told = false;
            let mut bye_at: Option<tokio::time::Instant> = None;
            loop {
                let wait = bye_at.map_or(Duration::from_secs(3600), |t| {
                    t.saturating_duration_since(tokio::time::Instant::now())
                });
                tokio::select! {
                    e = evs.recv() => match ends_own_call(e, &dialog, rec, t0).await {
                        None => break,
                        Some(CallEv::Acked) if !told => {
                            told = true;
                            let h = vec![Header::ContentType("text/plain".into())];
                            if let Err(e) = dialog.message(Some(h), Some(text.clone().into_bytes())).await {
                                rec.notes.push(format!("MESSAGE not delivered: {e}"));
                            }
                            bye_at = Some(tokio::time::Instant::now() + shared.cfg.test_hold);
                        }
                        _ => {}
                    },
                    _ = tokio::time::sleep(wait), if bye_at.is_some() => {
                        hang_up_dialog(&dialog).await;
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
                    m.ring(&dialog);
                    rec.ringing_ms = Some(ms_since(t0));
                    let answer_at = tokio::time::Instant::now() + shared.cfg.ecrc_answer;
                    let mut answered = false;
                    let mut voice = Some(audio);
                    loop {
                        tokio::select! {
                            e = evs.recv() => if ends_own_call(e, &dialog, rec, t0).await.is_none() {
                                break;
                            },
                            _ = tokio::time::sleep_until(answer_at), if !answered => {
                                answered = true;
                                m.accept(&dialog);
                                rec.answered_ms = Some(ms_since(t0));
                                m.start(&shared, id);
                                if let Some(a) = voice.take() {
                                    speak(a, shared.cfg.voice, m.cancel.clone());
                                }
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
    evs: &mut mpsc::Receiver<CallEv>,
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
                    m.ring(dialog);
                    rec.ringing_ms = Some(ms_since(t0));
                }
            }
            CallEv::Office(Ev::Delivered { psap, position, .. }) => {
                rec.psap = Some(psap);
                rec.position = Some(position);
                if !ended && rec.ringing_ms.is_none() {
                    m.ring(dialog);
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
                    hang_up_dialog(dialog).await;
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
                // A call that never reached a position (queued, then released) still names
                // the PSAP it waited at.
                if rec.psap.is_none() {
                    rec.psap = rec.tandem.as_ref().and_then(|t| t.psap.clone());
                }
                rec.screens = screens;
                rec.psap_leg = psap_leg;
                if rec.ended_by.is_empty() {
                    rec.ended_by = "shutdown".into();
                }
                return;
            }
            CallEv::Office(Ev::Late { .. }) => {}
            CallEv::Acked => {}
            CallEv::Note(n) => rec.notes.push(format!("{n} at {:.0} ms", ms_since(t0))),
            CallEv::Forced => {
                rec.ended_by = FORCED.into();
                let _ = shared.to_office.send(Cmd::Hangup { id });
                return;
            }
            CallEv::Gone(w) => {
                if !ended {
                    ended = true;
                    if w == "shutdown" {
                        end_dialog(dialog).await;
                    } else if rec.answered_ms.is_none() {
                        // The caller left before the answer: abandoned then, whatever the PSAP
                        // position does after.
                        rec.abandoned_ms = Some(ms_since(t0));
                    }
                    hang_up(rec, w);
                }
            }
            CallEv::SessionExpired => {
                if !ended {
                    ended = true;
                    hang_up_dialog(dialog).await;
                    hang_up(rec, SESSION_EXPIRED);
                }
            }
            CallEv::Media(st) => {
                let timed_out = st.timed_out;
                rec.media = Some(st);
                if timed_out && !ended {
                    ended = true;
                    hang_up_dialog(dialog).await;
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
