//! What the crate's unit tests share: the repository root (where `fixtures/` and `scenarios/`
//! live) and an error rendered with its whole chain of causes.

use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The error and its sources, joined with `: `, with the repository root cut from paths so
/// that expectations do not depend on where the checkout lives.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace(&format!("{}/", repo_root().display()), "")
}
