//! Line signalling: 2600 Hz single-frequency (SF) supervision and the dial pulses it carries.
//! [`sf`] hears the tone come and go; [`supervision`] turns those changes into seizure, wink,
//! flash, disconnect and dial-pulse digits; [`lead`] is the same supervision carried out of band.
//! All count time in samples and do no I/O.

pub mod lead;
pub mod notch;
pub mod port;
pub mod sf;
pub mod supervision;
