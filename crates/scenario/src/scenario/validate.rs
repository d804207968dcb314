//! From scenario file text to a [`Scenario`]: parse (with line and column on every error), load
//! the world it names, then check meaning top to bottom. Each section and step is checked even
//! when one before it failed ([`scenario_text_all`] returns every error, `Scenario::parse` the
//! first), each error naming the dotted key of the value and where it is written.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use d365_source::{CheckWarningKind, Field, FlowOptions, ProblemKind};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toml::Spanned;

use super::file::{
    ActionFile, ExpectFile, FormFile, RequestCountFile, ScenarioFile, SecretFile, StepFaultSpans,
    StepFile,
};
use super::{
    Action, ClockMove, Expectation, Form, Outcome, RequestCount, Scenario, SecretInput,
    SecretOrigin, SecretPart, Step, typed_secret,
};
use crate::change::stage;
use crate::world::{VersionProbe, fault_rule, fault_rules};
use crate::{
    ChangeReason, Error, FileKind, Location, Reason, SEED, START_TIME, SecretValue, TomlError,
    World, WorldDocument,
};

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
    // The secrets references may name: the loaded world's, then (after the steps) also those
    // the file's changes add.
    let mut known = world.as_ref().map(KnownSecrets::of);
    let client_secret = world
        .as_ref()
        .zip(known.as_ref())
        .and_then(|(world, known)| {
            keep(
                &mut errors,
                checker.secret(&file.form.client_secret, "form.client_secret", world, known),
            )
        });
    let steps = match &file.steps {
        Some(steps) if !steps.get_ref().is_empty() => match (&world, known.take()) {
            (Some(world), Some(loaded)) => {
                let spans: Option<StepFaultSpans> = keep(&mut errors, checker.parse());
                let document = keep(
                    &mut errors,
                    WorldDocument::of(world).map_err(|source| {
                        checker.invalid(
                            file.world.span(),
                            "world",
                            Reason::World {
                                source: Box::new(source),
                            },
                        )
                    }),
                );
                match (spans, document) {
                    (Some(spans), Some(document)) => {
                        let context = StepContext {
                            world,
                            forms: &file.forms,
                            spans: &spans,
                        };
                        let mut timeline = Timeline {
                            known: loaded,
                            document,
                            world: world.clone(),
                            extra_faults: faults.clone().unwrap_or_default(),
                            now: START_TIME,
                            ids: fake_core::IdGenerator::seeded(SEED),
                        };
                        let checked: Vec<Option<Step>> = steps
                            .get_ref()
                            .iter()
                            .enumerate()
                            .map(|(index, step)| {
                                keep(
                                    &mut errors,
                                    checker.step(step, index, &context, &mut timeline),
                                )
                            })
                            .collect();
                        known = Some(timeline.known);
                        checked.into_iter().collect::<Option<Vec<Step>>>()
                    }
                    _ => {
                        known = Some(loaded);
                        None
                    }
                }
            }
            (_, loaded) => {
                known = loaded;
                None
            }
        },
        Some(steps) => {
            errors.push(checker.invalid(steps.span(), "steps", Reason::NoSteps));
            None
        }
        None => {
            errors.push(checker.invalid(0..0, "steps", Reason::NoSteps));
            None
        }
    };
    // Checked against every secret the file's changes add: a step names a form before its
    // secret may exist, and types it when it runs.
    let forms = world
        .as_ref()
        .zip(known.as_ref())
        .and_then(|(world, known)| {
            let checked: Vec<Option<(String, Form)>> = file
                .forms
                .iter()
                .map(|(name, form)| {
                    keep(
                        &mut errors,
                        checker
                            .form(form, &format!("forms.{name}"), world, known)
                            .map(|form| (name.clone(), form)),
                    )
                })
                .collect();
            checked
                .into_iter()
                .collect::<Option<BTreeMap<String, Form>>>()
        });
    let (
        Some(name),
        Some(description),
        Some(world),
        Some(tables),
        Some(request_timeout),
        Some(faults),
        Some(client_secret),
        Some(mut steps),
        Some(forms),
    ) = (
        name,
        description,
        world,
        tables,
        request_timeout,
        faults,
        client_secret,
        steps,
        forms,
    )
    else {
        return Err(errors);
    };
    for step in &mut steps {
        if let Some(source) = &step.source {
            step.form = forms.get(source).cloned();
        }
    }
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
        forms,
        steps,
    })
}

/// `result`'s value, or `None` with its error added to `errors`.
fn keep<T>(errors: &mut Vec<Error>, result: Result<T, Error>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// What every step is checked against.
struct StepContext<'a> {
    world: &'a World,
    /// `[forms.<name>]` as written (steps only check that the name exists).
    forms: &'a BTreeMap<String, FormFile>,
    spans: &'a StepFaultSpans,
}

/// The world as the steps read so far leave it: the load-time mirror of a run, so that a
/// change's names are checked against the world at its step, and a secret reference may name a
/// secret an earlier change adds. Its clock follows `advance_clock` steps from [`START_TIME`].
struct Timeline {
    known: KnownSecrets,
    document: WorldDocument,
    world: World,
    extra_faults: Vec<fake_core::FaultRule>,
    now: OffsetDateTime,
    ids: fake_core::IdGenerator,
}

/// The secrets a reference may name at a point in the file: the loaded world's, in its order,
/// plus those that earlier `change` steps add (whose values only exist when the step runs).
struct KnownSecrets {
    /// App key → secret names.
    apps: Vec<(String, Vec<String>)>,
}

impl KnownSecrets {
    fn of(world: &World) -> KnownSecrets {
        KnownSecrets {
            apps: world
                .apps()
                .iter()
                .map(|app| {
                    let names = app.secrets.iter().map(|secret| secret.name.clone());
                    (app.key.clone(), names.collect())
                })
                .collect(),
        }
    }

    /// Adds the secrets of `world` not known yet (a deleted secret stays known: the admin
    /// still has its value).
    fn extend(&mut self, world: &World) {
        for app in world.apps() {
            let position = match self.apps.iter().position(|(key, _)| *key == app.key) {
                Some(position) => position,
                None => {
                    self.apps.push((app.key.clone(), Vec::new()));
                    self.apps.len() - 1
                }
            };
            let names = &mut self.apps[position].1;
            for secret in &app.secrets {
                if !names.contains(&secret.name) {
                    names.push(secret.name.clone());
                }
            }
        }
    }

    fn app(&self, key: &str) -> Option<&[String]> {
        self.apps
            .iter()
            .find(|(app, _)| app == key)
            .map(|(_, names)| names.as_slice())
    }
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

    fn form(
        &self,
        form: &FormFile,
        key: &str,
        world: &World,
        known: &KnownSecrets,
    ) -> Result<Form, Error> {
        Ok(Form {
            client_secret: self.secret(
                &form.client_secret,
                &format!("{key}.client_secret"),
                world,
                known,
            )?,
            name: form.name.clone(),
            environment_url: form.environment_url.clone(),
            tenant_id: form.tenant_id.clone(),
            client_id: form.client_id.clone(),
        })
    }

    /// A literal, or a reference to a secret of the loaded world (its value is known now) or
    /// one an earlier `change` step adds (typed as the world has it when the step runs).
    fn secret(
        &self,
        secret: &Spanned<SecretFile>,
        key: &str,
        world: &World,
        known: &KnownSecrets,
    ) -> Result<SecretInput, Error> {
        let reference = match secret.get_ref() {
            SecretFile::Literal(value) => {
                return Ok(SecretInput {
                    value: Some(SecretValue::new(value.clone())),
                    origin: SecretOrigin::Typed,
                });
            }
            SecretFile::Reference(reference) => reference,
        };
        let app = reference.app.get_ref();
        let names = known.app(app).ok_or_else(|| {
            self.invalid(
                reference.app.span(),
                format!("{key}.app"),
                Reason::UnknownApp {
                    name: app.clone(),
                    known: known.apps.iter().map(|(app, _)| app.clone()).collect(),
                },
            )
        })?;
        let name = reference.secret.get_ref();
        if !names.contains(name) {
            return Err(self.invalid(
                reference.secret.span(),
                format!("{key}.secret"),
                Reason::UnknownSecret {
                    app: app.clone(),
                    name: name.clone(),
                    known: names.to_vec(),
                },
            ));
        }
        let part = reference.part.unwrap_or(SecretPart::Value);
        let loaded = world
            .app(app)
            .and_then(|found| found.secrets.iter().find(|known| &known.name == name));
        let value = match loaded {
            Some(found) => Some(
                typed_secret(found, part, &reference.before, &reference.after).ok_or_else(
                    || {
                        self.invalid(
                            secret.span(),
                            format!("{key}.part"),
                            Reason::SecretWithoutId {
                                app: app.clone(),
                                name: name.clone(),
                            },
                        )
                    },
                )?,
            ),
            None => None,
        };
        Ok(SecretInput {
            value,
            origin: SecretOrigin::World {
                app: app.clone(),
                secret: name.clone(),
                part,
                before: reference.before.clone(),
                after: reference.after.clone(),
            },
        })
    }

    fn step(
        &self,
        step: &Spanned<StepFile>,
        index: usize,
        context: &StepContext<'_>,
        timeline: &mut Timeline,
    ) -> Result<Step, Error> {
        let key = &format!("steps[{index}]");
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
        if action_name != ActionFile::Change
            && let Some(changes) = &file.changes
        {
            return Err(self.rule(
                changes.span(),
                format!("{key}.changes"),
                "only `change` takes `changes`",
            ));
        }
        if action_name != ActionFile::Fault {
            for (field, span) in [
                ("add", file.add.as_ref().map(Spanned::span)),
                ("clear", file.clear.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    return Err(self.rule(
                        span,
                        format!("{key}.{field}"),
                        "only `fault` takes `add` or `clear`",
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
                    new_secret: self.secret(
                        new_secret,
                        &format!("{key}.new_secret"),
                        context.world,
                        &timeline.known,
                    )?,
                }
            }
            ActionFile::AdvanceClock => {
                let clock_move = self.clock_move(step, key)?;
                timeline.now = match clock_move {
                    ClockMove::By(by) => timeline.now.saturating_add(
                        time::Duration::try_from(by).unwrap_or(time::Duration::MAX),
                    ),
                    ClockMove::Until(until) => until.max(timeline.now),
                };
                Action::AdvanceClock(clock_move)
            }
            ActionFile::Fault => self.fault_step(step, index, context)?,
            ActionFile::Change => self.change_step(step, key, timeline)?,
        };
        let (form, source) = self.step_form(step, key, &action, context, &timeline.known)?;
        let expect = match (&file.expect, action.has_outcome()) {
            (Some(expect), false) => {
                return Err(self.invalid(
                    expect.span(),
                    format!("{key}.expect"),
                    Reason::StepKey {
                        rule: match action {
                            Action::Fault { .. } => {
                                "`fault` has no outcome; leave out `expect` (the next step checks what the fault does)"
                            }
                            Action::Change { .. } => {
                                "`change` has no outcome; leave out `expect` (the next step checks what the change does)"
                            }
                            _ => "`advance_clock` has no outcome; leave out `expect`",
                        },
                    },
                ));
            }
            (None, false) => None,
            (None, true) => {
                return Err(self.rule(
                    step.span(),
                    format!("{key}.expect"),
                    "every step but `advance_clock`, `fault` and `change` needs `expect = { outcome = ... }`",
                ));
            }
            (Some(expect), true) => {
                Some(self.expectation(expect, &format!("{key}.expect"), action_name, &action)?)
            }
        };
        Ok(Step {
            action,
            form,
            source,
            expect,
        })
    }

    /// `form = { ... }` or `source = "<name>"`: the form a step uses instead of `[form]`.
    fn step_form(
        &self,
        step: &Spanned<StepFile>,
        key: &str,
        action: &Action,
        context: &StepContext<'_>,
        known: &KnownSecrets,
    ) -> Result<(Option<Form>, Option<String>), Error> {
        let file = step.get_ref();
        let uses_form = matches!(
            action,
            Action::Add | Action::Test | Action::RotateSecret { .. } | Action::Remove
        );
        match (&file.form, &file.source) {
            (Some(_), Some(source)) => Err(self.rule(
                source.span(),
                format!("{key}.source"),
                "give a step `form` or `source`, not both",
            )),
            (Some(form), None) if !uses_form => Err(self.rule(
                form.span(),
                format!("{key}.form"),
                "only `add`, `test`, `rotate_secret` and `remove` use a form",
            )),
            (None, Some(source)) if !uses_form => Err(self.rule(
                source.span(),
                format!("{key}.source"),
                "only `add`, `test`, `rotate_secret` and `remove` use a form",
            )),
            (Some(form), None) => Ok((
                Some(self.form(form.get_ref(), &format!("{key}.form"), context.world, known)?),
                None,
            )),
            (None, Some(source)) => {
                let name = source.get_ref();
                if !context.forms.contains_key(name) {
                    return Err(self.invalid(
                        source.span(),
                        format!("{key}.source"),
                        Reason::UnknownForm {
                            name: name.clone(),
                            known: context.forms.keys().cloned().collect(),
                        },
                    ));
                }
                // The form itself is filled in once `[forms]` are checked, after the steps.
                Ok((None, Some(name.clone())))
            }
            (None, None) => Ok((None, None)),
        }
    }

    /// `action = "change"`: `changes = [ <change>, ... ]`, staged on the world as the steps
    /// before leave it. A name the world does not have there stops loading; any other refusal
    /// (a rule the changed world breaks) is left to the run, whose report shows it as the
    /// step's error, and the timeline goes on without the batch, as the run will.
    fn change_step(
        &self,
        step: &Spanned<StepFile>,
        key: &str,
        timeline: &mut Timeline,
    ) -> Result<Action, Error> {
        let changes = match &step.get_ref().changes {
            Some(changes) if !changes.get_ref().is_empty() => changes.get_ref(),
            Some(changes) => {
                return Err(self.rule(
                    changes.span(),
                    format!("{key}.changes"),
                    "`change` needs at least one change",
                ));
            }
            None => {
                return Err(self.rule(
                    step.span(),
                    format!("{key}.changes"),
                    "`change` needs `changes = [{ change = \"<kind>\", ... }, ...]`",
                ));
            }
        };
        let batch: Vec<crate::Change> = changes
            .iter()
            .map(|change| change.get_ref().clone())
            .collect();
        match stage(
            &timeline.document,
            &timeline.world,
            &timeline.extra_faults,
            timeline.now,
            &timeline.ids,
            &batch,
        ) {
            Ok(staged) => {
                timeline.known.extend(&staged.world);
                timeline.document = staged.document;
                timeline.world = staged.world;
                timeline.extra_faults = staged.extra_faults;
                timeline.now = timeline.now.saturating_add(staged.advance);
            }
            Err(error) if matches!(*error.reason, ChangeReason::Unknown { .. }) => {
                let span = changes
                    .get(error.index)
                    .map_or_else(|| step.span(), Spanned::span);
                let field = error
                    .field
                    .map(|field| format!(".{field}"))
                    .unwrap_or_default();
                return Err(self.invalid(
                    span,
                    format!("{key}.changes[{}]{field}", error.index),
                    Reason::Change {
                        change: error.change,
                        reason: error.reason,
                    },
                ));
            }
            Err(_) => {}
        }
        Ok(Action::Change { changes: batch })
    }

    /// `action = "fault"`: `clear = true` and/or `add = [ <fault rule>, ... ]`.
    fn fault_step(
        &self,
        step: &Spanned<StepFile>,
        index: usize,
        context: &StepContext<'_>,
    ) -> Result<Action, Error> {
        let key = format!("steps[{index}]");
        let file = step.get_ref();
        let clear = file.clear.as_ref().is_some_and(|clear| *clear.get_ref());
        let add = file
            .add
            .as_ref()
            .map(|add| add.get_ref().clone())
            .unwrap_or_default();
        if !clear && add.is_empty() {
            return Err(self.rule(
                step.span(),
                key,
                "`fault` needs `add = [ <fault rule>, ... ]` or `clear = true` (or both)",
            ));
        }
        let spans = context
            .spans
            .steps
            .get(index)
            .map(|spans| spans.add.as_slice())
            .unwrap_or_default();
        for (rule_index, rule) in spans.iter().enumerate() {
            fault_rule(
                self.text,
                self.path,
                FileKind::Scenario,
                rule,
                &format!("{key}.add[{rule_index}]"),
            )?;
        }
        Ok(Action::Fault { clear, add })
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
        let mut phrases = [None, None];
        for (slot, (field, phrase)) in phrases
            .iter_mut()
            .zip([("message", &file.message), ("fix", &file.fix)])
        {
            let Some(phrase) = phrase else { continue };
            if outcome != Outcome::Failed {
                return Err(self.rule(
                    phrase.span(),
                    format!("{key}.{field}"),
                    "only a `failed` outcome has a problem, so only it has `message` and `fix`",
                ));
            }
            *slot = Some(self.non_empty(phrase, &format!("{key}.{field}"))?);
        }
        let [message, fix] = phrases;
        let requests = match &file.requests {
            Some(requests) if matches!(action, Action::Remove) => {
                return Err(self.rule(
                    requests.span(),
                    format!("{key}.requests"),
                    "`remove` sends no request, so it has no `requests`",
                ));
            }
            Some(requests) => requests
                .get_ref()
                .iter()
                .enumerate()
                .map(|(index, count)| {
                    self.request_count(count, &format!("{key}.requests[{index}]"))
                })
                .collect::<Result<Vec<RequestCount>, Error>>()?,
            None => Vec::new(),
        };
        let sources = match &file.sources {
            Some(sources) => Some(
                sources
                    .get_ref()
                    .iter()
                    .enumerate()
                    .map(|(index, name)| self.non_empty(name, &format!("{key}.sources[{index}]")))
                    .collect::<Result<Vec<String>, Error>>()?,
            ),
            None => None,
        };
        Ok(Expectation {
            outcome,
            problem,
            fields,
            warnings,
            check_warnings,
            waited_seconds,
            message,
            fix,
            requests,
            sources,
        })
    }

    /// `{ host?, path?, count }`: patterns as a fault rule's (`*` is any run of characters).
    fn request_count(
        &self,
        count: &Spanned<RequestCountFile>,
        key: &str,
    ) -> Result<RequestCount, Error> {
        let file = count.get_ref();
        let host = match &file.host {
            Some(host) => Some(self.non_empty(host, &format!("{key}.host"))?),
            None => None,
        };
        let path = match &file.path {
            Some(path) if path.get_ref().starts_with('/') || path.get_ref().starts_with('*') => {
                Some(path.get_ref().clone())
            }
            Some(path) => {
                return Err(self.invalid(
                    path.span(),
                    format!("{key}.path"),
                    Reason::PathPattern {
                        value: path.get_ref().clone(),
                    },
                ));
            }
            None => None,
        };
        Ok(RequestCount {
            host,
            path,
            count: *file.count.get_ref(),
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
        Action::AdvanceClock(_) | Action::Fault { .. } | Action::Change { .. } => &[],
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
