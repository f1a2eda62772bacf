//! Checks of section A.17 (RFC 2231 parameters).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
