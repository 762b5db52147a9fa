//! The E911 tandem: office datafill (tables and their rules), the call-processing state machines,
//! routing and regenerated ANI, selective transfer, and the switch that runs them on audio.

pub mod ani;
pub mod bridge;
pub mod call;
pub mod datafill;
pub mod delivery;
pub mod event;
pub mod incoming;
pub mod positions;
pub mod psap_trunk;
pub mod record;
pub mod switch;
pub mod tables;
pub mod transfer;
