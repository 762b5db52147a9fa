//! The end-office side of the switch: each trunk's events drive its incoming-trunk machine; a
//! routed call gets its record and its [`Call`], and a delivery finds a position (or the queue)
//! and seizes it.

use super::*;

impl Tandem {
    pub(super) fn trunk_in(&mut self, i: usize, heard: &[PortEvent], now: u64, next: u64) {
        let tr = &self.trunks[i];
        if heard.is_empty() && tr.oob.is_empty() && tr.machine.next_deadline().is_none() {
            return; // nothing heard, nothing pending, no timer running
        }
        let mut events: Vec<(u64, Event)> = heard
            .iter()
            .filter_map(|e| match e.heard {
                Heard::Mf(s) => Some((e.at, Event::Mf(s))),
                Heard::Sf(SupervisionEvent::Seize { .. }) => Some((e.at, Event::Seize)),
                Heard::Sf(SupervisionEvent::Disconnect { .. }) => Some((e.at, Event::Disconnect)),
                Heard::Sf(SupervisionEvent::Digit { pulses, .. }) => {
                    Some((e.at, Event::Dp(pulses)))
                }
                _ => None,
            })
            .collect();
        let tr = &mut self.trunks[i];
        tr.oob.retain(|&(t, e)| {
            if t < next {
                events.push((t.max(now), e));
                false
            } else {
                true
            }
        });
        events.sort_by_key(|(t, _)| *t);
        self.receiver_gate(i, &mut events);
        let tr = &mut self.trunks[i];
        let mut actions: Vec<(u64, Action)> = Vec::new();
        for (t, ev) in events {
            let mut acts = Vec::new();
            tr.machine.on_event(t, ev, &mut acts);
            actions.extend(acts.into_iter().map(|a| (t, a)));
        }
        // Timers that expire in this block act on their own sample.
        let mut timed = Vec::new();
        tr.machine.poll_timed(next, &mut timed);
        actions.extend(timed.into_iter().map(|(d, a)| (d.max(now), a)));
        for (t, act) in actions {
            self.trunk_action(i, t, act);
        }
    }

    pub(super) fn trunk_action(&mut self, i: usize, t: u64, act: Action) {
        self.last_activity = self.last_activity.max(t);
        let sf = self.groups[self.trunks[i].group].supv == Supv::Sf;
        let tx = &mut self.lines[i].tx;
        let tr = &mut self.trunks[i];
        match act {
            Action::Wink { len } => tx.wink(t, len, IDLE_DBM0),
            Action::OffHook => tx.sf(t, None),
            Action::Release => {
                tx.stop_progress(t);
                if sf {
                    tx.sf(t, Some(IDLE_DBM0));
                }
                if let Some(c) = tr.call.take() {
                    let rec = &mut self.records[c];
                    rec.released_ms.get_or_insert(samples_to_ms(t));
                    // Abandoned: still delivered (the PSAP sees the ANI/ALI to call back).
                    let gone = self.calls[c].on_event(t, CallEvent::CallerReleased);
                    let abandoned = matches!(gone, Some(CallAction::Abandoned { .. }));
                    self.tell(SwitchEvent::CallerReleased { call: c, abandoned });
                    let rec = &mut self.records[c];
                    if let Some(CallAction::Abandoned { at, while_ }) = gone {
                        rec.abandoned = true;
                        rec.abandoned_ms = Some(samples_to_ms(at));
                        rec.logs.push(format!(
                            "ABANDONED: CALLER HUNG UP WHILE {}",
                            while_.to_uppercase()
                        ));
                        rec.abandoned_while = Some(while_);
                    }
                }
            }
            Action::Route(setup) => {
                let g = tr.group;
                let tg = &self.groups[g];
                let r = route(&self.office, tg, &setup.ani);
                let id = self.records.next_id();
                let mut logs = setup.logs.clone();
                logs.extend(r.logs.iter().cloned());
                // Seized while every MF receiver was busy: the call dates from the seizure.
                let seized = match tr.waited_from.take() {
                    Some(from) => {
                        logs.push(format!(
                            "MF RECEIVER WAIT {:.1} ms: ALL {} BUSY AT THE SEIZURE",
                            samples_to_ms(setup.seized.saturating_sub(from)),
                            self.pool.size().unwrap_or(0)
                        ));
                        from
                    }
                    None => setup.seized,
                };
                self.records.push(CallRecord {
                    call: id as u64 + 1,
                    trunk: tg.key.clone(),
                    channel: tr.channel,
                    seized_ms: samples_to_ms(seized),
                    called: setup.called.clone(),
                    ani_spill: setup.ani.spill.clone(),
                    // The caller's TN, or — after ANI trouble or from a non-ANI office — the
                    // substitute the PSAP is sent (NPA + 911-00EE).
                    ani: Some(format!(
                        "{:010}",
                        setup.ani.tn.unwrap_or_else(|| substitute_tn(tg))
                    )),
                    ani_status: setup.ani.status.as_str(),
                    esn: Some(r.esn),
                    esn_source: Some(r.esn_source),
                    psap: None,
                    position: None,
                    outpulsed: None,
                    answered_ms: None,
                    abandoned: setup.abandoned,
                    abandoned_ms: setup.abandoned.then(|| samples_to_ms(t)),
                    abandoned_while: setup.abandoned.then(|| "in setup".to_string()),
                    transfers: Vec::new(),
                    released_ms: None,
                    position_released_ms: None,
                    logs,
                });
                // An abandoned call is delivered all the same, with no caller on it.
                let caller = !setup.abandoned;
                self.tell(SwitchEvent::Routed { call: id, port: i });
                if caller {
                    self.trunks[i].call = Some(id);
                } else {
                    self.records[id].released_ms = Some(samples_to_ms(t));
                    self.tell(SwitchEvent::CallerReleased {
                        call: id,
                        abandoned: true,
                    });
                }
                self.calls
                    .push(Call::new(g, i, setup.ani, r.esn, (!caller).then_some(t)));
                self.place(
                    Request {
                        call: id,
                        transfer: None,
                    },
                    &r.psap,
                    t,
                );
            }
        }
    }

    /// Find a position for a delivery (overflow chain, else the queue) and seize it.
    pub(super) fn place(&mut self, req: Request, psap: &str, t: u64) {
        match self.delivery.place(&self.office, psap, req) {
            Placed::Position {
                psap: to,
                position,
                overflowed,
            } => {
                if overflowed {
                    self.records[req.call].logs.push(format!(
                        "OVERFLOW: ALL POSITIONS BUSY AT {psap}: TO {to}/{position}"
                    ));
                }
                self.deliver(req, &to, position, t)
            }
            Placed::Queued { psap } => {
                match req.transfer {
                    None => {
                        self.calls[req.call].on_event(t, CallEvent::Queued { psap: psap.clone() })
                    }
                    Some(k) => self.calls[req.call].on_event(
                        t,
                        CallEvent::TransferPlaced {
                            k,
                            target: psap.clone(),
                        },
                    ),
                };
                if req.transfer.is_none() {
                    self.tell(SwitchEvent::Queued { call: req.call });
                }
                let rec = &mut self.records[req.call];
                match req.transfer {
                    None => {
                        rec.psap = Some(psap);
                        rec.logs
                            .push("QUEUED WITH RINGBACK: ALL POSITIONS BUSY".into());
                        let call = &self.calls[req.call];
                        if call.caller_on_line() {
                            // Audible ringback (signalling.md §4): 440 + 480 Hz, 2 s on / 4 s off.
                            self.lines[call.trunk].tx.tones(
                                t,
                                u64::MAX,
                                &[(440, RINGBACK_DBM0), (480, RINGBACK_DBM0)],
                                Some((ms_to_samples(2000.0) as u64, ms_to_samples(6000.0) as u64)),
                                ToneKind::Progress,
                            );
                        }
                    }
                    Some(k) => {
                        rec.transfers[k].target = Some(psap.clone());
                        rec.logs
                            .push(format!("TRANSFER QUEUED AT {psap}: ALL POSITIONS BUSY"));
                    }
                }
            }
        }
    }

    /// Seize `position` of `psap` for `req`.
    pub(super) fn deliver(&mut self, req: Request, psap: &str, position: u32, t: u64) {
        let call = &mut self.calls[req.call];
        let p = &self.office.psaps[psap];
        let spill = regenerate(
            &self.office,
            p,
            &self.office.esns[&call.esn],
            &self.groups[call.group],
            &call.ani,
            false,
        );
        let rec = &mut self.records[req.call];
        match req.transfer {
            None => {
                call.on_event(
                    t,
                    CallEvent::Seized {
                        psap: psap.to_string(),
                        position,
                    },
                );
                rec.psap = Some(psap.to_string());
                rec.position = Some(position);
                rec.outpulsed = Some(spill_string(&spill));
                if call.caller_on_line() {
                    self.lines[call.trunk].tx.stop_progress(t);
                }
            }
            Some(k) => {
                call.on_event(
                    t,
                    CallEvent::TransferPlaced {
                        k,
                        target: psap.to_string(),
                    },
                );
                let x = &mut rec.transfers[k];
                x.target = Some(psap.to_string());
                x.position = Some(position);
                x.outpulsed = Some(spill_string(&spill));
            }
        }
        self.used.insert(psap.to_string());
        let port = self.psap_base[psap] + position as usize;
        call.legs.push(port);
        let global = self.trunks.len() + port;
        let leg = &mut self.psaps[port];
        leg.call = Some(req.call);
        leg.transfer = req.transfer;
        leg.collector = CodeCollector::default();
        let mut pa = Vec::new();
        leg.trunk.seize(t, spill, &mut pa);
        self.lines[global].tx.sf(t, None);
        if !leg.heard {
            // The seizure, on the M lead of a position not heard in its audio.
            self.notices
                .push((self.trunks.len() + port, t, Lead::OffHook));
        }
        self.last_activity = self.last_activity.max(t);
        self.tell(SwitchEvent::Delivered {
            call: req.call,
            transfer: req.transfer,
            port: global,
        });
    }
}
