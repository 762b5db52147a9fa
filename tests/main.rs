//! One integration test binary; modules by behaviour.

mod support;

mod cli;
mod dtmf_conformance;
mod mf_conformance;
mod regression;
mod talkoff;
mod wav_io;
