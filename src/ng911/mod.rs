//! NG9-1-1 (NENA i3): what an ESInet element speaks — LoST (RFC 5222) to an ECRF.
//! `docs/ng911.md`.

pub mod ecrf;
pub mod ecrf_server;
pub mod lif;
pub mod lost;
pub mod lost_client;
