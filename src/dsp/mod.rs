//! Signal processing with no telephony words: correlators, exact phasors, G.711.

pub mod block_energy;
pub mod correlator;
pub mod cpu;
pub mod fixed_copy;
pub mod g711;
pub mod phasor;
pub mod prefetch;
pub mod tone_probe;
