//! Signal synthesis: the senders of every signal the tandem speaks, plus the impairments used to
//! test receivers. [`synth`] builds channels sample-exactly and records the ground truth of every
//! signal it places; [`script`] is the `e911 generate` script language on top of it.

pub mod script;
pub mod sender;
pub mod synth;
