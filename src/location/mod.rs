//! Location: what the PSAP reads back about a caller — ALI (NENA 02-010 TN records) — and, later,
//! MSAG validation, the enterprise ERL/ELIN paths and PIDF-LO (`shared/spec/location.md`).

pub mod ali;
pub mod msag;
