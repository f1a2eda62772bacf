//! The message checks (the checklist's sections A.14–A.17), each judging a
//! [`model::MessageModel`]: the content as the client sent it, split into entities.

pub mod encoded_words;
pub mod mime;
pub mod model;
pub mod rfc2231;
pub mod rfc5322;
