//! `d365-harness scenario from-error`: QA pastes an error as the importer logged it; the harness
//! recognises the AADSTS entry, Dataverse code, throttle or flow problem (`from_error/
//! recognise.rs`) and copies the smallest repository scenario that `coverage` finds reaching
//! it, with a new name and description; for an entry none reaches, `from_error/forced.rs`
//! forces it with a fault rule. Invariant: no pasted text is written, so no secret is.

mod forced;
mod recognise;
#[cfg(test)]
mod tests;

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use d365_source::ProblemKind;
use scenario::Scenario;

use crate::Exit;
use crate::coverage::{self, Category, Item};
use recognise::Recognised;

/// Arguments of `d365-harness scenario`.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

/// The `scenario` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ScenarioCommand {
    /// Write a scenario file that reproduces a pasted error (an AADSTS message, a Dataverse
    /// error body or code, a 429 message, a TLS error).
    FromError(FromErrorArgs),
}

/// Arguments of `d365-harness scenario from-error`.
#[derive(Debug, clap::Args)]
pub struct FromErrorArgs {
    /// The error text as the importer logged it; `-` or nothing reads it from standard input
    #[arg(value_name = "TEXT|-")]
    pub text: Option<String>,
    /// Write the scenario to FILE (which must not exist yet) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where the template scenarios are [default: scenarios]
    #[arg(long, value_name = "FOLDER")]
    pub scenarios: Option<PathBuf>,
}

/// Runs `d365-harness scenario ...`.
pub(crate) fn run(
    args: ScenarioArgs,
    runtime: &tokio::runtime::Runtime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match args.command {
        ScenarioCommand::FromError(args) => from_error(&args, runtime, out, err),
    }
}

fn from_error(
    args: &FromErrorArgs,
    runtime: &tokio::runtime::Runtime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let text = match args.text.as_deref() {
        None | Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("failed to read the error text from standard input")?;
            text
        }
        Some(text) => text.to_owned(),
    };
    if text.trim().is_empty() {
        bail!("no error text: give it as an argument, or `-` and paste it on standard input");
    }
    if let Some(path) = &args.out
        && path.exists()
    {
        bail!(
            "`{}` already exists; name a new file with `--out`",
            path.display()
        );
    }
    let Some(recognised) = recognise::recognise(&text) else {
        writeln!(
            err,
            "not recognised: the text names no AADSTS error, Dataverse error code, throttle or connection problem the harness knows; the closest are:"
        )?;
        for label in recognise::closest(&text) {
            writeln!(err, "  {label}")?;
        }
        return Ok(Exit::Failures);
    };
    let folder = args
        .scenarios
        .clone()
        .unwrap_or_else(|| PathBuf::from("scenarios"));
    let cases = crate::run::replay_paths(std::slice::from_ref(&folder), None, runtime)
        .with_context(|| {
            format!(
                "failed to run the template scenarios in `{}`",
                folder.display()
            )
        })?;
    let (items, _) = coverage::measure(&cases);
    // The folder must exist for the written file's relative world path to resolve.
    if let Some(folder) = args.out.as_deref().and_then(Path::parent)
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("failed to create folder `{}`", folder.display()))?;
    }
    let hint = recognise::problem_hint(&text);
    let (written, template) = match template(&items, recognised, hint) {
        Some(template) => (
            written(recognised, &template, args.out.as_deref())?,
            template,
        ),
        None => match forced_written(recognised, &cases, args.out.as_deref(), runtime)? {
            Some(found) => found,
            None => {
                writeln!(
                    err,
                    "recognised {}, but no scenario in `{}` reaches it to serve as a template (see `d365-harness coverage`)",
                    recognised.label(),
                    folder.display()
                )?;
                return Ok(Exit::Failures);
            }
        },
    };
    match &args.out {
        Some(path) => {
            write_new(path, &written)?;
            writeln!(
                err,
                "recognised {}; wrote `{}` from template `{}`",
                recognised.label(),
                path.display(),
                template.display()
            )?;
        }
        None => {
            out.write_all(written.as_bytes())?;
            writeln!(
                err,
                "recognised {}; template `{}`",
                recognised.label(),
                template.display()
            )?;
        }
    }
    Ok(Exit::Success)
}

/// The scenario file that reaches `recognised` to copy: among those that also reach the `hint`
/// problem if any do, one where a step fails with a problem if any does, the smallest (the
/// fewest things to read past when editing it).
fn template(items: &[Item], recognised: Recognised, hint: Option<ProblemKind>) -> Option<PathBuf> {
    let item = items.iter().find(|item| match recognised {
        Recognised::Aadsts(entry) => item.category == Category::Aadsts && item.name == entry.name,
        Recognised::Dataverse(entry) => {
            matches!(item.category, Category::Dataverse | Category::Throttle)
                && item.name == entry.variant
        }
        Recognised::EntraThrottle => {
            item.category == Category::Throttle && item.id == coverage::ENTRA_THROTTLE_ID
        }
        Recognised::Problem(kind) => item.category == Category::Problem && item.id == kind.as_str(),
    })?;
    let hinted: Vec<&PathBuf> = hint
        .and_then(|kind| {
            items
                .iter()
                .find(|other| other.category == Category::Problem && other.id == kind.as_str())
        })
        .map(|other| {
            item.paths
                .iter()
                .filter(|path| other.paths.contains(path))
                .collect()
        })
        .unwrap_or_default();
    let candidates: Vec<&PathBuf> = if hinted.is_empty() {
        item.paths.iter().collect()
    } else {
        hinted
    };
    // A pasted error is one the importer's user saw: prefer scenarios where a step fails with a
    // problem over those that get past it (a throttle waited out), then the smallest file.
    let shows_problem = |path: &PathBuf| {
        items
            .iter()
            .any(|other| other.category == Category::Problem && other.paths.contains(path))
    };
    candidates
        .into_iter()
        .min_by_key(|path| {
            (
                !shows_problem(path),
                std::fs::metadata(path).map_or(u64::MAX, |metadata| metadata.len()),
            )
        })
        .cloned()
}

/// The template's text with a new name and description, a header comment, and its world named
/// so that it loads from where the file is written; checked by loading it before it is
/// returned.
fn written(recognised: Recognised, template: &Path, out: Option<&Path>) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(template)
        .with_context(|| format!("failed to read template `{}`", template.display()))?;
    let loaded = Scenario::parse(&text, template)
        .with_context(|| format!("failed to load template `{}`", template.display()))?;
    let name = format!("replay of {}", recognised.label());
    let description = format!(
        "Reproduces {} ({}), as written by `d365-harness scenario from-error` from template `{}`: {}",
        recognised.label(),
        recognised.quote(),
        template_id(template),
        loaded.description()
    );
    let target = out
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("from-error.toml"));
    let world_name = loaded.world_name().to_owned();
    let mut world = world_name.clone();
    let mut result = rewrite(&text, &name, &description, &world, template)?;
    if Scenario::parse(&result, &target).is_err() {
        // The world's name does not resolve from the target's folder: name its file by a
        // path relative to that folder instead.
        world = relative(loaded.world().path(), &target)?;
        result = rewrite(&text, &name, &description, &world, template)?;
    }
    Scenario::parse(&result, &target).with_context(|| {
        format!(
            "the scenario written from template `{}` does not load",
            template.display()
        )
    })?;
    Ok(result)
}

/// A scenario forcing `recognised` with a fault rule on a passing scenario's form and world
/// ([`forced`]), its expectation from one run; `None` when there is no such scenario or the
/// entry has no body to force (a transport problem).
fn forced_written(
    recognised: Recognised,
    cases: &[crate::run::Case],
    out: Option<&Path>,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Option<(String, PathBuf)>> {
    let Some((base_path, base)) = forced::base(cases) else {
        return Ok(None);
    };
    let target = out
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("from-error.toml"));
    let base_id = template_id(&base_path);
    let mut world = base.world_name().to_owned();
    let provisional = "{ outcome = \"added\" }";
    let Some(mut text) = forced::text(recognised, &base, &base_id, &world, provisional) else {
        return Ok(None);
    };
    if Scenario::parse(&text, &target).is_err() {
        world = relative(base.world().path(), &target)?;
        text = forced::text(recognised, &base, &base_id, &world, provisional)
            .context("the forced scenario could not be written")?;
    }
    let expect = forced::observed(&text, &target, runtime)?;
    let text = forced::text(recognised, &base, &base_id, &world, &expect)
        .context("the forced scenario could not be written")?;
    Scenario::parse(&text, &target).context("the forced scenario does not load")?;
    Ok(Some((text, base_path)))
}

/// `scenarios/entra/wrong_secret.toml` → `entra/wrong_secret`, for the description.
fn template_id(template: &Path) -> String {
    let parts: Vec<String> = template
        .components()
        .rev()
        .take(2)
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let joined = parts.into_iter().rev().collect::<Vec<_>>().join("/");
    joined.strip_suffix(".toml").unwrap_or(&joined).to_owned()
}

/// The template's top-level `name`, `description` and `world` lines replaced (they are the
/// lines before the first table header), and a header comment first.
fn rewrite(
    text: &str,
    name: &str,
    description: &str,
    world: &str,
    template: &Path,
) -> anyhow::Result<String> {
    let mut result = format!(
        "# Written by `d365-harness scenario from-error` from template `{}`.\n# Edit the form, steps and expectations to match the field report, then `d365-harness run` it.\n",
        template_id(template)
    );
    let mut in_header = true;
    let mut replaced = 0;
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            in_header = false;
        }
        let key = line.split('=').next().unwrap_or_default().trim();
        let value = match key {
            "name" if in_header => Some(name),
            "description" if in_header => Some(description),
            "world" if in_header => Some(world),
            _ => None,
        };
        match value {
            Some(value) => {
                replaced += 1;
                result.push_str(&format!("{key} = {}\n", toml_string(value)));
            }
            None => {
                result.push_str(line);
                result.push('\n');
            }
        }
    }
    if replaced != 3 {
        bail!(
            "template `{}` does not have `name`, `description` and `world` on lines of their own",
            template.display()
        );
    }
    Ok(result)
}

/// `value` as a TOML basic string: a JSON string is one (its escapes are a subset of TOML's).
pub(super) fn toml_string(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

/// `file` as a path relative to the folder of `from` (both made absolute), with `/`.
fn relative(file: &Path, from: &Path) -> anyhow::Result<String> {
    let file = crate::run::normalized(file)?;
    let from = crate::run::normalized(from)?;
    let folder = from.parent().unwrap_or(Path::new("/"));
    let file_parts: Vec<Component<'_>> = file.components().collect();
    let folder_parts: Vec<Component<'_>> = folder.components().collect();
    let shared = file_parts
        .iter()
        .zip(&folder_parts)
        .take_while(|(left, right)| left == right)
        .count();
    let mut parts: Vec<String> = vec!["..".to_owned(); folder_parts.len() - shared];
    parts.extend(
        file_parts[shared..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    Ok(parts.join("/"))
}

/// Writes `contents` to the new file `path` (never over an existing one).
fn write_new(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("failed to create `{}`", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("failed to write `{}`", path.display()))
}
