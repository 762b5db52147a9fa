//! E911 selective-routing tandem simulator.
//!
//! Layers (see `docs/architecture.md`): [`dsp`] and [`register`] count time in samples and do no
//! I/O; [`audio`] reads and writes WAV at the edge; [`generate`] synthesises signalling with
//! impairments; [`cli`] parses, validates and calls in.

pub mod audio;
pub mod cli;
pub mod detect;
pub mod dsp;
pub mod engine;
pub mod generate;
pub mod line;
#[cfg(feature = "live")]
pub mod live;
pub mod location;
pub mod register;
pub mod sim;
pub mod tandem;
pub mod units;
