//! Cross-crate tests.
//!
//! `protocol`: the fakes over real HTTPS with reqwest, as a client library sees them.
