//! One emergency or test INVITE, from its arrival to its record: where it goes (the PSAP through
//! the tandem, the ECRC, or the provider itself for 933), its ringing and answer, its media, and
//! what ends it. Driven by [`CallEv`]s: the office's events, the dialog's states, the media's end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::call_state::{Action, Event, Kind, Machine, Phase, Timer};
use super::invite::{self, Dialled, Located};
use super::media;
use super::office::{Cmd, Ev};
use super::record::SipRecord;
use super::registry::{CallCtx, CallEv, MediaCtl};
use crate::location::enterprise::SipRoute;
use crate::location::pidf::PidfLo;
use crate::text::tn_dashed;

/// Our BYE; its answer is waited for 2 s at most (a caller that is gone would hold the record
/// 32 s otherwise; the transaction layer goes on retransmitting on its own).
async fn hang_up_dialog(d: &InviteDialog) {
    let _ = tokio::time::timeout(Duration::from_secs(2), d.hangup()).await;
}

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
    /// `false` when the dialog had already ended (a CANCEL crossed the answer).
    fn accept(&self, d: &InviteDialog) -> bool {
        let mut h = self.asks.ok_headers();
        let b = self.answer.as_ref().map(|s| {
            h.push(Header::ContentType("application/sdp".into()));
            s.clone().into_bytes()
        });
        d.accept((!h.is_empty()).then_some(h), b).is_ok()
    }

    /// Start RTP (its end is reported to the call as [`CallEv::Media`]) and the session timer.
    fn start(&mut self, ctx: &CallCtx) {
        if let Some(r) = self.refreshed.take() {
            super::call_timers::session_timer(
                ctx.events.clone(),
                self.asks.interval(),
                r,
                self.cancel.clone(),
            );
        }
        if let Some((l, setup, updates)) = self.pending.take() {
            let events = ctx.events.clone();
            let c = self.cancel.clone();
            tokio::spawn(async move {
                let st = l.run(setup, updates, c).await;
                let _ = events.send(CallEv::Media(st)).await;
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
    ctx: CallCtx,
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
    // Where the caller is: the INVITE's location, else the address registered for its callback.
    let registered = match (&inv.location, inv.callback) {
        (Located::None, Some(cb)) => ctx.provider.lock().unwrap().registered.get(cb).cloned(),
        _ => None,
    };
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
        Located::None => match &registered {
            Some(doc) => {
                rec.location_by = format!(
                    "registered for {}",
                    rec.callback.as_deref().unwrap_or("the callback")
                );
                rec.address = Some(doc.civic_address().one_line());
                let l = doc.location();
                rec.label = (!l.is_empty()).then_some(l);
                Some(doc)
            }
            None => {
                rec.location_by = "none".into();
                None
            }
        },
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
        match media::open(ctx.cfg.media_ip, ctx.cfg.rtp_ports).await {
            Ok((l, a, port)) => {
                let (updates, rx) = tokio::sync::watch::channel(o.clone());
                let ctl = MediaCtl {
                    ip: ctx.cfg.media_ip,
                    port,
                    session: id,
                    version: 1,
                    offer: o.clone(),
                    updates,
                };
                answer_sdp = Some(ctl.answer());
                if let Some(e) = ctx
                    .registry
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
                    timeout: ctx.cfg.rtp_timeout,
                    rules: ctx.cfg.rtp_rules,
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
            ctx.cfg.session_min
        ));
    }
    let m = Media {
        pending: leg,
        answer: answer_sdp,
        cancel: CancellationToken::new(),
        asks: opts.asks.clone(),
        prack: opts.prack,
        refreshed: Some(opts.refreshed),
    };
    // Where it goes: decided here, once; the machine does the rest.
    let mut result = None;
    let mut place = None;
    let kind = match inv.dialled {
        Dialled::Test(_) => {
            rec.kind = "test";
            result = Some(test_result(&ctx, rec, doc));
            Kind::Test
        }
        Dialled::Emergency(_) => {
            let routed = match (doc, &rec.reason) {
                (_, Some(why)) => SipRoute::Ecrc(why.clone()),
                (d, None) => ctx
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
                    place = Some(esqk);
                    Kind::Psap
                }
                SipRoute::Ecrc(why) => {
                    rec.kind = "ecrc";
                    rec.psap = Some(ctx.cfg.ecrc.clone());
                    rec.reason = Some(why);
                    Kind::Ecrc
                }
            }
        }
        // Refused before the dialog (404); never reaches here.
        Dialled::Other(_) => return,
    };
    let machine = Machine {
        ecrc_answer: ctx.cfg.ecrc_answer.as_millis() as u64,
        test_hold: ctx.cfg.test_hold.as_millis() as u64,
    };
    let mut x = Exec {
        ctx: &ctx,
        dialog: &dialog,
        rec,
        t0,
        m,
        audio: Some(audio),
        place,
        result,
        key_free: true,
        timers: Vec::new(),
    };
    let (mut state, acts) = machine.start(kind, x.now());
    x.perform(acts).await;
    while state.phase != Phase::Disconnected {
        let next = x.timers.iter().min_by_key(|t| t.1).copied();
        let at = next.map(|(_, ms)| tokio::time::Instant::from_std(t0 + Duration::from_millis(ms)));
        let ev = tokio::select! {
            e = evs.recv() => match e {
                // Cannot happen while the call runs (its context holds a sender); were it
                // to, nothing more could reach the call: write its record now.
                None => Event::Forced,
                Some(e) => match x.observe(e) {
                    Some(ev) => ev,
                    None => continue,
                },
            },
            _ = tokio::time::sleep_until(at.unwrap_or_else(tokio::time::Instant::now)), if at.is_some() => {
                let t = next.expect("a deadline has its timer");
                x.timers.retain(|k| *k != t);
                Event::Timer(t.0)
            }
        };
        let (s, acts) = machine.on_event(state, x.now(), ev);
        state = s;
        x.perform(acts).await;
    }
    let (m, rec, key_free) = (x.m, x.rec, x.key_free);
    m.cancel.cancel();
    if let Some(esqk) = place.filter(|_| key_free) {
        ctx.provider.lock().unwrap().release(esqk);
    }
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

/// A 933 call's result: the line's text (sent as a MESSAGE once the call is confirmed); the
/// record gets the ESN and the PSAP a 911 call would reach, or why it would go to the ECRC.
fn test_result(ctx: &CallCtx, rec: &mut SipRecord, doc: Option<&PidfLo>) -> String {
    let validated = match doc {
        Some(d) => ctx.provider.lock().unwrap().validate(Some(d)),
        None => Err(rec
            .reason
            .take()
            .unwrap_or_else(|| "NO LOCATION IN THE INVITE".into())),
    };
    let text = match &validated {
        Ok(esn) => {
            rec.esn = Some(*esn);
            let psap = ctx.office.esns.get(esn).map(|e| e.primary.clone());
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
                ctx.cfg.ecrc
            )
        }
    };
    rec.message = Some(text.clone());
    text
}

/// What performs the machine's actions for one call, and reads its events.
struct Exec<'a> {
    ctx: &'a CallCtx,
    dialog: &'a InviteDialog,
    rec: &'a mut SipRecord,
    t0: Instant,
    m: Media,
    /// The call's audio until it is placed on a trunk or the provider speaks into it.
    audio: Option<Box<dyn crate::sim::world::CallAudio>>,
    /// A PSAP call's ESQK.
    place: Option<u64>,
    /// A 933 call's result.
    result: Option<String>,
    /// Its ESQK can go back to the pool when the call ends (else the office frees it later).
    key_free: bool,
    timers: Vec<(Timer, u64)>,
}

impl Exec<'_> {
    fn now(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    /// Now on the record's clock (ms since the server started).
    fn ms(&self) -> f64 {
        self.rec.invite_ms + ms_since(self.t0)
    }

    /// The record's facts from a call event; the machine's event, if it is one.
    fn observe(&mut self, e: CallEv) -> Option<Event> {
        let rec = &mut *self.rec;
        Some(match e {
            CallEv::Office(Ev::Queued { .. }) => Event::Queued,
            CallEv::Office(Ev::Delivered { psap, position, .. }) => {
                rec.psap = Some(psap);
                rec.position = Some(position);
                Event::Delivered
            }
            CallEv::Office(Ev::Answered { .. }) => Event::PsapAnswered,
            CallEv::Office(Ev::PsapReleased { .. }) => Event::PsapReleased,
            CallEv::Office(Ev::Done {
                record,
                screens,
                psap_leg,
                key_free,
                ..
            }) => {
                self.key_free = key_free;
                rec.tandem = record.map(|r| *r);
                // A call that never reached a position (queued, then released) still names
                // the PSAP it waited at.
                if rec.psap.is_none() {
                    rec.psap = rec.tandem.as_ref().and_then(|t| t.psap.clone());
                }
                rec.screens = screens;
                rec.psap_leg = psap_leg;
                Event::SwitchDone
            }
            CallEv::Office(Ev::Late { .. } | Ev::KeyFree { .. }) => return None,
            CallEv::Acked => Event::Acked,
            CallEv::Gone(g) => Event::PeerGone(g),
            CallEv::Shutdown => Event::Shutdown,
            CallEv::Forced => Event::Forced,
            CallEv::SessionExpired => Event::SessionExpired,
            CallEv::Note(n) => {
                rec.notes.push(format!(
                    "{n} at {:.0} ms after the INVITE",
                    ms_since(self.t0)
                ));
                return None;
            }
            CallEv::Media(st) => {
                let timed_out = st.timed_out;
                rec.media = Some(st);
                return timed_out.then_some(Event::RtpTimeout);
            }
        })
    }

    async fn perform(&mut self, acts: Vec<Action>) {
        let id = self.rec.call;
        for a in acts {
            match a {
                Action::Place => {
                    if let (Some(esqk), Some(audio)) = (self.place, self.audio.take()) {
                        let ali = Box::new(self.ctx.provider.lock().unwrap().ali[&esqk].clone());
                        self.ctx.command(Cmd::Place {
                            id,
                            esqk,
                            ali,
                            audio,
                        });
                    }
                }
                Action::Ring => {
                    self.m.ring(self.dialog);
                    if self.rec.ringing_ms.is_none() {
                        self.rec.ringing_ms = Some(self.ms());
                    }
                }
                Action::Accept => {
                    if self.m.accept(self.dialog) {
                        self.rec.answered_ms = Some(self.ms());
                    } else {
                        let n = "200 not sent: the dialog had ended (a CANCEL crossed the answer)";
                        self.rec.notes.push(n.into());
                    }
                }
                Action::StartMedia => self.m.start(self.ctx),
                Action::Speak => {
                    if let Some(a) = self.audio.take() {
                        speak(a, self.ctx.cfg.voice, self.m.cancel.clone());
                    }
                }
                Action::SendResult => {
                    let text = self.result.clone().unwrap_or_default();
                    let h = vec![Header::ContentType("text/plain".into())];
                    if let Err(e) = self.dialog.message(Some(h), Some(text.into_bytes())).await {
                        self.rec.notes.push(format!("MESSAGE not delivered: {e}"));
                    }
                }
                Action::Arm(t, at) => self.timers.push((t, at)),
                Action::Bye => hang_up_dialog(self.dialog).await,
                Action::Reject => {
                    let _ = self
                        .dialog
                        .reject(Some(StatusCode::TemporarilyUnavailable), None);
                }
                // A UAC's (the gateway's leg); a UAS never gets them.
                Action::Ack | Action::Cancel => {}
                Action::ReleaseTrunk => {
                    self.ctx.command(Cmd::Hangup { id });
                }
                Action::Abandoned => self.rec.abandoned_ms = Some(self.ms()),
                Action::End(why) => self.rec.ended_by = why,
                Action::Note(n) => self.rec.notes.push(format!(
                    "{n} at {:.0} ms after the INVITE",
                    ms_since(self.t0)
                )),
            }
        }
    }
}
