//! Checks of section A.15 (MIME: RFC 2045, 2046, 2049).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
