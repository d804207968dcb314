//! Cross-crate tests of d365-harness.

// The fakes over real HTTPS with reqwest, as a client library sees them.
mod protocol;
// Shared helpers: the demo world on a manual clock, an HTTPS client on the real host names.
mod support;
