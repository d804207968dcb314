//! The world as an editable document: the world file as a TOML table plus the path it is
//! resolved against. Changes (`crate::change`) edit it; [`WorldDocument::world`] validates it
//! again. Invariant: a document is standalone: certificates are inline PEM (certificate blocks
//! only), signing key paths are absolute, so its text loads to the same world from anywhere.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::World;
use crate::{Error, FileKind};

/// A world file as a TOML table (keys in file order), made standalone.
#[derive(Clone, PartialEq)]
pub struct WorldDocument {
    path: PathBuf,
    table: Table,
}

impl WorldDocument {
    /// The document of `world`: the text it was parsed from, with certificate files inlined
    /// as `pem` and `[signing_key]` paths made absolute.
    pub fn of(world: &World) -> Result<WorldDocument, Error> {
        let path = world.path().to_owned();
        let mut table: Table = toml::from_str(&world.source.0).map_err(|source| Error::Parse {
            file: FileKind::World,
            path: path.clone(),
            location: None,
            source: crate::TomlError(Box::new(source)),
        })?;
        let folder = path.parent().unwrap_or(Path::new("")).to_owned();
        inline_certificates(&mut table, &folder)?;
        absolute_signing_key(&mut table, &folder);
        Ok(WorldDocument { path, table })
    }

    /// The world file this document came from; files it still names resolve against its
    /// folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document's table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The document's table, to edit.
    pub(crate) fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }

    /// The document as world file text (what `serve --world` loads to the same world).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.table).expect("a TOML table always serializes")
    }

    /// Validates the document as a whole world file, as if it had been read from
    /// [`WorldDocument::path`].
    pub fn world(&self) -> Result<World, Error> {
        World::parse(&self.to_toml(), &self.path)
    }
}

impl std::fmt::Debug for WorldDocument {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The table holds secret values.
        formatter
            .debug_struct("WorldDocument")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Replaces `file = "<PEM file>"` of every app certificate by `pem = '''<certificate>'''` in
/// the same place, keeping only the file's certificate blocks (never a private key).
fn inline_certificates(table: &mut Table, folder: &Path) -> Result<(), Error> {
    let Some(apps) = table.get_mut("apps").and_then(Value::as_table_mut) else {
        return Ok(());
    };
    for (_, app) in apps.iter_mut() {
        let Some(app) = app.as_table_mut() else {
            continue;
        };
        let Some(certificates) = app.get_mut("certificates").and_then(Value::as_array_mut) else {
            continue;
        };
        for certificate in certificates.iter_mut().filter_map(Value::as_table_mut) {
            let Some(file) = certificate.get("file").and_then(Value::as_str) else {
                continue;
            };
            let file = folder.join(file);
            let text = std::fs::read_to_string(&file).map_err(|source| Error::Read {
                file: FileKind::World,
                path: file.clone(),
                source,
            })?;
            let pem = Value::String(certificate_blocks(&text));
            *certificate = std::mem::take(certificate)
                .into_iter()
                .map(|(key, value)| match key.as_str() {
                    "file" => ("pem".to_owned(), pem.clone()),
                    _ => (key, value),
                })
                .collect();
        }
    }
    Ok(())
}

/// The `CERTIFICATE` blocks of a PEM text, each on its own lines; anything else (a private
/// key, comments) is dropped.
pub(crate) fn certificate_blocks(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut blocks = String::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line == BEGIN {
            inside = true;
        }
        if inside {
            blocks.push_str(line);
            blocks.push('\n');
        }
        if line == END {
            inside = false;
        }
    }
    blocks
}

/// Makes `[signing_key]`'s `key` and `certificate` absolute, so the document loads from any
/// folder. (The key is a path, never its text: the document is served as is.)
fn absolute_signing_key(table: &mut Table, folder: &Path) {
    let Some(signing_key) = table.get_mut("signing_key").and_then(Value::as_table_mut) else {
        return;
    };
    for field in ["key", "certificate"] {
        if let Some(Value::String(file)) = signing_key.get_mut(field) {
            let joined = folder.join(&*file);
            let absolute = std::path::absolute(&joined).unwrap_or(joined);
            *file = absolute.to_string_lossy().into_owned();
        }
    }
}
