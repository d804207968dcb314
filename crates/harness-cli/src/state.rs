//! The state directory (`.d365-harness` by default): files other processes read while the
//! harness runs. Every write is atomic (a temporary file in the same folder, then a rename), so
//! a reader that sees a file sees all of it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Who may read a written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileMode {
    /// Readable by everyone (0644 on unix).
    Public,
    /// Readable by the owner only (0600 on unix): the file holds a secret.
    Private,
}

/// A state directory that exists, by absolute path.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Creates `path` (and its parents) if needed.
    pub(crate) fn create(path: &Path) -> anyhow::Result<StateDir> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("failed to create state directory `{}`", path.display()))?;
        let path = path
            .canonicalize()
            .with_context(|| format!("failed to resolve state directory `{}`", path.display()))?;
        Ok(StateDir { path })
    }

    /// The directory's absolute path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes `name` if it still holds `contents`: another process that wrote the file since
    /// (a second `serve` on the same folder) keeps its own. Returns whether it was removed.
    pub(crate) fn remove_if_unchanged(&self, name: &str, contents: &[u8]) -> anyhow::Result<bool> {
        let target = self.path.join(name);
        match std::fs::read(&target) {
            Ok(found) if found == contents => {
                std::fs::remove_file(&target)
                    .with_context(|| format!("failed to remove `{}`", target.display()))?;
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(error) => {
                Err(error).with_context(|| format!("failed to read `{}`", target.display()))
            }
        }
    }

    /// Replaces `name` with `contents` atomically and returns its absolute path.
    pub(crate) fn write(
        &self,
        name: &str,
        contents: &[u8],
        mode: FileMode,
    ) -> anyhow::Result<PathBuf> {
        let target = self.path.join(name);
        let temporary = self
            .path
            .join(format!(".{name}.{}.tmp", std::process::id()));
        let written = write_new(&temporary, contents, mode).and_then(|()| {
            std::fs::rename(&temporary, &target).with_context(|| {
                format!(
                    "failed to move `{}` to `{}`",
                    temporary.display(),
                    target.display()
                )
            })
        });
        if written.is_err() {
            // Best effort: the error that matters is the one being returned.
            let _ = std::fs::remove_file(&temporary);
        }
        written.with_context(|| format!("failed to write `{}`", target.display()))?;
        Ok(target)
    }
}

/// Writes a fresh file, created with `mode` so that a secret is never readable by others, not
/// even for a moment.
fn write_new(path: &Path, contents: &[u8], mode: FileMode) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("failed to remove `{}`", path.display()));
        }
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            FileMode::Public => 0o644,
            FileMode::Private => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file: File = options
        .open(path)
        .with_context(|| format!("failed to create `{}`", path.display()))?;
    // No fsync: the rename alone makes the file appear whole to readers, which is all these
    // files need. They describe a running process, so after a crash a lost file points at
    // nothing anyway; syncing cost every `serve` a disk flush (milliseconds on a busy disk)
    // before it could announce itself.
    file.write_all(contents)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests;
