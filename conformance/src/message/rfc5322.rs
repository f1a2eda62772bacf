//! Checks of section A.14 (RFC 5322 message format).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
