//! The Add Source flow around the check: [`Flow::add`] validates the form, runs the connection
//! check and saves the source only if it passed; [`Flow::test`] and [`Flow::rotate_secret`]
//! check a saved source again. Start here; `check.rs` is the check itself, `store.rs` the list.
//! Each has a `_with_progress` twin that reports the check's steps to a [`Progress`] observer.

use std::sync::Arc;

use secrecy::SecretString;

use crate::Error;
use crate::check;
use crate::form::{self, Draft, FieldWarning, FormErrors, FormRules, SourceForm};
use crate::http::RetryPolicy;
use crate::network::NetworkSettings;
use crate::problem::Problem;
use crate::progress::{NoProgress, Progress};
use crate::report::CheckReport;
use crate::store::{LastCheck, Store, StoredSource};
use crate::timer::Timer;

/// The flow's settings besides the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowOptions {
    /// The tables the source imports, each a logical, schema or entity set name in any case
    /// (the check resolves it; the source saves the logical name); each must be readable.
    pub tables: Vec<String>,
    /// Retrying throttled and unavailable answers.
    pub retry: RetryPolicy,
}

impl Default for FlowOptions {
    fn default() -> FlowOptions {
        FlowOptions {
            tables: vec!["account".to_owned(), "contact".to_owned()],
            retry: RetryPolicy::default(),
        }
    }
}

/// The source-configuration flow: one HTTP client, one timer, one set of options.
#[derive(Debug, Clone)]
pub struct Flow {
    client: reqwest::Client,
    timer: Arc<dyn Timer>,
    options: FlowOptions,
    allowed_hosts: Vec<String>,
}

/// What pressing Add Source led to.
#[derive(Debug)]
pub enum AddOutcome {
    /// The check passed and the source was saved.
    Added {
        /// The saved source.
        source: StoredSource,
        /// Warnings about accepted fields.
        warnings: Vec<FieldWarning>,
    },
    /// The form has invalid fields; nothing was sent anywhere.
    Invalid(FormErrors),
    /// The check failed; nothing was saved.
    Failed {
        /// What the check found.
        problem: Problem,
        /// Warnings about accepted fields (a GUID-shaped secret explains many failures).
        warnings: Vec<FieldWarning>,
    },
}

/// What testing a saved source again led to (the outcome is recorded in the store).
#[derive(Debug)]
pub enum TestOutcome {
    /// The check passed.
    Passed(StoredSource),
    /// The check found a problem.
    Failed {
        /// The source, with the failed check recorded.
        source: StoredSource,
        /// What the check found.
        problem: Problem,
    },
}

/// What rotating a saved source's secret led to.
#[derive(Debug)]
pub enum RotateOutcome {
    /// The new secret passed the check and replaced the old one.
    Rotated {
        /// The updated source.
        source: StoredSource,
        /// Warnings about the new secret.
        warnings: Vec<FieldWarning>,
    },
    /// The new secret is not acceptable (empty); the old one stays.
    Invalid(FormErrors),
    /// The check with the new secret failed; the old secret stays.
    Failed {
        /// What the check found.
        problem: Problem,
        /// Warnings about the new secret.
        warnings: Vec<FieldWarning>,
    },
}

impl Flow {
    /// A flow that reaches the network as `network` says and takes time from `timer`.
    pub fn new(
        network: &NetworkSettings,
        timer: Arc<dyn Timer>,
        options: FlowOptions,
    ) -> Result<Flow, Error> {
        Ok(Flow {
            client: network.client()?,
            timer,
            options,
            allowed_hosts: network.allowed_hosts.clone(),
        })
    }

    /// The options.
    pub fn options(&self) -> &FlowOptions {
        &self.options
    }

    /// Validates `form` against the rules of this flow and the names in `store`.
    pub fn validate(
        &self,
        form: &SourceForm,
        existing_names: &[String],
    ) -> Result<Draft, FormErrors> {
        form::validate(
            form,
            &FormRules {
                existing_names,
                allowed_hosts: &self.allowed_hosts,
            },
        )
    }

    /// Add Source: validate, check, and save only if the check passed.
    pub async fn add(&self, form: &SourceForm, store: &Store) -> Result<AddOutcome, Error> {
        self.add_with_progress(form, store, &NoProgress).await
    }

    /// [`Flow::add`], telling `progress` when each step of the check starts and ends (an
    /// invalid form sends no event: nothing is checked).
    pub async fn add_with_progress(
        &self,
        form: &SourceForm,
        store: &Store,
        progress: &dyn Progress,
    ) -> Result<AddOutcome, Error> {
        let names: Vec<String> = store
            .list()?
            .into_iter()
            .map(|source| source.name)
            .collect();
        let draft = match self.validate(form, &names) {
            Ok(draft) => draft,
            Err(errors) => return Ok(AddOutcome::Invalid(errors)),
        };
        tracing::debug!(name = %draft.name, environment = %draft.environment, "checking a new source");
        match self
            .check_tables(&draft, &self.options.tables, progress)
            .await
        {
            Ok(report) => {
                // The logical names the check resolved, not the names as typed (`Accounts`).
                let tables: Vec<String> = report
                    .tables
                    .iter()
                    .map(|table| table.logical_name.clone())
                    .collect();
                let source = match store.insert(&draft, &tables, report, self.timer.now()) {
                    Ok(source) => source,
                    // Another process took the name while the check ran.
                    Err(Error::NameTaken { name }) => {
                        return Ok(AddOutcome::Invalid(FormErrors {
                            errors: vec![form::FieldError {
                                field: form::Field::Name,
                                message: format!("A source named '{name}' already exists."),
                            }],
                            warnings: draft.warnings,
                        }));
                    }
                    Err(error) => return Err(error),
                };
                Ok(AddOutcome::Added {
                    source,
                    warnings: draft.warnings,
                })
            }
            Err(problem) => Ok(AddOutcome::Failed {
                problem,
                warnings: draft.warnings,
            }),
        }
    }

    /// Runs the check again for the saved source `name` (reading the tables it imports) and
    /// records the outcome.
    pub async fn test(&self, store: &Store, name: &str) -> Result<TestOutcome, Error> {
        self.test_with_progress(store, name, &NoProgress).await
    }

    /// [`Flow::test`], telling `progress` when each step of the check starts and ends.
    pub async fn test_with_progress(
        &self,
        store: &Store,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<TestOutcome, Error> {
        let source = store.get(name)?;
        // Validated again, not trusted from the file: the allow-list may have shrunk since the
        // source was saved, or the file may have been edited by hand.
        let form = stored_form(&source, store.secret(name)?);
        let draft = self
            .validate(&form, &[])
            .map_err(|errors| Error::InvalidStoredSource {
                name: source.name.clone(),
                errors: errors
                    .errors
                    .iter()
                    .map(|error| format!("{}: {}", error.field, error.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        match self.check_tables(&draft, &source.tables, progress).await {
            Ok(report) => Ok(TestOutcome::Passed(
                store.record_check(name, LastCheck::Passed(report))?,
            )),
            Err(problem) => {
                let check = LastCheck::Failed {
                    checked_at: self.timer.now(),
                    problem: problem.clone(),
                };
                Ok(TestOutcome::Failed {
                    source: store.record_check(name, check)?,
                    problem,
                })
            }
        }
    }

    /// Checks the saved source `name` with `secret` (reading the tables it imports) and, if that
    /// passes, replaces its secret.
    pub async fn rotate_secret(
        &self,
        store: &Store,
        name: &str,
        secret: SecretString,
    ) -> Result<RotateOutcome, Error> {
        self.rotate_secret_with_progress(store, name, secret, &NoProgress)
            .await
    }

    /// [`Flow::rotate_secret`], telling `progress` when each step of the check starts and
    /// ends.
    pub async fn rotate_secret_with_progress(
        &self,
        store: &Store,
        name: &str,
        secret: SecretString,
        progress: &dyn Progress,
    ) -> Result<RotateOutcome, Error> {
        let source = store.get(name)?;
        let form = stored_form(&source, secret);
        let draft = match self.validate(&form, &[]) {
            Ok(draft) => draft,
            Err(errors) => return Ok(RotateOutcome::Invalid(errors)),
        };
        match self.check_tables(&draft, &source.tables, progress).await {
            Ok(report) => Ok(RotateOutcome::Rotated {
                source: store.rotate_secret(name, &draft.client_secret, report)?,
                warnings: draft.warnings,
            }),
            Err(problem) => Ok(RotateOutcome::Failed {
                problem,
                warnings: draft.warnings,
            }),
        }
    }

    /// The connection check: token, WhoAmI, organization, readable tables, one read of each
    /// table to import. The first failure ends it.
    pub async fn check(&self, draft: &Draft) -> Result<CheckReport, Problem> {
        self.check_tables(draft, &self.options.tables, &NoProgress)
            .await
    }

    /// [`Flow::check`] reading `tables` instead of the options' tables, telling `progress`
    /// about its steps.
    async fn check_tables(
        &self,
        draft: &Draft,
        tables: &[String],
        progress: &dyn Progress,
    ) -> Result<CheckReport, Problem> {
        let budget = check::Budget {
            client: &self.client,
            timer: &self.timer,
            retry: self.options.retry,
            progress,
        };
        check::run(budget, draft, tables).await
    }
}

/// The form that would make `source` again, with `secret`: a saved source is validated by the
/// same rules as a new one.
fn stored_form(source: &StoredSource, secret: SecretString) -> SourceForm {
    SourceForm {
        name: source.name.clone(),
        environment_url: source.environment.to_string(),
        tenant_id: source.tenant.to_string(),
        client_id: source.client_id.to_string(),
        client_secret: secret,
    }
}
