//! One integration test binary; modules by behaviour.

mod support;

mod ali;
mod ani_routing;
mod cli;
mod datafill;
mod dtmf_conformance;
mod incoming_trunk;
mod mf_conformance;
mod positions;
mod psap_trunk;
mod regression;
mod route_e2e;
mod sf_dial_pulse;
mod simulate;
mod talkoff;
mod transfer;
mod wav_io;
