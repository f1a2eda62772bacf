//! The snapshot suite lives in `tests/suite.rs`; its snapshots are the `.snap` files in this
//! folder, one per scenario and flow. This package exists so that `cargo insta review`
//! finds them (it only searches inside packages).
