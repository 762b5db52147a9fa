//! The E911 tandem: office datafill (tables and their rules). Call processing, routing and the
//! regenerated ANI build on these tables (issue 4, in progress).

pub mod ani;
pub mod datafill;
pub mod incoming;
pub mod positions;
pub mod psap_trunk;
pub mod route;
pub mod tables;
