//! The PSAP side of the switch: each position's events (wink, answer, hook flash, DTMF keys,
//! hang-up — heard in its audio, or given out of band) drive its PSAP-trunk machine and
//! code collector; selective transfers are resolved and placed; releases start the guard.

use super::*;

impl Tandem {
    pub(super) fn psap_in(&mut self, i: usize, heard: &[PortEvent], now: u64, next: u64) {
        let leg = &self.psaps[i];
        if heard.is_empty()
            && leg.oob.is_empty()
            && leg.call.is_none()
            && leg.trunk.next_deadline().is_none()
            && leg.collector.next_deadline().is_none()
        {
            return; // an idle position with nothing to hear and no timer running
        }
        enum In {
            Psap(PsapEvent),
            Flash,
            Key(char),
        }
        let mut due: Vec<(u64, In)> = heard
            .iter()
            .filter_map(|e| {
                let x = match e.heard {
                    // Off-hook that stays (a "seizure" in the classifier's terms) answers; the
                    // trunk ignores it while it still waits for the wink.
                    Heard::Sf(SupervisionEvent::Wink { start, end, .. }) => {
                        In::Psap(PsapEvent::Wink { len: end - start })
                    }
                    Heard::Sf(SupervisionEvent::Seize { .. }) => In::Psap(PsapEvent::Answer),
                    Heard::Sf(SupervisionEvent::Disconnect { .. }) => {
                        In::Psap(PsapEvent::Disconnect)
                    }
                    Heard::Sf(SupervisionEvent::Flash { .. }) => In::Flash,
                    Heard::Dtmf(k) => In::Key(k),
                    _ => return None,
                };
                Some((e.at, x))
            })
            .collect();
        let leg = &mut self.psaps[i];
        leg.oob.retain(|&(t, e)| {
            if t < next {
                due.push((t.max(now), In::Psap(e)));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(t, _)| *t);
        for (t, ev) in due {
            match ev {
                In::Psap(e) => {
                    let mut acts = Vec::new();
                    self.psaps[i].trunk.on_event(t, e, &mut acts);
                    for a in acts {
                        self.psap_action(i, t, a);
                    }
                }
                In::Flash => self.flash(i, t),
                In::Key(k) => {
                    let mut acts = Vec::new();
                    self.psaps[i].collector.on_key(t, k, &mut acts);
                    self.collect_actions(i, t, acts);
                }
            }
        }
        let mut acts = Vec::new();
        self.psaps[i].trunk.poll(next, &mut acts);
        for a in acts {
            self.psap_action(i, next, a);
        }
        let mut acts = Vec::new();
        self.psaps[i].collector.poll(next, &mut acts);
        self.collect_actions(i, next, acts);
    }

    pub(super) fn flash(&mut self, i: usize, t: u64) {
        let leg = &mut self.psaps[i];
        if leg.call.is_none() || !leg.trunk.is_talking() {
            return;
        }
        leg.flashed_at = t;
        let mut acts = Vec::new();
        leg.collector.on_flash(t, &mut acts);
        self.collect_actions(i, t, acts);
    }

    pub(super) fn collect_actions(&mut self, i: usize, t: u64, acts: Vec<CollectAction>) {
        for a in acts {
            self.last_activity = self.last_activity.max(t);
            let tx = &mut self.lines[self.trunks.len() + i].tx;
            match a {
                CollectAction::RecallDialTone => {
                    // 350 + 440 Hz, 100 ms on / 100 ms off for 300 ms, then steady
                    // (signalling.md §4): on 0–100, off 100–200, on from 200 ms.
                    let tones = [(350, RECALL_DBM0), (440, RECALL_DBM0)];
                    let ms = |m: f64| ms_to_samples(m) as u64;
                    tx.stop_progress(t);
                    tx.tones(t, ms(100.0), &tones, None, ToneKind::Progress);
                    tx.tones(t + ms(200.0), u64::MAX, &tones, None, ToneKind::Progress);
                }
                CollectAction::DialToneOff => tx.stop_progress(t),
                CollectAction::TimedOut(keys) => {
                    self.log_transfer(i, keys, None, TransferOutcome::Timeout);
                }
                CollectAction::Dialled(code) => {
                    self.transfer(i, t, code);
                }
                CollectAction::BackToTalk => tx.stop_progress(t),
            }
        }
    }

    /// Append a transfer record for port `i`'s call; returns its index.
    pub(super) fn log_transfer(
        &mut self,
        i: usize,
        code: String,
        target: Option<String>,
        outcome: TransferOutcome,
    ) -> Option<usize> {
        let leg = &self.psaps[i];
        let c = leg.call?;
        let rec = &mut self.records[c];
        rec.transfers.push(TransferRecord {
            code,
            from: leg.psap.clone(),
            flashed_ms: samples_to_ms(leg.flashed_at),
            target,
            position: None,
            outcome,
            outpulsed: None,
            answered_ms: None,
            released_ms: None,
        });
        let k = rec.transfers.len() - 1;
        self.tell(SwitchEvent::TransferDialled { call: c, k });
        Some(k)
    }

    pub(super) fn reorder(&mut self, i: usize, t: u64, why: String) {
        let leg = &mut self.psaps[i];
        leg.collector.reorder(t);
        // Reorder (120 IPM): 480 + 620 Hz, 250 ms on / 250 ms off, for 2 s.
        let ms = |m: f64| ms_to_samples(m) as u64;
        self.lines[self.trunks.len() + i].tx.tones(
            t,
            ms(2000.0),
            &[(480, REORDER_DBM0), (620, REORDER_DBM0)],
            Some((ms(250.0), ms(500.0))),
            ToneKind::Progress,
        );
        if let Some(c) = leg.call {
            self.records[c].logs.push(why);
        }
    }

    /// The attendant on port `i` dialled `code`.
    pub(super) fn transfer(&mut self, i: usize, t: u64, code: String) {
        let Some(c) = self.psaps[i].call else {
            return;
        };
        if self.calls[c].transfer_pending() {
            self.log_transfer(i, code.clone(), None, TransferOutcome::Reorder);
            self.reorder(i, t, format!("{code}: A TRANSFER IS ALREADY PENDING"));
            return;
        }
        let esn = &self.office.esns[&self.calls[c].esn];
        let target = resolve(&self.office, esn, &self.psaps[i].psap, &code);
        match target {
            Target::Reorder(why) => {
                self.log_transfer(i, code, None, TransferOutcome::Reorder);
                self.reorder(i, t, why);
            }
            Target::Psap(name) => {
                let k = self.log_transfer(i, code, Some(name.clone()), TransferOutcome::Pending);
                self.place(
                    Request {
                        call: c,
                        transfer: k,
                    },
                    &name,
                    t,
                );
            }
            Target::PrimaryElsewhere { primary, overflow } => {
                if let Some(pos) = self.delivery.take(&primary) {
                    let k =
                        self.log_transfer(i, code, Some(primary.clone()), TransferOutcome::Pending);
                    self.deliver(
                        Request {
                            call: c,
                            transfer: k,
                        },
                        &primary,
                        pos,
                        t,
                    );
                } else if let Some(ov) = overflow {
                    let k = self.log_transfer(i, code, Some(ov.clone()), TransferOutcome::Pending);
                    self.place(
                        Request {
                            call: c,
                            transfer: k,
                        },
                        &ov,
                        t,
                    );
                } else {
                    self.log_transfer(i, code.clone(), None, TransferOutcome::Reorder);
                    self.reorder(
                        i,
                        t,
                        format!("{code}: NO IDLE POSITION AT {primary} AND NO OVERFLOW"),
                    );
                }
            }
        }
    }

    pub(super) fn psap_action(&mut self, i: usize, t: u64, act: PsapAction) {
        self.last_activity = self.last_activity.max(t);
        let tx = &mut self.lines[self.trunks.len() + i].tx;
        let leg = &mut self.psaps[i];
        match act {
            PsapAction::Seize => tx.sf(t, None),
            PsapAction::Outpulse { spill, duration } => {
                tx.mf(t, &spill, &self.mf_timing);
                if !leg.heard {
                    // An unsupervised far end learns how long the spill lasts out of band.
                    self.notices
                        .push((self.trunks.len() + i, t, Lead::Spill { len: duration }));
                }
            }
            PsapAction::CutThrough => {
                let Some(c) = leg.call else { return };
                let transfer = leg.transfer;
                let rec = &mut self.records[c];
                match leg.transfer {
                    None => {
                        rec.answered_ms.get_or_insert(samples_to_ms(t));
                        self.calls[c].on_event(t, CallEvent::Answered);
                    }
                    Some(k) => {
                        let x = &mut rec.transfers[k];
                        x.outcome = TransferOutcome::Conferenced;
                        x.answered_ms = Some(samples_to_ms(t));
                        self.calls[c].on_event(t, CallEvent::TransferAnswered { k });
                    }
                }
                self.tell(SwitchEvent::Answered { call: c, transfer });
            }
            PsapAction::Release | PsapAction::WinkTimeout => {
                let timeout = act == PsapAction::WinkTimeout;
                tx.stop_progress(t);
                tx.sf(t, Some(IDLE_DBM0));
                if !leg.heard {
                    self.notices.push((self.trunks.len() + i, t, Lead::OnHook));
                }
                leg.collector = CodeCollector::default();
                let (psap, position) = (leg.psap.clone(), leg.position);
                let call = leg.call.take();
                let transfer = leg.transfer.take();
                if let Some(c) = call {
                    self.calls[c].legs.retain(|&p| p != i);
                    if timeout {
                        self.records[c].logs.push(format!(
                            "NO WINK FROM {psap} POSITION {position}: TRYING ANOTHER"
                        ));
                    }
                }
                if timeout {
                    // The position stays out of service; the delivery tries again.
                    if let Some(c) = call {
                        let ev = match transfer {
                            None => CallEvent::NoWink,
                            Some(k) => CallEvent::TransferNoWink { k },
                        };
                        match self.calls[c].on_event(t, ev) {
                            Some(CallAction::Redeliver { psap })
                            | Some(CallAction::RedeliverTransfer { psap, .. }) => {
                                self.place(Request { call: c, transfer }, &psap, t);
                            }
                            _ => {}
                        }
                    }
                    return;
                }
                if let Some(c) = call {
                    let rec = &mut self.records[c];
                    match transfer {
                        None => rec.position_released_ms = Some(samples_to_ms(t)),
                        Some(k) => {
                            rec.transfers[k].released_ms = Some(samples_to_ms(t));
                            self.calls[c].on_event(t, CallEvent::TransferEnded { k });
                        }
                    }
                    let port = self.trunks.len() + i;
                    self.tell(SwitchEvent::PositionReleased {
                        call: c,
                        transfer,
                        port,
                    });
                    // The last position on an answered call gone: the PSAP side has hung up. A
                    // transfer still ringing holds the call (a blind transfer: the target is
                    // about to answer).
                    if self.records[c].answered_ms.is_some() && self.calls[c].legs.is_empty() {
                        self.tell(SwitchEvent::PsapGone { call: c });
                    }
                }
                // The position is idle again once the PSAP has heard the idle tone long enough
                // to see a disconnect (release guard).
                self.delivery.release(t, psap, position);
            }
        }
    }
}
