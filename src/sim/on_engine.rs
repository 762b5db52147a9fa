//! The tandem and the world on the engine: the engine knows only its [`Switch`] and [`Source`]
//! traits, and this is where the tandem becomes a switch and the simulated world a source (above
//! both layers, so neither has to import the other). [`run_sim`] runs a scenario on the engine.

use crate::engine::{self, Lead, LineSignal, PortRx, Source, Stats, Switch};
use crate::line::port::PortEvent;
use crate::tandem::switch::Tandem;

use super::scenario::Scenario;
use super::world::World;
use super::SimRun;

impl Switch for Tandem {
    fn port_count(&self) -> usize {
        self.ports().len()
    }

    fn receivers(&self) -> Vec<PortRx> {
        self.receiver_sets()
            .into_iter()
            .enumerate()
            .map(|(p, set)| PortRx {
                set,
                trunk: self.idle_at_start(p),
            })
            .collect()
    }

    fn line_event(&mut self, port: usize, at: u64, lead: Lead) {
        Tandem::line_event(self, port, at, lead)
    }

    fn notices(&mut self, out: &mut Vec<LineSignal>) {
        Tandem::notices(self, out)
    }

    fn step_heard(
        &mut self,
        heard: &[Vec<PortEvent>],
        input: &[&[i16]],
        output: &mut [&mut [i16]],
    ) {
        Tandem::step_heard(self, heard, input, output)
    }

    fn step(&mut self, input: &[&[i16]], output: &mut [&mut [i16]]) {
        Tandem::step(self, input, output)
    }

    fn quiet(&self) -> bool {
        Tandem::quiet(self)
    }

    fn receiver_changes(&mut self, out: &mut Vec<(usize, crate::line::port::RxSet)>) {
        Tandem::receiver_changes(self, out)
    }
}

impl Source for World {
    fn step(
        &mut self,
        now: u64,
        from_tandem: &[&[i16]],
        notices: &[LineSignal],
        out: &mut [&mut [i16]],
        _valid: &mut [usize],
        line: &mut Vec<LineSignal>,
    ) {
        World::step(self, now, from_tandem, out, line);
        self.attendants.hear(notices, line);
    }
}

/// Run a scenario on the engine: the same calls as [`super::run_inline`].
pub fn run_sim(
    sc: &Scenario,
    opts: &engine::Opts,
    sink: Option<&mut engine::Sink<'_>>,
) -> Result<(SimRun, Stats), String> {
    let (tandem, world) = super::build(sc)?;
    let ports = tandem.ports().to_vec();
    let (tandem, world, stats) = engine::run(tandem, world, sc.duration, opts, sink);
    let in_setup = tandem.in_setup();
    let pool = tandem.pool_stats();
    let mut run = super::finish(
        sc,
        &ports,
        tandem.into_records(),
        in_setup,
        world,
        stats.samples,
        stats.interrupted,
    );
    run.mf_pool = pool;
    Ok((run, stats))
}

// The tandem and the world move to the engine's threads.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Tandem>();
    is_send::<World>();
};
