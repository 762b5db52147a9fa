//! One 10 ms block of the closed loop, for drivers that step it themselves (a live role paced by
//! its card, `sip serve`'s office paced by the clock): the world hears what the tandem sent one
//! block earlier and answers, ports carried elsewhere (a card's lines) are patched in, then the
//! tandem hears it all and answers. The same order as `engine::run_inline`.

use super::world::World;
use crate::engine::{LineSignal, BLOCK};
use crate::tandem::switch::Tandem;

pub struct Blocks {
    /// What the tandem sent this block, per port.
    pub t_out: Vec<Vec<i16>>,
    /// What the world (and anything patched in) sent, per port.
    pub s_out: Vec<Vec<i16>>,
    line: Vec<LineSignal>,
    notices: Vec<LineSignal>,
}

impl Blocks {
    pub fn new(ports: usize) -> Blocks {
        Blocks {
            t_out: vec![vec![0; BLOCK]; ports],
            s_out: vec![vec![0; BLOCK]; ports],
            line: Vec::new(),
            notices: Vec::new(),
        }
    }

    /// Step the block that starts at `now`; `patch(s_out)` may replace ports' far-end audio
    /// before the tandem hears it.
    pub fn step(
        &mut self,
        tandem: &mut Tandem,
        world: &mut World,
        now: u64,
        patch: impl FnOnce(&mut [Vec<i16>]),
    ) {
        {
            let ins: Vec<&[i16]> = self.t_out.iter().map(|v| v.as_slice()).collect();
            let mut outs: Vec<&mut [i16]> =
                self.s_out.iter_mut().map(|v| v.as_mut_slice()).collect();
            self.line.clear();
            world.step(now, &ins, &mut outs, &mut self.line);
            world.attendants.hear(&self.notices, &mut self.line);
        }
        patch(&mut self.s_out);
        for &(port, at, lead) in &self.line {
            tandem.line_event(port, at, lead);
        }
        {
            let ins: Vec<&[i16]> = self.s_out.iter().map(|v| v.as_slice()).collect();
            let mut outs: Vec<&mut [i16]> =
                self.t_out.iter_mut().map(|v| v.as_mut_slice()).collect();
            tandem.step(&ins, &mut outs);
        }
        self.notices.clear();
        tandem.notices(&mut self.notices);
    }
}
