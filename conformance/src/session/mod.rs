//! The session checks, one module per group of RFCs (the checklist's sections A.1–A.13).
//! Each judges the [`crate::model::SessionModel`] of a session.

pub mod auth;
pub mod chunking;
pub mod core;
pub mod extensions;
pub mod params;
pub mod pipelining;
pub mod sasl;
pub mod tls;
