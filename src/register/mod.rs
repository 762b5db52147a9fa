//! Register (address) signalling: Bell MF for ANI spills and called digits, DTMF for PSAP
//! transfer codes. Receivers take 8 kHz 16-bit samples in any chunk size; senders live in
//! [`crate::generate`].

pub mod dtmf;
pub mod frame_log;
pub mod mf;
pub mod noise_floor;
pub mod pair_fit;
pub mod pair_judge;
pub mod tone_pair;
