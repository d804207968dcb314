//! The connection check: [`run`] gets an app-only token and asks the environment who the app
//! is (WhoAmI), which organization it is, what the application user may read and at what depth,
//! resolves each table to import (logical, schema or entity set name, any case) and reads one
//! row of it; a partial Read depth fails the check when no row comes back and warns when rows do.
//! The first failure ends it as one [`Problem`]; it saves nothing (`flow.rs` does). Each step's
//! start and end go to the [`Progress`] observer ([`Steps`]), timed on the injected timer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::form::Draft;
use crate::http::{self, Answer, RetryPolicy, Scrubber, Session};
use crate::problem::{self, Evidence, PartialReach, Problem, Step, Subject};
use crate::progress::{CheckEvent, CheckEventKind, Progress};
use crate::report::{CheckReport, CheckWarning, Organization, ReadDepth, TableAccess};
use crate::timer::Timer;

/// What one check may use: the client, the timer, how long it may wait, and whom it tells
/// about its steps.
#[derive(Clone, Copy)]
pub(crate) struct Budget<'a> {
    pub client: &'a reqwest::Client,
    pub timer: &'a Arc<dyn Timer>,
    pub retry: RetryPolicy,
    pub progress: &'a dyn Progress,
}

/// Tells the observer when each step starts and ends, timed on the check's timer.
#[derive(Clone, Copy)]
struct Steps<'a> {
    progress: &'a dyn Progress,
    timer: &'a dyn Timer,
}

impl std::fmt::Debug for Steps<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steps").finish_non_exhaustive()
    }
}

/// A step that started: what it is and when.
struct Started {
    step: Step,
    label: String,
    at: time::OffsetDateTime,
}

impl Steps<'_> {
    fn start(&self, step: Step, label: String) -> Started {
        self.progress.event(CheckEvent {
            step,
            label: label.clone(),
            kind: CheckEventKind::Started,
        });
        Started {
            step,
            label,
            at: self.timer.now(),
        }
    }

    fn end(&self, started: Started, passed: bool) {
        // A clock moved backwards (a test's, or the system's) gives zero, not a panic.
        let elapsed =
            std::time::Duration::try_from(self.timer.now() - started.at).unwrap_or_default();
        let kind = if passed {
            CheckEventKind::Passed { elapsed }
        } else {
            CheckEventKind::Failed { elapsed }
        };
        self.progress.event(CheckEvent {
            step: started.step,
            label: started.label,
            kind,
        });
    }

    /// Runs `work` as the step `step`, reporting its start and end.
    async fn run<T>(
        &self,
        step: Step,
        label: &str,
        work: impl std::future::Future<Output = Result<T, Problem>>,
    ) -> Result<T, Problem> {
        let started = self.start(step, label.to_owned());
        let result = work.await;
        self.end(started, result.is_ok());
        result
    }
}

/// The connection check: token, WhoAmI, organization, readable tables, one read of each of
/// `tables`. The first failure ends it.
pub(crate) async fn run(
    budget: Budget<'_>,
    draft: &Draft,
    tables: &[String],
) -> Result<CheckReport, Problem> {
    let secret = draft.client_secret.expose_secret();
    let mut scrubber = Scrubber::default();
    scrubber.add(secret);
    let tenant = draft.tenant.to_string();
    let client_id = draft.client_id.to_string();
    let subject = Subject {
        tenant: &tenant,
        client_id: &client_id,
        environment: draft.environment.as_str(),
        secret_looks_like_id: Uuid::parse_str(secret.trim()).is_ok(),
    };
    let mut session = Session {
        client: budget.client.clone(),
        timer: Arc::clone(budget.timer),
        retry: budget.retry,
        jitter: http::JitterSource::new(budget.retry.jitter),
        scrubber,
        wait_left: budget.retry.max_wait,
        environment_host: draft.environment.host().to_owned(),
    };
    let steps = Steps {
        progress: budget.progress,
        timer: budget.timer.as_ref(),
    };
    let authorization = steps
        .run(Step::Token, "Token", async {
            let token = request_token(&mut session, draft, &subject).await?;
            session.scrubber.add(token.expose_secret());
            bearer(&token).ok_or_else(|| {
                Problem::unexpected_response(
                    draft.environment.cloud().authority_host(),
                    Evidence::new(Step::Token, format!("POST {}", token_url(draft)))
                        .detail("the access token holds characters an HTTP header cannot carry"),
                )
            })
        })
        .await?;
    let mut api = Api {
        session,
        authorization,
        base: draft.environment.api_base(),
        subject,
        steps,
    };
    let who = steps.run(Step::WhoAmI, "WhoAmI", api.who_am_i()).await?;
    let organization = steps
        .run(Step::Organization, "Organization", api.organization())
        .await?;
    let privileges = steps
        .run(
            Step::Privileges,
            "Privileges",
            api.readable_tables(who.user_id),
        )
        .await?;
    let (tables, warnings) = api.read_tables(tables, &privileges, &who).await?;
    Ok(CheckReport {
        checked_at: budget.timer.now(),
        user_id: who.user_id,
        business_unit_id: who.business_unit_id,
        organization,
        tables,
        readable_tables: privileges.readable,
        warnings,
    })
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
}

/// `https://{authority}/{tenant}/oauth2/v2.0/token`, the authority from the environment's cloud.
fn token_url(draft: &Draft) -> String {
    format!(
        "https://{}/{}/oauth2/v2.0/token",
        draft.environment.cloud().authority_host(),
        draft.tenant
    )
}

/// Client credentials against `{authority}/{tenant}/oauth2/v2.0/token`.
async fn request_token(
    session: &mut Session,
    draft: &Draft,
    subject: &Subject<'_>,
) -> Result<SecretString, Problem> {
    let url = token_url(draft);
    let scope = draft.environment.scope();
    let client_id = draft.client_id.to_string();
    let answer = session
        .send(Step::Token, "POST", &url, |client| {
            client.post(&url).header(ACCEPT, "application/json").form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", draft.client_secret.expose_secret()),
                ("scope", scope.as_str()),
            ])
        })
        .await?;
    let evidence = Evidence::new(Step::Token, format!("POST {url}")).status(answer.status);
    if answer.status == 200 {
        return match serde_json::from_str::<TokenAnswer>(&answer.body) {
            Ok(token) if !token.access_token.is_empty() => {
                Ok(SecretString::from(token.access_token))
            }
            _ => Err(Problem::unexpected_response(
                draft.environment.cloud().authority_host(),
                evidence.detail(session.scrubber.scrub(&answer.body)),
            )),
        };
    }
    let Some((code, message)) = http::error_code(&answer) else {
        return Err(Problem::unexpected_response(
            draft.environment.cloud().authority_host(),
            evidence.detail(session.scrubber.scrub(&answer.body)),
        ));
    };
    let evidence = evidence
        .code(code.as_str())
        .detail(session.scrubber.scrub(&message));
    Err(
        Problem::from_entra_code(&code, subject, evidence).unwrap_or_else(|evidence| {
            Problem::unexpected_response(draft.environment.cloud().authority_host(), evidence)
        }),
    )
}

/// The Web API with a token.
#[derive(Debug)]
struct Api<'a> {
    session: Session,
    /// `Bearer {token}`, marked sensitive so that no `Debug` output shows it.
    authorization: HeaderValue,
    base: String,
    subject: Subject<'a>,
    steps: Steps<'a>,
}

struct WhoAmI {
    user_id: Uuid,
    business_unit_id: Uuid,
}

/// What `RetrieveUserPrivileges` and `EntityDefinitions` together say.
struct Privileges {
    /// Logical names of the tables the application user can read, sorted.
    readable: Vec<String>,
    /// Every table's definition by logical name.
    definitions: BTreeMap<String, EntityDefinition>,
    /// The deepest Read depth per read privilege name (`account`, lower case, as
    /// [`EntityDefinition::read_privilege_name`] gives it), over all roles, with the
    /// privilege's name as Dataverse spells it (`prvReadAccount`).
    read_depths: BTreeMap<String, (String, ReadDepth)>,
}

/// A table's names as `EntityDefinitions` gives them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EntityDefinition {
    logical_name: String,
    schema_name: String,
    entity_set_name: Option<String>,
    primary_id_attribute: Option<String>,
    #[serde(default)]
    is_activity: Option<bool>,
}

impl EntityDefinition {
    /// The lower-cased name in the table's read privilege (`prvRead{name}`): the schema name,
    /// except for the tables whose privilege is named otherwise (`prvReadUser` for systemuser,
    /// `prvReadNote` for annotation, `prvReadActivity` for every activity table).
    fn read_privilege_name(&self) -> String {
        match self.logical_name.as_str() {
            "systemuser" => "user".to_owned(),
            "annotation" => "note".to_owned(),
            _ if self.is_activity == Some(true) => "activity".to_owned(),
            _ => self.schema_name.to_ascii_lowercase(),
        }
    }
}

impl Api<'_> {
    /// `GET {base}{path}`; non-2xx answers become problems.
    async fn get(
        &mut self,
        step: Step,
        path: &str,
        table: Option<&str>,
    ) -> Result<serde_json::Value, Problem> {
        let url = format!("{}{}", self.base, path);
        let authorization = &self.authorization;
        let answer = self
            .session
            .send(step, "GET", &url, |client| {
                client
                    .get(&url)
                    .header(AUTHORIZATION, authorization.clone())
                    .header(ACCEPT, "application/json")
                    .header("OData-MaxVersion", "4.0")
                    .header("OData-Version", "4.0")
            })
            .await?;
        let evidence = Evidence::new(step, format!("GET {url}")).status(answer.status);
        if (200..300).contains(&answer.status) {
            return answer.json().ok_or_else(|| {
                Problem::unexpected_response(
                    self.session.environment_host.as_str(),
                    evidence.detail(self.session.scrubber.scrub(&answer.body)),
                )
            });
        }
        Err(self.dataverse_problem(evidence, &answer, table))
    }

    fn dataverse_problem(
        &self,
        evidence: Evidence,
        answer: &Answer,
        table: Option<&str>,
    ) -> Problem {
        let host = self.session.environment_host.as_str();
        let subject = &self.subject;
        if answer.status == 401 {
            let challenge = answer
                .headers
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            let detail = match http::error_code(answer) {
                Some((_, message)) if !message.is_empty() => message,
                _ if !challenge.is_empty() => challenge.to_owned(),
                _ => answer.body.clone(),
            };
            let trusted_tenant = challenge_tenant(challenge);
            return Problem::token_rejected(
                subject,
                evidence.detail(self.session.scrubber.scrub(&detail)),
                trusted_tenant.as_deref(),
            );
        }
        let Some((code, message)) = http::error_code(answer) else {
            let location = answer
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .map(|location| format!("redirected to {location}; "))
                .unwrap_or_default();
            let detail = format!("{location}{}", answer.body);
            return Problem::unexpected_response(
                host,
                evidence.detail(self.session.scrubber.scrub(&detail)),
            );
        };
        let evidence = evidence
            .code(code.as_str())
            .detail(self.session.scrubber.scrub(&message));
        Problem::from_dataverse_code(&code, &message, subject, evidence, table)
            .unwrap_or_else(|evidence| Problem::unexpected_response(host, evidence))
    }

    async fn who_am_i(&mut self) -> Result<WhoAmI, Problem> {
        let body = self.get(Step::WhoAmI, "WhoAmI", None).await?;
        let user_id = uuid_field(&body, "UserId");
        let business_unit_id = uuid_field(&body, "BusinessUnitId");
        match (user_id, business_unit_id) {
            (Some(user_id), Some(business_unit_id)) => Ok(WhoAmI {
                user_id,
                business_unit_id,
            }),
            _ => Err(self.shape_problem(Step::WhoAmI, "WhoAmI", &body)),
        }
    }

    async fn organization(&mut self) -> Result<Organization, Problem> {
        const PATH: &str = "RetrieveCurrentOrganization(AccessType=@p1)?@p1=Microsoft.Dynamics.CRM.EndpointAccessType'Default'";
        let body = self.get(Step::Organization, PATH, None).await?;
        let detail = body.get("Detail").cloned().unwrap_or_default();
        let text = |name: &str| {
            detail
                .get(name)
                .and_then(|value| value.as_str())
                .map(str::to_owned)
        };
        match (
            uuid_field(&detail, "OrganizationId"),
            text("FriendlyName"),
            text("UniqueName"),
            text("OrganizationVersion"),
        ) {
            (Some(id), Some(name), Some(unique_name), Some(version)) => Ok(Organization {
                id,
                name,
                unique_name,
                version,
            }),
            _ => Err(self.shape_problem(Step::Organization, PATH, &body)),
        }
    }

    /// The tables the application user can read, every table's definition, and the Read
    /// depths.
    async fn readable_tables(&mut self, user_id: Uuid) -> Result<Privileges, Problem> {
        let path =
            format!("systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()");
        let body = self.get(Step::Privileges, &path, None).await?;
        let Some(privileges) = body
            .get("RolePrivileges")
            .and_then(|value| value.as_array())
        else {
            return Err(self.shape_problem(Step::Privileges, &path, &body));
        };
        let (read, read_depths) = read_privileges(privileges);
        let body = self.get(Step::Privileges, DEFINITIONS, None).await?;
        let definitions: Vec<EntityDefinition> =
            match body.get("value").cloned().map(serde_json::from_value) {
                Some(Ok(definitions)) => definitions,
                _ => return Err(self.shape_problem(Step::Privileges, DEFINITIONS, &body)),
            };
        let readable = definitions
            .iter()
            .filter(|definition| read.contains(&definition.read_privilege_name()))
            .map(|definition| definition.logical_name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let definitions = definitions
            .into_iter()
            .filter(|definition| {
                definition.entity_set_name.is_some() && definition.primary_id_attribute.is_some()
            })
            .map(|definition| (definition.logical_name.to_ascii_lowercase(), definition))
            .collect();
        Ok(Privileges {
            readable,
            definitions,
            read_depths,
        })
    }

    /// Reads one row of each table to import (a logical, schema or entity set name, in any
    /// case); every table the user cannot read is named in one problem. A table read at a
    /// partial depth fails the check if no row came back, and is warned about if rows did.
    async fn read_tables(
        &mut self,
        tables: &[String],
        privileges: &Privileges,
        who: &WhoAmI,
    ) -> Result<(Vec<TableAccess>, Vec<CheckWarning>), Problem> {
        let mut accessible: Vec<TableAccess> = Vec::new();
        let mut warnings = Vec::new();
        let mut denied: Vec<(String, Problem)> = Vec::new();
        let mut empty: Option<(String, PartialReach, Evidence)> = None;
        // Whether the application user sits in the root business unit, asked once, only when
        // a table's depth is Parent: Child (`None` inside: it could not be told).
        let mut in_root: Option<Option<bool>> = None;
        for typed in tables {
            let definition = match resolve(&privileges.definitions, typed) {
                Ok(definition) => definition,
                Err(suggestions) => {
                    let name = typed.trim();
                    let started = self.steps.start(Step::TableRead, format!("Read {name}"));
                    self.steps.end(started, false);
                    let evidence =
                        Evidence::new(Step::TableRead, format!("GET {}{DEFINITIONS}", self.base))
                            .status(200)
                            .detail(format!(
                                "EntityDefinitions lists no table whose logical, schema or entity set name is '{name}'"
                            ));
                    return Err(Problem::table_not_found(
                        &self.subject,
                        evidence,
                        name,
                        &suggestions,
                    ));
                }
            };
            let logical_name = definition.logical_name.to_ascii_lowercase();
            if accessible
                .iter()
                .any(|table| table.logical_name == logical_name)
            {
                continue;
            }
            let (Some(entity_set), Some(primary_id)) = (
                &definition.entity_set_name,
                &definition.primary_id_attribute,
            ) else {
                continue;
            };
            let grant = privileges
                .read_depths
                .get(&definition.read_privilege_name());
            let read_depth = grant.map(|(_, depth)| *depth);
            let path = format!("{entity_set}?$select={primary_id}&$top=1");
            let started = self
                .steps
                .start(Step::TableRead, format!("Read {logical_name}"));
            match self.get(Step::TableRead, &path, Some(&logical_name)).await {
                Ok(body) => {
                    let reach = match read_depth {
                        Some(ReadDepth::Basic) => Some(PartialReach::OwnedRows),
                        Some(ReadDepth::Local) => Some(PartialReach::OneUnit),
                        Some(ReadDepth::Deep) => {
                            let known = match in_root {
                                Some(known) => known,
                                None => match self.in_root_unit(who.business_unit_id).await {
                                    Ok(known) => {
                                        in_root = Some(known);
                                        known
                                    }
                                    Err(problem) => {
                                        self.steps.end(started, false);
                                        return Err(problem);
                                    }
                                },
                            };
                            match known {
                                Some(true) => None,
                                Some(false) => Some(PartialReach::UnitSubtree),
                                None => Some(PartialReach::UnitSubtreeRootUnknown),
                            }
                        }
                        Some(ReadDepth::Global) | None => None,
                    };
                    let has_row = body
                        .get("value")
                        .and_then(|rows| rows.as_array())
                        .is_some_and(|rows| !rows.is_empty());
                    // An empty read at a partial depth is what the check fails on.
                    self.steps.end(started, reach.is_none() || has_row);
                    match (reach, has_row) {
                        (Some(reach), false) => {
                            // The first such table is the one the problem names.
                            empty.get_or_insert_with(|| {
                                let evidence = Evidence::new(
                                    Step::TableRead,
                                    format!("GET {}{path}", self.base),
                                )
                                .status(200)
                                .detail(format!(
                                    "the read returned no row; RetrieveUserPrivileges gives {} at depth {}",
                                    grant.map_or("the read privilege", |(name, _)| name.as_str()),
                                    reach.depth().as_str()
                                ));
                                (logical_name.clone(), reach, evidence)
                            });
                        }
                        (Some(reach), true) => {
                            warnings
                                .push(problem::partial_read_depth_warning(&logical_name, reach));
                        }
                        (None, _) => {}
                    }
                    let requested = typed.trim();
                    accessible.push(TableAccess {
                        logical_name: logical_name.clone(),
                        entity_set: entity_set.clone(),
                        requested: (requested != logical_name).then(|| requested.to_owned()),
                        read_depth,
                    });
                }
                Err(problem) if problem.kind == crate::ProblemKind::MissingTablePrivilege => {
                    self.steps.end(started, false);
                    denied.push((logical_name.clone(), problem));
                }
                Err(problem) => {
                    self.steps.end(started, false);
                    return Err(problem);
                }
            }
        }
        if let Some((_, first)) = denied.first() {
            let names: Vec<String> = denied.iter().map(|(name, _)| name.clone()).collect();
            return Err(Problem::missing_table_privilege(
                &self.subject,
                first.evidence.clone(),
                &names,
            ));
        }
        if let Some((table, reach, evidence)) = empty {
            return Err(Problem::rows_not_visible(
                &self.subject,
                evidence,
                &table,
                reach,
            ));
        }
        Ok((accessible, warnings))
    }

    /// Whether `business_unit` is the root business unit (the one without a parent), or
    /// `None` when the application user cannot tell: it may not read business units, or sees
    /// none without a parent. Failures other than a missing privilege end the check.
    async fn in_root_unit(&mut self, business_unit: Uuid) -> Result<Option<bool>, Problem> {
        match self
            .get(Step::TableRead, ROOT_UNIT, Some("businessunit"))
            .await
        {
            Ok(body) => {
                let root = body
                    .get("value")
                    .and_then(|rows| rows.as_array())
                    .and_then(|rows| rows.first())
                    .and_then(|row| uuid_field(row, "businessunitid"));
                Ok(root.map(|root| root == business_unit))
            }
            Err(problem)
                if matches!(
                    problem.kind,
                    crate::ProblemKind::MissingTablePrivilege | crate::ProblemKind::NoSecurityRole
                ) =>
            {
                Ok(None)
            }
            Err(problem) => Err(problem),
        }
    }

    fn shape_problem(&self, step: Step, path: &str, body: &serde_json::Value) -> Problem {
        Problem::unexpected_response(
            self.session.environment_host.as_str(),
            Evidence::new(step, format!("GET {}{}", self.base, path))
                .status(200)
                .detail(self.session.scrubber.scrub(&body.to_string())),
        )
    }
}

/// The `Authorization` header for `token`, marked sensitive; `None` if the token holds
/// characters a header cannot carry.
fn bearer(token: &SecretString) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Every table's names (one request for all: the readable-tables list needs them anyway).
const DEFINITIONS: &str =
    "EntityDefinitions?$select=LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,IsActivity";

/// The read privileges in `RolePrivileges`: every name after `prvRead`, lower-cased, and the
/// deepest depth each is held at over all roles (as Dataverse combines roles), with the
/// privilege's name as Dataverse spells it. A depth the flow does not know is left out: it
/// says nothing about partial reads. UNCONFIRMED: whether `RetrieveUserPrivileges` counts the
/// roles a user holds through its teams; if it does not, a role given through a team at a
/// deeper depth is missed here, and the check warns (or fails on an empty read) needlessly.
fn read_privileges(
    privileges: &[serde_json::Value],
) -> (BTreeSet<String>, BTreeMap<String, (String, ReadDepth)>) {
    let mut read = BTreeSet::new();
    let mut read_depths: BTreeMap<String, (String, ReadDepth)> = BTreeMap::new();
    for privilege in privileges {
        let Some(full_name) = privilege
            .get("PrivilegeName")
            .and_then(|name| name.as_str())
        else {
            continue;
        };
        let Some(name) = full_name.strip_prefix("prvRead") else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if let Some(depth) = privilege
            .get("Depth")
            .and_then(|depth| depth.as_str())
            .and_then(ReadDepth::parse)
        {
            let deepest = read_depths
                .entry(name.clone())
                .or_insert_with(|| (full_name.to_owned(), depth));
            deepest.1 = deepest.1.max(depth);
        }
        read.insert(name);
    }
    (read, read_depths)
}

/// The root business unit: the one without a parent.
const ROOT_UNIT: &str =
    "businessunits?$select=businessunitid&$filter=_parentbusinessunitid_value%20eq%20null";

/// The definition `typed` names: its logical name, schema name or entity set name, in any case
/// (logical names first, then schema names, then entity set names, should two tables share a
/// spelling). A name that matches none gets the nearest names instead.
fn resolve<'a>(
    definitions: &'a BTreeMap<String, EntityDefinition>,
    typed: &str,
) -> Result<&'a EntityDefinition, Vec<String>> {
    let wanted = typed.trim().to_ascii_lowercase();
    if let Some(definition) = definitions.get(&wanted) {
        return Ok(definition);
    }
    let by = |name: fn(&EntityDefinition) -> Option<&str>| {
        definitions.values().find(|definition| {
            name(definition).is_some_and(|name| name.eq_ignore_ascii_case(&wanted))
        })
    };
    by(|definition| Some(definition.schema_name.as_str()))
        .or_else(|| by(|definition| definition.entity_set_name.as_deref()))
        .ok_or_else(|| nearest_names(definitions, &wanted))
}

/// At most [`SUGGESTIONS`] logical names whose logical or entity set name is within a few edits
/// of `wanted` (2 for names up to 6 characters, 3 above), nearest first, then by name.
fn nearest_names(definitions: &BTreeMap<String, EntityDefinition>, wanted: &str) -> Vec<String> {
    let limit = if wanted.chars().count() <= 6 { 2 } else { 3 };
    let mut near: Vec<(usize, &str)> = definitions
        .values()
        .filter_map(|definition| {
            let names = std::iter::once(definition.logical_name.as_str())
                .chain(definition.entity_set_name.as_deref());
            let distance = names
                .map(|name| edit_distance(wanted, &name.to_ascii_lowercase()))
                .min()?;
            (distance <= limit).then_some((distance, definition.logical_name.as_str()))
        })
        .collect();
    near.sort();
    near.into_iter()
        .take(SUGGESTIONS)
        .map(|(_, name)| name.to_owned())
        .collect()
}

/// How many names a `table_not_found` suggests at most.
const SUGGESTIONS: usize = 3;

/// The Levenshtein distance between `a` and `b`, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, left) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, right) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(left != *right);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// The tenant of `authorization_uri=https://login.microsoftonline.com/{tenant}/oauth2/authorize`
/// in a Dataverse 401 challenge.
fn challenge_tenant(challenge: &str) -> Option<String> {
    let uri = challenge
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("authorization_uri="))?
        .trim_matches('"');
    let tenant = url::Url::parse(uri)
        .ok()?
        .path_segments()?
        .next()?
        .to_owned();
    (!tenant.is_empty() && tenant != "common").then_some(tenant)
}

fn uuid_field(body: &serde_json::Value, name: &str) -> Option<Uuid> {
    body.get(name)?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests;
