//! Audio at the edge: WAV files in and out (any encoding, rate and channel count in; 8 kHz 16-bit
//! out) and rate conversion to and from the engine's 8 kHz.

pub mod resample;
pub mod stream;
pub mod wav;
