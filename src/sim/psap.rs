//! The PSAP position model: the attendant's equipment and the attendant. It hears the tandem
//! through its own receivers (SF and MF) and answers in signals on its own trunk:
//!
//! ```text
//!  Idle ──tandem seizes──▶ wink (150 ms later, 200 ms) ──▶ ANI spill (MF receiver)
//!       ──ST──▶ decode against E911NPD, ALI lookup, screen ──▶ answer (500 ms) ──▶ talk
//!       ──scripted actions: flash + DTMF code, hang up──▶ Idle
//! ```
//!
//! The information digit is decoded as the PSAP's ANIFMT says (1DIGIT: NPD, +4 = flash, 8 = test
//! call; 3DIGIT: the NPA) and the ALI record for the number shown as the PSAP's screen line.
//! The attendant does what the scenario says for the call whose ANI it received (the first
//! position to answer that ANI takes the script; others hold for the default time).

use super::scenario::{Act, Attendant};
use crate::dsp::correlator::KernelPlanner;
use crate::generate::sender::{quantise, DtmfTiming, LineSender, ToneKind};
use crate::line::port::{Heard, PortEvent, PortReceivers, RxSet};
use crate::line::sf::{BURST_DBM0, IDLE_DBM0};
use crate::line::supervision::SupervisionEvent;
use crate::location::ali::Ali;
use crate::register::mf::MfSignal;
use crate::tandem::ani::spill_string;
use crate::tandem::tables::{AniFormat, Office, Psap};
use crate::units::{ms_to_samples, samples_to_ms};

/// What the PSAP showed when a call arrived.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Screen {
    pub psap: String,
    pub position: u32,
    pub at_ms: f64,
    /// The spill as received.
    pub spill: String,
    /// 10-digit number decoded from the spill, if it decoded.
    pub ani: Option<String>,
    pub flash: bool,
    pub test_call: bool,
    /// The screen line (ALI display).
    pub screen: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Seized,
    Talking,
}

/// One PSAP position.
pub struct PsapPosition {
    psap: Psap,
    position: u32,
    rx: PortReceivers,
    tx: LineSender,
    state: State,
    spill: Vec<MfSignal>,
    todo: Vec<(u64, Act)>,
    heard: Vec<PortEvent>,
    buf: Vec<f32>,
    /// What the attendant did, with when (kept only after [`PsapPosition::keep_acts`]).
    acts: Option<Vec<(u64, Act)>>,
}

/// Decode a spill received by a PSAP of format `fmt`: `(10-digit number, flash, test call)`.
pub fn decode_spill(
    office: &Office,
    fmt: AniFormat,
    spill: &[MfSignal],
) -> Option<(u64, bool, bool)> {
    let digits: Vec<u8> = spill
        .iter()
        .filter_map(|s| match s {
            MfSignal::Digit(d) => Some(*d),
            _ => None,
        })
        .collect();
    let num = |d: &[u8]| d.iter().fold(0u64, |a, &x| a * 10 + x as u64);
    match (fmt, digits.len()) {
        (AniFormat::OneDigit, 8) => {
            let i = digits[0];
            let (npd, flash, test) = match i {
                0..=3 => (i, false, false),
                4..=7 => (i - 4, true, false),
                8 => (0, false, true),
                _ => return None,
            };
            let npa = *office.npd.get(&npd)? as u64;
            Some((npa * 10_000_000 + num(&digits[1..]), flash, test))
        }
        (AniFormat::ThreeDigit, 10) => Some((num(&digits), false, false)),
        _ => None,
    }
}

impl PsapPosition {
    /// A position of `psap`; its MF receiver is planned with `planner`.
    pub fn new(psap: &Psap, position: u32, planner: &mut KernelPlanner) -> Self {
        let mut tx = LineSender::new();
        tx.sf(0, Some(IDLE_DBM0));
        PsapPosition {
            psap: psap.clone(),
            position,
            rx: PortReceivers::new_in(
                RxSet {
                    sf: true,
                    mf: true,
                    dtmf: false,
                },
                planner,
            ),
            tx,
            state: State::Idle,
            spill: Vec::new(),
            todo: Vec::new(),
            heard: Vec::new(),
            buf: Vec::new(),
            acts: None,
        }
    }

    /// Keep what the attendant does for [`PsapPosition::take_acts`] (a live position logs it).
    pub fn keep_acts(mut self) -> Self {
        self.acts = Some(Vec::new());
        self
    }

    /// What the attendant did since the last call.
    pub fn take_acts(&mut self) -> Vec<(u64, Act)> {
        self.acts.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Is a call up on this position (answered, not yet hung up)?
    pub fn talking(&self) -> bool {
        self.state == State::Talking
    }

    /// Do `act` at `t` (a key typed by a live attendant), if a call is up.
    pub fn act_at(&mut self, t: u64, act: Act) -> bool {
        if self.state != State::Talking {
            return false;
        }
        self.todo.push((t, act));
        true
    }

    /// One block. `claim(ani)` hands over the scenario's attendant actions for the call with
    /// that ANI (once). Screens are appended to `screens`.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        now: u64,
        from_tandem: &[i16],
        out: &mut [i16],
        office: &Office,
        ali: &Ali,
        att: &Attendant,
        claim: &mut dyn FnMut(u64) -> Option<Vec<(u64, Act)>>,
        screens: &mut Vec<Screen>,
    ) {
        let n = out.len();
        let next = now + n as u64;
        let s = |ms: f64| ms_to_samples(ms) as u64;
        let mut heard = std::mem::take(&mut self.heard);
        heard.clear();
        self.rx.process(from_tandem, n, &mut heard);
        for e in &heard {
            match (self.state, e.heard) {
                (State::Idle, Heard::Sf(SupervisionEvent::Seize { .. })) => {
                    self.state = State::Seized;
                    self.spill.clear();
                    // The seizure is recognised 50 ms after the tone stopped.
                    let wink_at = (e.at + s(att.wink_delay_ms)).saturating_sub(s(50.0));
                    self.tx.wink(wink_at, s(att.wink_ms), IDLE_DBM0);
                }
                (State::Seized, Heard::Mf(sig)) => {
                    if sig == MfSignal::KP {
                        self.spill.clear();
                    }
                    self.spill.push(sig);
                    if matches!(
                        sig,
                        MfSignal::ST | MfSignal::STP | MfSignal::ST2P | MfSignal::ST3P
                    ) {
                        self.answer(e.at, office, ali, att, claim, screens);
                    }
                }
                // The tandem released this position (after our hang-up, or a wink it did not
                // take): idle again.
                (State::Seized, Heard::Sf(SupervisionEvent::Disconnect { .. })) => {
                    self.state = State::Idle;
                }
                _ => {}
            }
        }
        self.heard = heard;
        self.todo.sort_by_key(|a| a.0);
        while let Some((t, _)) = self.todo.first() {
            if *t >= next {
                break;
            }
            let (t, act) = self.todo.remove(0);
            if let Some(v) = &mut self.acts {
                v.push((t, act.clone()));
            }
            let dt = DtmfTiming::default();
            match act {
                Act::Transfer(code) => {
                    self.tx.flash(t, s(500.0), BURST_DBM0);
                    let _ = self.tx.dtmf(t + s(800.0), &code, &dt);
                }
                Act::Flash => self.tx.flash(t, s(500.0), BURST_DBM0),
                Act::Dial(keys) => {
                    let _ = self.tx.dtmf(t, &keys, &dt);
                }
                Act::Hangup => {
                    self.tx.stop_progress(t);
                    self.tx.sf(t, Some(IDLE_DBM0));
                    self.state = State::Idle;
                    self.todo.clear();
                }
            }
        }
        self.buf.clear();
        self.buf.resize(n, 0.0);
        self.tx.render(now, &mut self.buf);
        quantise(&self.buf, out);
    }

    fn answer(
        &mut self,
        at: u64,
        office: &Office,
        ali: &Ali,
        att: &Attendant,
        claim: &mut dyn FnMut(u64) -> Option<Vec<(u64, Act)>>,
        screens: &mut Vec<Screen>,
    ) {
        let s = |ms: f64| ms_to_samples(ms) as u64;
        let decoded = decode_spill(office, self.psap.ani_format, &self.spill);
        let screen = match decoded {
            Some((tn, flash, test)) => {
                let mut line = ali.screen(office, tn, None);
                if flash {
                    line.push_str(" | FLASH");
                }
                if test {
                    line = format!("TEST CALL {line}");
                }
                line
            }
            None => format!("ANI NOT DECODED: {}", spill_string(&self.spill)),
        };
        screens.push(Screen {
            psap: self.psap.name.clone(),
            position: self.position,
            at_ms: samples_to_ms(at),
            spill: spill_string(&self.spill),
            ani: decoded.map(|d| format!("{:010}", d.0)),
            flash: decoded.is_some_and(|d| d.1),
            test_call: decoded.is_some_and(|d| d.2),
            screen,
        });
        let answered = at + s(att.answer_ms);
        self.tx.sf(answered, None);
        if let Some(super::scenario::Voice::Tone { hz, dbm0 }) = att.voice {
            self.tx.tones(
                answered,
                s(att.hold_ms),
                &[(hz, dbm0)],
                None,
                ToneKind::Progress,
            );
        }
        self.state = State::Talking;
        let mut acts = decoded.and_then(|d| claim(d.0)).unwrap_or_default();
        if !acts.iter().any(|a| a.1 == Act::Hangup) {
            acts.push((s(att.hold_ms), Act::Hangup));
        }
        self.todo = acts
            .into_iter()
            .map(|(after, a)| (answered + after, a))
            .collect();
    }
}
