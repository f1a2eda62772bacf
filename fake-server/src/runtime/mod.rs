//! The tokio runtime around the sans-I/O session: listeners, the connection driver, limits
//! and shutdown. Nothing here decides a reply; that is the session's and its policy's job.

pub mod after_reply;
pub mod connection;
pub mod deadline;
pub mod idle_spin;
pub mod limits;
pub mod listener;
pub mod shutdown;
pub mod stream;
