//! Checks of section A.5 (RFC 4954 SMTP AUTH).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
