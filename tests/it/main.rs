//! Cross-crate tests of d365-harness.

// The fakes over real HTTPS with reqwest, as a client library sees them.
mod protocol;
// Both fakes on one listener: Entra's tokens open Dataverse, and its failures look real.
mod dataverse;
// The scenario files under `scenarios/`, one test and one reviewed report snapshot each.
mod scenarios;
// The source-configuration flow (d365-source) against both fakes: every Problem from a world.
mod source;
// The connection check's progress events: order, labels, failures and retries.
mod progress;
// Shared helpers: the demo world on a manual clock, an HTTPS client on the real host names.
mod support;
