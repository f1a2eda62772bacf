//! Checks of section A.2–A.4 (RFC 3207 STARTTLS, RFC 8314 implicit TLS, RFC 6409 submission).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
