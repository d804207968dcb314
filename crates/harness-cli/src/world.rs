//! `d365-harness world`: the worlds built into the binary. `serve` runs the built-in `demo` when
//! no `--world` is given, and `world export <name>` prints one as a world file to start from.
//! Invariant: a built-in world's text names no file (its certificates are inline PEM and the
//! Entra signing key is the one built into `scenario`), so it loads the same from any folder.

use std::io::Write;
use std::path::PathBuf;

use scenario::World;

/// Arguments of `d365-harness world`.
#[derive(Clone, Debug, clap::Args)]
pub struct WorldArgs {
    /// What to do with the built-in worlds.
    #[command(subcommand)]
    pub command: WorldCommand,
}

/// The `world` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum WorldCommand {
    /// Print a built-in world as a standalone world file, e.g. `world export demo > my.toml`,
    /// then `serve --world my.toml`.
    Export(ExportArgs),
    /// List the built-in worlds.
    List,
}

/// Arguments of `d365-harness world export`.
#[derive(Clone, Debug, clap::Args)]
pub struct ExportArgs {
    /// The built-in world to print (`world list` names them).
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// A world compiled into the binary from `fixtures/worlds/`, with the files it names.
pub(crate) struct BuiltinWorld {
    /// What `world export` and `serve` call it.
    pub(crate) name: &'static str,
    /// One line for `world list`.
    about: &'static str,
    /// The world file as committed.
    source: &'static str,
    /// (`file = "…"` value as written in `source`, the PEM it names): the certificates, put
    /// inline so that the text needs no file beside it.
    certificates: &'static [(&'static str, &'static str)],
}

/// Every built-in world.
pub(crate) const BUILTIN_WORLDS: &[BuiltinWorld] = &[BuiltinWorld {
    name: "demo",
    about: "Contoso with the importer app and a Dataverse environment (what `serve` runs by default)",
    source: include_str!("../../../fixtures/worlds/demo.toml"),
    certificates: &[(
        "../keys/importer-client.crt.pem",
        include_str!("../../../fixtures/keys/importer-client.crt.pem"),
    )],
}];

/// The world `serve` runs without `--world`.
pub(crate) const DEFAULT_WORLD: &str = "demo";

impl BuiltinWorld {
    /// The built-in world called `name`, or an error listing the known names.
    pub(crate) fn named(name: &str) -> anyhow::Result<&'static BuiltinWorld> {
        BUILTIN_WORLDS
            .iter()
            .find(|world| world.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = BUILTIN_WORLDS.iter().map(|world| world.name).collect();
                anyhow::anyhow!(
                    "no built-in world `{}`; known: {}",
                    fake_core::echo(name),
                    known.join(", ")
                )
            })
    }

    /// The world file text with every certificate inline: a world file that needs nothing
    /// beside it.
    pub(crate) fn text(&self) -> String {
        let mut text = self.source.to_owned();
        for (file, pem) in self.certificates {
            // A literal multi-line string: PEM has no `'''`, and TOML drops the first newline.
            text = text.replace(
                &format!("file = \"{file}\""),
                &format!("pem = '''\n{pem}'''"),
            );
        }
        text
    }

    /// The name `serve` and error messages show in place of a path.
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(format!("built-in:{}", self.name))
    }

    /// The world, parsed and validated.
    pub(crate) fn load(&self) -> anyhow::Result<World> {
        Ok(World::parse(&self.text(), self.path())?)
    }

    /// What `world export` prints: a header saying where it came from, then [`Self::text`].
    fn export(&self) -> String {
        format!(
            "# Exported by `d365-harness world export {}` (d365-harness {}). Certificates are\n\
             # inline, so this file loads from any folder: `d365-harness serve --world <this file>`.\n\n{}",
            self.name,
            env!("CARGO_PKG_VERSION"),
            self.text()
        )
    }
}

/// Runs `d365-harness world …`.
pub(crate) fn run(args: &WorldArgs, out: &mut impl Write) -> anyhow::Result<()> {
    match &args.command {
        WorldCommand::Export(export) => {
            let world = BuiltinWorld::named(&export.name)?;
            write!(out, "{}", world.export())?;
        }
        WorldCommand::List => {
            for world in BUILTIN_WORLDS {
                writeln!(out, "{}  {}", world.name, world.about)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
