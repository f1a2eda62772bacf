//! Checks of section A.6 (the SASL mechanisms carried in AUTH).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
