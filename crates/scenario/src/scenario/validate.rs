//! From scenario file text to a [`Scenario`]: parse (with line and column on every error), load
//! the world it names, then check meaning top to bottom. Each section and step is checked even
//! when one before it failed ([`scenario_text_all`] returns every error, `Scenario::parse` the
//! first), each error naming the dotted key of the value and where it is written.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use d365_source::{CheckWarningKind, Field, FlowOptions, ProblemKind};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toml::Spanned;

use super::file::{ActionFile, ExpectFile, ScenarioFile, SecretFile, StepFile};
use super::{
    Action, ClockMove, Expectation, Form, Outcome, Scenario, SecretInput, SecretOrigin, SecretPart,
    Step,
};
use crate::world::{VersionProbe, fault_rules};
use crate::{Error, FileKind, Location, Reason, SecretValue, TomlError, World};

/// The longest request timeout a scenario may set: ten minutes is already no timeout at all.
const MAX_REQUEST_TIMEOUT_MS: u64 = 600_000;

/// The furthest one `advance_clock` step may move: ten years, in seconds.
const MAX_ADVANCE_SECONDS: u64 = 315_576_000;

pub(crate) fn scenario(text: &str, path: &Path) -> Result<Scenario, Error> {
    scenario_text_all(text, path).map_err(|mut errors| errors.remove(0))
}

/// A parsed scenario file and the text it came from (for positions).
pub(crate) struct Parsed<'a> {
    checker: Checker<'a>,
    file: Box<ScenarioFile>,
}

impl TryFrom<Parsed<'_>> for Scenario {
    type Error = Error;

    fn try_from(parsed: Parsed<'_>) -> Result<Scenario, Error> {
        scenario_all(parsed).map_err(|mut errors| errors.remove(0))
    }
}

/// Like [`scenario`], with every error found instead of the first.
pub(crate) fn scenario_text_all(text: &str, path: &Path) -> Result<Scenario, Vec<Error>> {
    let checker = Checker { text, path };
    let probe: VersionProbe = checker.parse().map_err(|error| vec![error])?;
    if let Some(version) = probe.version
        && version.get_ref().as_integer() != Some(1)
    {
        return Err(vec![checker.invalid(
            version.span(),
            "version",
            Reason::Version {
                found: version.get_ref().to_string(),
            },
        )]);
    }
    let file: ScenarioFile = checker.parse().map_err(|error| vec![error])?;
    scenario_all(Parsed {
        checker,
        file: Box::new(file),
    })
}

/// Checks every section and every step of a parsed scenario, collecting each one's first
/// error, in file order: name, description, world, tables, network, faults, form, steps. The
/// form's secret and the steps are checked only once the world loads (they name its apps and
/// secrets). Never `Err` with an empty list.
fn scenario_all(parsed: Parsed<'_>) -> Result<Scenario, Vec<Error>> {
    let Parsed { checker, file } = parsed;
    let file = *file;
    let mut errors = Vec::new();
    let name = keep(&mut errors, checker.non_empty(&file.name, "name"));
    let description = keep(
        &mut errors,
        checker.non_empty(&file.description, "description"),
    );
    let world = keep(&mut errors, checker.world(&file.world));
    let tables = match &file.tables {
        Some(tables) => keep(&mut errors, checker.tables(tables)),
        None => Some(FlowOptions::default().tables),
    };
    let trust = file
        .network
        .as_ref()
        .and_then(|network| network.trust)
        .unwrap_or_default();
    let request_timeout = match file.network.and_then(|network| network.request_timeout_ms) {
        Some(millis) => keep(
            &mut errors,
            checker.in_range(
                &millis,
                "network.request_timeout_ms",
                MAX_REQUEST_TIMEOUT_MS,
            ),
        )
        .map(|millis| Some(Duration::from_millis(millis))),
        None => Some(None),
    };
    let faults = keep(
        &mut errors,
        fault_rules(checker.text, checker.path, FileKind::Scenario, file.faults),
    );
    let client_secret = world.as_ref().and_then(|world| {
        keep(
            &mut errors,
            checker.secret(&file.form.client_secret, "form.client_secret", world),
        )
    });
    let steps = match &file.steps {
        Some(steps) if !steps.get_ref().is_empty() => world.as_ref().and_then(|world| {
            let checked: Vec<Option<Step>> = steps
                .get_ref()
                .iter()
                .enumerate()
                .map(|(index, step)| {
                    keep(
                        &mut errors,
                        checker.step(step, &format!("steps[{index}]"), world),
                    )
                })
                .collect();
            checked.into_iter().collect::<Option<Vec<Step>>>()
        }),
        Some(steps) => {
            errors.push(checker.invalid(steps.span(), "steps", Reason::NoSteps));
            None
        }
        None => {
            errors.push(checker.invalid(0..0, "steps", Reason::NoSteps));
            None
        }
    };
    let (
        Some(name),
        Some(description),
        Some(world),
        Some(tables),
        Some(request_timeout),
        Some(faults),
        Some(client_secret),
        Some(steps),
    ) = (
        name,
        description,
        world,
        tables,
        request_timeout,
        faults,
        client_secret,
        steps,
    )
    else {
        return Err(errors);
    };
    let form = Form {
        client_secret,
        name: file.form.name,
        environment_url: file.form.environment_url,
        tenant_id: file.form.tenant_id,
        client_id: file.form.client_id,
    };
    Ok(Scenario {
        path: checker.path.to_owned(),
        name,
        description,
        world_name: file.world.get_ref().clone(),
        world,
        tables,
        request_timeout,
        trust,
        faults,
        form,
        steps,
    })
}

/// `result`'s value, or `None` with its error added to `errors`.
fn keep<T>(errors: &mut Vec<Error>, result: Result<T, Error>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// The file being checked, for positions and relative paths.
struct Checker<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Checker<'_> {
    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        toml::from_str(self.text).map_err(|error| Error::Parse {
            file: FileKind::Scenario,
            path: self.path.to_owned(),
            location: error.span().map(|span| Location::of(self.text, span.start)),
            source: TomlError(Box::new(error)),
        })
    }

    fn invalid(&self, span: Range<usize>, key: impl Into<String>, reason: Reason) -> Error {
        Error::Invalid {
            file: FileKind::Scenario,
            path: self.path.to_owned(),
            location: Location::of(self.text, span.start),
            key: key.into(),
            reason: Box::new(reason),
        }
    }

    fn rule(&self, span: Range<usize>, key: impl Into<String>, rule: &'static str) -> Error {
        self.invalid(span, key, Reason::StepKey { rule })
    }

    fn non_empty(&self, value: &Spanned<String>, key: &str) -> Result<String, Error> {
        if value.get_ref().trim().is_empty() {
            Err(self.invalid(value.span(), key, Reason::Empty))
        } else {
            Ok(value.get_ref().clone())
        }
    }

    fn in_range(&self, value: &Spanned<u64>, key: &str, max: u64) -> Result<u64, Error> {
        let number = *value.get_ref();
        if (1..=max).contains(&number) {
            Ok(number)
        } else {
            Err(self.invalid(
                value.span(),
                key,
                Reason::OutOfRange {
                    value: i64::try_from(number).unwrap_or(i64::MAX),
                    min: 1,
                    max: Some(i64::try_from(max).unwrap_or(i64::MAX)),
                },
            ))
        }
    }

    /// Loads the world: `name.toml` under the nearest `fixtures/worlds/` at or above the
    /// scenario's folder, or a path ending in `.toml` relative to that folder.
    fn world(&self, world: &Spanned<String>) -> Result<World, Error> {
        let name = world.get_ref();
        let folder = self.path.parent().unwrap_or(Path::new(""));
        let path = if name.ends_with(".toml") {
            folder.join(name)
        } else {
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !plain {
                return Err(self.invalid(
                    world.span(),
                    "world",
                    Reason::Key { name: name.clone() },
                ));
            }
            find_world(name, folder)
                .map_err(|reason| self.invalid(world.span(), "world", reason))?
        };
        World::load(path).map_err(|source| {
            self.invalid(
                world.span(),
                "world",
                Reason::World {
                    source: Box::new(source),
                },
            )
        })
    }

    fn tables(&self, tables: &Spanned<Vec<Spanned<String>>>) -> Result<Vec<String>, Error> {
        if tables.get_ref().is_empty() {
            return Err(self.invalid(tables.span(), "tables", Reason::Empty));
        }
        tables
            .get_ref()
            .iter()
            .enumerate()
            .map(|(index, table)| self.non_empty(table, &format!("tables[{index}]")))
            .collect()
    }

    fn secret(
        &self,
        secret: &Spanned<SecretFile>,
        key: &str,
        world: &World,
    ) -> Result<SecretInput, Error> {
        let reference = match secret.get_ref() {
            SecretFile::Literal(value) => {
                return Ok(SecretInput {
                    value: SecretValue::new(value.clone()),
                    origin: SecretOrigin::Typed,
                });
            }
            SecretFile::Reference(reference) => reference,
        };
        let app = world.app(reference.app.get_ref()).ok_or_else(|| {
            self.invalid(
                reference.app.span(),
                format!("{key}.app"),
                Reason::UnknownApp {
                    name: reference.app.get_ref().clone(),
                    known: world.apps().iter().map(|app| app.key.clone()).collect(),
                },
            )
        })?;
        let found = app
            .secrets
            .iter()
            .find(|candidate| &candidate.name == reference.secret.get_ref())
            .ok_or_else(|| {
                self.invalid(
                    reference.secret.span(),
                    format!("{key}.secret"),
                    Reason::UnknownSecret {
                        app: app.key.clone(),
                        name: reference.secret.get_ref().clone(),
                        known: app.secrets.iter().map(|known| known.name.clone()).collect(),
                    },
                )
            })?;
        let part = reference.part.unwrap_or(SecretPart::Value);
        let value = match part {
            SecretPart::Value => found.value.clone(),
            SecretPart::Id => {
                let id = found.id.ok_or_else(|| {
                    self.invalid(
                        secret.span(),
                        format!("{key}.part"),
                        Reason::SecretWithoutId {
                            app: app.key.clone(),
                            name: found.name.clone(),
                        },
                    )
                })?;
                SecretValue::new(id.to_string())
            }
        };
        let value = if reference.before.is_empty() && reference.after.is_empty() {
            value
        } else {
            SecretValue::new(format!(
                "{}{}{}",
                reference.before,
                value.expose(),
                reference.after
            ))
        };
        Ok(SecretInput {
            value,
            origin: SecretOrigin::World {
                app: app.key.clone(),
                secret: found.name.clone(),
                part,
                before: reference.before.clone(),
                after: reference.after.clone(),
            },
        })
    }

    fn step(&self, step: &Spanned<StepFile>, key: &str, world: &World) -> Result<Step, Error> {
        let file = step.get_ref();
        let action_name = *file.action.get_ref();
        if action_name != ActionFile::RotateSecret
            && let Some(new_secret) = &file.new_secret
        {
            return Err(self.rule(
                new_secret.span(),
                format!("{key}.new_secret"),
                "only `rotate_secret` takes `new_secret`",
            ));
        }
        if action_name != ActionFile::AdvanceClock {
            for (field, span) in [
                ("seconds", file.seconds.as_ref().map(Spanned::span)),
                ("until", file.until.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    return Err(self.rule(
                        span,
                        format!("{key}.{field}"),
                        "only `advance_clock` takes `seconds` or `until`",
                    ));
                }
            }
        }
        let action = match action_name {
            ActionFile::Add => Action::Add,
            ActionFile::Test => Action::Test,
            ActionFile::Remove => Action::Remove,
            ActionFile::RotateSecret => {
                let new_secret = file.new_secret.as_ref().ok_or_else(|| {
                    self.rule(
                        step.span(),
                        format!("{key}.new_secret"),
                        "`rotate_secret` needs `new_secret`: a literal string or `{ app, secret }`",
                    )
                })?;
                Action::RotateSecret {
                    new_secret: self.secret(new_secret, &format!("{key}.new_secret"), world)?,
                }
            }
            ActionFile::AdvanceClock => Action::AdvanceClock(self.clock_move(step, key)?),
        };
        let expect = match (&file.expect, &action) {
            (Some(expect), Action::AdvanceClock(_)) => {
                return Err(self.rule(
                    expect.span(),
                    format!("{key}.expect"),
                    "`advance_clock` has no outcome; leave out `expect`",
                ));
            }
            (None, Action::AdvanceClock(_)) => None,
            (None, _) => {
                return Err(self.rule(
                    step.span(),
                    format!("{key}.expect"),
                    "every step but `advance_clock` needs `expect = { outcome = ... }`",
                ));
            }
            (Some(expect), action) => {
                Some(self.expectation(expect, &format!("{key}.expect"), action_name, action)?)
            }
        };
        Ok(Step { action, expect })
    }

    fn clock_move(&self, step: &Spanned<StepFile>, key: &str) -> Result<ClockMove, Error> {
        let file = step.get_ref();
        match (&file.seconds, &file.until) {
            (Some(seconds), None) => Ok(ClockMove::By(Duration::from_secs(self.in_range(
                seconds,
                &format!("{key}.seconds"),
                MAX_ADVANCE_SECONDS,
            )?))),
            (None, Some(until)) => OffsetDateTime::parse(until.get_ref(), &Rfc3339)
                .map(ClockMove::Until)
                .map_err(|cause| {
                    self.invalid(
                        until.span(),
                        format!("{key}.until"),
                        Reason::Timestamp {
                            value: until.get_ref().clone(),
                            cause,
                        },
                    )
                }),
            (Some(_), Some(until)) => Err(self.rule(
                until.span(),
                format!("{key}.until"),
                "give `seconds` or `until`, not both",
            )),
            (None, None) => Err(self.rule(
                step.span(),
                key.to_owned(),
                "`advance_clock` needs `seconds = <n>` or `until = \"<RFC 3339 time>\"`",
            )),
        }
    }

    fn expectation(
        &self,
        expect: &Spanned<ExpectFile>,
        key: &str,
        action_name: ActionFile,
        action: &Action,
    ) -> Result<Expectation, Error> {
        let file = expect.get_ref();
        let outcome = *file.outcome.get_ref();
        let allowed = allowed_outcomes(action);
        if !allowed.contains(&outcome) {
            return Err(self.invalid(
                file.outcome.span(),
                format!("{key}.outcome"),
                Reason::OutcomeOfAction {
                    action: action_name.as_str(),
                    outcome: outcome.as_str(),
                    allowed: allowed.iter().map(|allowed| allowed.as_str()).collect(),
                },
            ));
        }
        let problem = match (&file.problem, outcome) {
            (Some(problem), Outcome::Failed) => Some(self.problem(problem, key)?),
            (Some(problem), _) => {
                return Err(self.rule(
                    problem.span(),
                    format!("{key}.problem"),
                    "only a `failed` outcome has a `problem`",
                ));
            }
            (None, Outcome::Failed) => {
                return Err(self.rule(
                    expect.span(),
                    format!("{key}.problem"),
                    "a `failed` outcome needs the expected `problem` (a problem kind like `wrong_secret`)",
                ));
            }
            (None, _) => None,
        };
        let fields = match (&file.fields, outcome) {
            (Some(fields), Outcome::Invalid) if fields.get_ref().is_empty() => {
                return Err(self.rule(
                    fields.span(),
                    format!("{key}.fields"),
                    "an `invalid` outcome has at least one invalid field",
                ));
            }
            (Some(fields), Outcome::Invalid) => {
                Some(self.fields(fields, &format!("{key}.fields"))?)
            }
            (Some(fields), _) => {
                return Err(self.rule(
                    fields.span(),
                    format!("{key}.fields"),
                    "only an `invalid` outcome has `fields`",
                ));
            }
            (None, Outcome::Invalid) => {
                return Err(self.rule(
                    expect.span(),
                    format!("{key}.fields"),
                    "an `invalid` outcome needs the invalid `fields` (like `[\"tenant_id\"]`)",
                ));
            }
            (None, _) => None,
        };
        let warnings = match &file.warnings {
            Some(warnings) if matches!(action, Action::Add | Action::RotateSecret { .. }) => {
                Some(self.fields(warnings, &format!("{key}.warnings"))?)
            }
            Some(warnings) => {
                return Err(self.rule(
                    warnings.span(),
                    format!("{key}.warnings"),
                    "only `add` and `rotate_secret` read a form, so only they have `warnings`",
                ));
            }
            None => None,
        };
        let check_warnings = match &file.check_warnings {
            Some(kinds)
                if matches!(outcome, Outcome::Added | Outcome::Passed | Outcome::Rotated) =>
            {
                Some(self.check_warnings(kinds, &format!("{key}.check_warnings"))?)
            }
            Some(kinds) => {
                return Err(self.rule(
                    kinds.span(),
                    format!("{key}.check_warnings"),
                    "only a passed check (`added`, `passed`, `rotated`) has `check_warnings`",
                ));
            }
            None => None,
        };
        let waited_seconds = match &file.waited_seconds {
            Some(waited) if matches!(action, Action::Remove) => {
                return Err(self.rule(
                    waited.span(),
                    format!("{key}.waited_seconds"),
                    "`remove` sends no request, so it never waits",
                ));
            }
            Some(waited) => Some(*waited.get_ref()),
            None => None,
        };
        Ok(Expectation {
            outcome,
            problem,
            fields,
            warnings,
            check_warnings,
            waited_seconds,
        })
    }

    fn check_warnings(
        &self,
        kinds: &Spanned<Vec<Spanned<String>>>,
        key: &str,
    ) -> Result<Vec<CheckWarningKind>, Error> {
        kinds
            .get_ref()
            .iter()
            .enumerate()
            .map(|(index, kind)| {
                let name = kind.get_ref().as_str();
                CheckWarningKind::deserialize(name.into_deserializer()).map_err(|source| {
                    self.invalid(
                        kind.span(),
                        format!("{key}[{index}]"),
                        Reason::UnknownCheckWarning {
                            name: name.to_owned(),
                            source,
                        },
                    )
                })
            })
            .collect()
    }

    fn problem(&self, problem: &Spanned<String>, key: &str) -> Result<ProblemKind, Error> {
        let name = problem.get_ref().as_str();
        ProblemKind::deserialize(name.into_deserializer()).map_err(|source| {
            self.invalid(
                problem.span(),
                format!("{key}.problem"),
                Reason::UnknownProblem {
                    name: name.to_owned(),
                    source,
                },
            )
        })
    }

    fn fields(
        &self,
        fields: &Spanned<Vec<Spanned<String>>>,
        key: &str,
    ) -> Result<Vec<Field>, Error> {
        fields
            .get_ref()
            .iter()
            .enumerate()
            .map(|(index, field)| {
                let name = field.get_ref().as_str();
                Field::deserialize(name.into_deserializer()).map_err(|source| {
                    self.invalid(
                        field.span(),
                        format!("{key}[{index}]"),
                        Reason::UnknownField {
                            name: name.to_owned(),
                            source,
                        },
                    )
                })
            })
            .collect()
    }
}

/// The outcomes each action can have.
fn allowed_outcomes(action: &Action) -> &'static [Outcome] {
    match action {
        Action::Add => &[Outcome::Added, Outcome::Invalid, Outcome::Failed],
        Action::Test => &[Outcome::Passed, Outcome::Failed, Outcome::NotFound],
        Action::RotateSecret { .. } => &[
            Outcome::Rotated,
            Outcome::Invalid,
            Outcome::Failed,
            Outcome::NotFound,
        ],
        Action::Remove => &[Outcome::Removed, Outcome::NotFound],
        Action::AdvanceClock(_) => &[],
    }
}

/// `fixtures/worlds/{name}.toml` in `folder` or the nearest folder above it that has one.
/// The search starts from the folder's absolute path, so a scenario given as `x.toml` from its
/// own folder, or found by `run .` from inside `scenarios/`, sees the same worlds as one given
/// from the repository root.
fn find_world(name: &str, folder: &Path) -> Result<PathBuf, Reason> {
    // `x.toml`'s folder is the empty path, which `absolute` refuses: it means the current one.
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let start = std::path::absolute(folder).unwrap_or_else(|_| folder.to_owned());
    let mut nearest: Option<PathBuf> = None;
    let mut searched = Vec::new();
    for ancestor in start.ancestors() {
        let worlds = ancestor.join("fixtures").join("worlds");
        let candidate = worlds.join(format!("{name}.toml"));
        if candidate.is_file() {
            return Ok(candidate);
        }
        if nearest.is_none() && worlds.is_dir() {
            nearest = Some(worlds.clone());
        }
        searched.push(worlds);
    }
    let mut known: Vec<String> = nearest
        .and_then(|worlds| std::fs::read_dir(worlds).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    known.sort();
    Err(Reason::UnknownWorld {
        name: name.to_owned(),
        searched,
        known,
    })
}
