//! One integration test binary; modules by behaviour.

mod support;

mod cli;
mod dtmf_conformance;
mod mf_conformance;
mod talkoff;
mod wav_io;
