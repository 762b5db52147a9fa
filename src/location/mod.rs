//! Location: what the PSAP reads back about a caller and where the ESN comes from — ALI (NENA
//! 02-010 TN records), MSAG validation into E911SRDB, and the enterprise paths of Lync Server 2013
//! (location service wiremap, ELIN gateway, SIP-trunk provider with PIDF-LO)
//! (`docs/location.md`, `docs/location.md`).

pub mod ali;
pub mod enterprise;
pub mod lis;
pub mod msag;
pub mod pidf;
pub mod registered;
