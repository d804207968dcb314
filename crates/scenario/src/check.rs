//! Checking world and scenario files without running them (`d365-harness check`): which kind a
//! file is (by its keys, else its folder), and every error in it rather than the first.

use std::path::Path;

use crate::{Error, FileKind, Scenario, World};

/// What checking one file found.
#[derive(Debug)]
pub struct FileCheck {
    /// Whether the file was read as a world or a scenario.
    pub kind: FileKind,
    /// Every error found, in file order (empty when the file is good).
    pub errors: Vec<Error>,
}

/// Reads, parses and validates the world or scenario file `path`, collecting every error.
pub fn check_file(path: &Path) -> FileCheck {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) => {
            let kind = kind_by_folder(path);
            return FileCheck {
                kind,
                errors: vec![Error::Read {
                    file: kind,
                    path: path.to_owned(),
                    source,
                }],
            };
        }
    };
    let kind = file_kind(&text, path);
    let mut errors = match kind {
        FileKind::World => World::parse_all(&text, path).err().unwrap_or_default(),
        FileKind::Scenario => Scenario::parse_all(&text, path).err().unwrap_or_default(),
    };
    errors.sort_by_key(|error| match error {
        Error::Parse { location, .. } => location.map(|at| (at.line, at.column)),
        Error::Invalid { location, .. } => Some((location.line, location.column)),
        _ => None,
    });
    FileCheck { kind, errors }
}

/// Whether `text` is a scenario (it has `steps`, `form` or `world`) or a world (`tenants`,
/// `apps` or `environments`); text that is not TOML or has neither goes by its folder.
pub fn file_kind(text: &str, path: &Path) -> FileKind {
    let Ok(table) = text.parse::<toml::Table>() else {
        return kind_by_folder(path);
    };
    if ["steps", "form", "world"]
        .iter()
        .any(|key| table.contains_key(*key))
    {
        FileKind::Scenario
    } else if ["tenants", "apps", "environments"]
        .iter()
        .any(|key| table.contains_key(*key))
    {
        FileKind::World
    } else {
        kind_by_folder(path)
    }
}

/// A file under a `worlds` folder is a world; anything else a scenario.
fn kind_by_folder(path: &Path) -> FileKind {
    if path
        .components()
        .any(|component| component.as_os_str() == "worlds")
    {
        FileKind::World
    } else {
        FileKind::Scenario
    }
}

#[cfg(test)]
mod tests;
