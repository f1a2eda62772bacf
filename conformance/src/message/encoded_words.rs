//! Checks of section A.16 (RFC 2047 encoded-words).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
