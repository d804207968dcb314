//! `d365-harness check`: loads and validates world and scenario files without running them,
//! printing every error of every file as `path:line:col: key: message`, with "did you mean"
//! for a misspelt name, then one line per file saying which kind it was read as.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use scenario::{Error, FileCheck};

use crate::{Exit, error_chain};

#[cfg(test)]
mod tests;

/// Arguments of `d365-harness check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// World and scenario files, or folders whose `*.toml` files (in subfolders too) are checked
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs `d365-harness check`: `Ok(Exit::Failures)` when a file has errors, `Err` for a PATH
/// that does not exist or a folder without `*.toml` files.
pub(crate) fn run(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut files = Vec::new();
    for path in &args.paths {
        let metadata = std::fs::metadata(path)
            .with_context(|| format!("no such file or folder `{}`", path.display()))?;
        if metadata.is_dir() {
            let mut found = Vec::new();
            crate::run::walk(path, &mut found)?;
            if found.is_empty() {
                bail!("no `*.toml` files in folder `{}`", path.display());
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|path| seen.insert(crate::run::normalized(path).unwrap_or_else(|_| path.clone())));
    let (mut bad, mut total) = (0, 0);
    for path in &files {
        let check = scenario::check_file(path);
        write!(out, "{}", file_text(path, &check))?;
        if !check.errors.is_empty() {
            bad += 1;
            total += check.errors.len();
        }
    }
    let noun = |count: usize, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    writeln!(
        out,
        "{} checked: {} ok, {} with errors ({})",
        noun(files.len(), "file", "files"),
        files.len() - bad,
        bad,
        noun(total, "error", "errors")
    )?;
    out.flush()?;
    Ok(if bad > 0 {
        Exit::Failures
    } else {
        Exit::Success
    })
}

/// One file's lines: each error, then `path: <kind> file: ok` or `..., N errors`.
fn file_text(path: &std::path::Path, check: &FileCheck) -> String {
    let shown = path.display();
    let mut text = String::new();
    for error in &check.errors {
        text.push_str(&error_line(&shown.to_string(), error));
        text.push('\n');
    }
    let verdict = match check.errors.len() {
        0 => "ok".to_owned(),
        1 => "1 error".to_owned(),
        count => format!("{count} errors"),
    };
    text.push_str(&format!("{shown}: {} file: {verdict}\n", check.kind));
    text
}

/// `path:line:col: key: message (did you mean `x`?)`; a parse error has no key, an error
/// without a position only the path.
fn error_line(path: &str, error: &Error) -> String {
    let suggestion = error
        .suggestion()
        .map(|name| format!("; did you mean `{name}`?"))
        .unwrap_or_default();
    match error {
        Error::Invalid {
            location,
            key,
            reason,
            ..
        } => format!(
            "{path}:{}:{}: {key}: {}{suggestion}",
            location.line,
            location.column,
            error_chain(reason.as_ref())
        ),
        Error::Parse {
            location, source, ..
        } => {
            let at = location.map_or_else(String::new, |location| {
                format!(":{}:{}", location.line, location.column)
            });
            format!("{path}{at}: {source}{suggestion}")
        }
        other => format!("{path}: {}", error_chain(other)),
    }
}
