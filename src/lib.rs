//! E911 selective-routing tandem simulator.
//!
//! Layers (see `docs/architecture.md`): [`dsp`], [`register`] and [`mod@line`] (receivers) and
//! [`tandem`], [`sim`], [`location`] (call logic, models, location data) count time in samples and
//! do no I/O; [`engine`] owns threads, rings and clocks; [`audio`] (WAV) and `live` (sound card,
//! feature `live`) are the edges; [`generate`] synthesises signalling; [`cli`] parses, validates
//! and calls in.

pub mod audio;
pub mod cli;
pub mod detect;
pub mod dsp;
pub mod engine;
pub mod files;
pub mod generate;
pub mod line;
#[cfg(feature = "live")]
pub mod live;
pub mod location;
pub mod ng911;
pub mod register;
pub mod route;
pub mod sim;
pub mod sip;
pub mod stop;
pub mod tandem;
pub mod text;
pub mod units;
