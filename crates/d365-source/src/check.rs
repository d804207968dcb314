//! The connection check: [`run`] gets an app-only token and asks the environment who the app
//! is (WhoAmI), which organization it is, what the application user may read, and reads one row
//! of each table to import; the first failure ends it as one [`Problem`]. It saves nothing:
//! `flow.rs` decides what a passed or failed check means for the source list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::form::Draft;
use crate::http::{self, Answer, RetryPolicy, Scrubber, Session};
use crate::problem::{Evidence, Problem, Step, Subject};
use crate::report::{CheckReport, Organization, TableAccess};
use crate::timer::Timer;

/// What one check may use: the client, the timer, and how long it may wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget<'a> {
    pub client: &'a reqwest::Client,
    pub timer: &'a Arc<dyn Timer>,
    pub retry: RetryPolicy,
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
    let token = request_token(&mut session, draft, &subject).await?;
    session.scrubber.add(token.expose_secret());
    let authorization = bearer(&token).ok_or_else(|| {
        Problem::unexpected_response(
            draft.environment.cloud().authority_host(),
            Evidence::new(Step::Token, format!("POST {}", token_url(draft)))
                .detail("the access token holds characters an HTTP header cannot carry"),
        )
    })?;
    let mut api = Api {
        session,
        authorization,
        base: draft.environment.api_base(),
        subject,
    };
    let who = api.who_am_i().await?;
    let organization = api.organization().await?;
    let (readable_tables, definitions) = api.readable_tables(who.user_id).await?;
    let tables = api.read_tables(tables, &definitions).await?;
    Ok(CheckReport {
        checked_at: budget.timer.now(),
        user_id: who.user_id,
        business_unit_id: who.business_unit_id,
        organization,
        tables,
        readable_tables,
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
}

struct WhoAmI {
    user_id: Uuid,
    business_unit_id: Uuid,
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

    /// The tables the application user can read (sorted logical names), and every table's
    /// definition by logical name.
    async fn readable_tables(
        &mut self,
        user_id: Uuid,
    ) -> Result<(Vec<String>, BTreeMap<String, EntityDefinition>), Problem> {
        let path =
            format!("systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()");
        let body = self.get(Step::Privileges, &path, None).await?;
        let Some(privileges) = body
            .get("RolePrivileges")
            .and_then(|value| value.as_array())
        else {
            return Err(self.shape_problem(Step::Privileges, &path, &body));
        };
        let read: BTreeSet<String> = privileges
            .iter()
            .filter_map(|privilege| privilege.get("PrivilegeName")?.as_str())
            .filter_map(|name| name.strip_prefix("prvRead"))
            .map(str::to_ascii_lowercase)
            .collect();
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
        let by_name = definitions
            .into_iter()
            .map(|definition| (definition.logical_name.clone(), definition))
            .collect();
        Ok((readable, by_name))
    }

    /// Reads one row of each table to import; every table the user cannot read is named in one
    /// problem.
    async fn read_tables(
        &mut self,
        tables: &[String],
        definitions: &BTreeMap<String, EntityDefinition>,
    ) -> Result<Vec<TableAccess>, Problem> {
        let mut accessible = Vec::new();
        let mut denied: Vec<(String, Problem)> = Vec::new();
        for table in tables {
            let logical_name = table.trim().to_ascii_lowercase();
            let definition = definitions.get(&logical_name).filter(|definition| {
                definition.entity_set_name.is_some() && definition.primary_id_attribute.is_some()
            });
            let Some(definition) = definition else {
                let evidence =
                    Evidence::new(Step::TableRead, format!("GET {}{DEFINITIONS}", self.base))
                        .status(200)
                        .detail(format!(
                            "EntityDefinitions lists no table named '{logical_name}'"
                        ));
                return Err(Problem::table_not_found(
                    &self.subject,
                    evidence,
                    &logical_name,
                ));
            };
            let (Some(entity_set), Some(primary_id)) = (
                &definition.entity_set_name,
                &definition.primary_id_attribute,
            ) else {
                continue;
            };
            let path = format!("{entity_set}?$select={primary_id}&$top=1");
            match self.get(Step::TableRead, &path, Some(&logical_name)).await {
                Ok(_) => accessible.push(TableAccess {
                    logical_name: logical_name.clone(),
                    entity_set: entity_set.clone(),
                }),
                Err(problem) if problem.kind == crate::ProblemKind::MissingTablePrivilege => {
                    denied.push((logical_name.clone(), problem));
                }
                Err(problem) => return Err(problem),
            }
        }
        let Some((_, first)) = denied.first() else {
            return Ok(accessible);
        };
        let names: Vec<String> = denied.iter().map(|(name, _)| name.clone()).collect();
        Err(Problem::missing_table_privilege(
            &self.subject,
            first.evidence.clone(),
            &names,
        ))
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
