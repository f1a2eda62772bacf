//! Checks of section A.7–A.13 (PIPELINING, CHUNKING, SIZE, 8BITMIME, SMTPUTF8, DSN, enhanced status codes).

use crate::judges::Judge;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[];
