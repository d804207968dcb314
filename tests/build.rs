//! Rebuilds the integration tests when a scenario or fixture changes: `#[files(...)]` in
//! `it/scenarios.rs` lists the scenario files at compile time, so a new file needs a rebuild.

#[allow(
    clippy::print_stdout,
    reason = "cargo reads a build script's instructions from its stdout"
)]
fn main() {
    println!("cargo::rerun-if-changed=../scenarios");
    println!("cargo::rerun-if-changed=../fixtures");
}
