//! Unbound and bound functions (reference/dataverse.md §6) and the service document:
//! `WhoAmI`, `RetrieveVersion`, `RetrieveCurrentOrganization`, `RetrieveUserPrivileges`,
//! `RetrievePrincipalAccess`. [`FUNCTIONS`] declares each once (name, binding, parameters,
//! return type, handler); routing, the supported list and `$metadata` are built from it.
//! Responses are complex types with `@odata.context` built from the request's own base URL.

use http::StatusCode;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::call::{Answer, Call};
use crate::config::Depth;
use crate::errors::ErrorCode;
use crate::odata;
use crate::response::{self, ApiError};
use crate::rows::{TableRows, read_reach, table_by_logical_name, table_by_set};
use crate::security::Principal;
use crate::standard_tables::PrivilegeKind;

/// One function the fake serves: everything routing, error messages and `$metadata` say
/// about it. Add a function by adding a row to [`FUNCTIONS`] (and its types to `csdl.rs`).
pub(crate) struct Function {
    /// `WhoAmI`: the name in the URL and in `$metadata`.
    pub(crate) name: &'static str,
    /// Parameters as `$metadata` declares them (a bound function's first is the entity).
    pub(crate) parameters: &'static [Parameter],
    /// `mscrm.WhoAmIResponse`: the declared return type.
    pub(crate) return_type: &'static str,
    /// How the supported list shows a call (`WhoAmI`, `systemusers({id})/…`).
    pub(crate) usage: &'static str,
    /// The handler, which also says what the function is bound to.
    pub(crate) handler: Handler,
}

/// A declared parameter: name and CSDL type.
pub(crate) struct Parameter {
    /// `AccessType`.
    pub(crate) name: &'static str,
    /// `mscrm.EndpointAccessType`.
    pub(crate) type_name: &'static str,
}

/// A function's handler; the variant is its binding.
#[derive(Clone, Copy)]
pub(crate) enum Handler {
    /// Unbound (`WhoAmI()`): gets the text between the parentheses.
    Unbound(fn(&Call<'_>, &str) -> Answer),
    /// Bound to `systemuser` (`systemusers({id})/Microsoft.Dynamics.CRM.…`): gets the user id.
    SystemUser(fn(&Call<'_>, Uuid) -> Answer),
}

impl Function {
    /// Whether the function is bound (to `systemuser`).
    pub(crate) fn is_bound(&self) -> bool {
        matches!(self.handler, Handler::SystemUser(_))
    }

    /// Runs the handler; `user` is the bound entity's id, `None` for an unbound call.
    pub(crate) fn invoke(&self, call: &Call<'_>, arguments: &str, user: Option<Uuid>) -> Answer {
        match (self.handler, user) {
            (Handler::Unbound(handler), None) => handler(call, arguments),
            (Handler::SystemUser(handler), Some(user)) => handler(call, user),
            // The router builds both from the same declaration, so this does not happen.
            _ => Err(ApiError::new(
                ErrorCode::Unexpected,
                format!("function `{}` called with the wrong binding", self.name),
            )),
        }
    }
}

impl std::fmt::Debug for Function {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name)
    }
}

impl PartialEq for Function {
    fn eq(&self, other: &Function) -> bool {
        self.name == other.name
    }
}

impl Eq for Function {}

/// The bound entity parameter of functions bound to `systemuser`.
const SYSTEMUSER: Parameter = Parameter {
    name: "entity",
    type_name: "mscrm.systemuser",
};

/// Every function the fake serves, in the order the supported list names them.
pub(crate) const FUNCTIONS: &[Function] = &[
    Function {
        name: "WhoAmI",
        parameters: &[],
        return_type: "mscrm.WhoAmIResponse",
        usage: "WhoAmI",
        handler: Handler::Unbound(|call, _| who_am_i(call)),
    },
    Function {
        name: "RetrieveVersion",
        parameters: &[],
        return_type: "mscrm.RetrieveVersionResponse",
        usage: "RetrieveVersion",
        handler: Handler::Unbound(|call, _| retrieve_version(call)),
    },
    Function {
        name: "RetrieveCurrentOrganization",
        parameters: &[Parameter {
            name: "AccessType",
            type_name: "mscrm.EndpointAccessType",
        }],
        return_type: "mscrm.RetrieveCurrentOrganizationResponse",
        usage: "RetrieveCurrentOrganization",
        handler: Handler::Unbound(retrieve_current_organization),
    },
    Function {
        name: "RetrieveUserPrivileges",
        parameters: &[SYSTEMUSER],
        return_type: "mscrm.RetrieveUserPrivilegesResponse",
        usage: "systemusers({id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges",
        handler: Handler::SystemUser(retrieve_user_privileges),
    },
    Function {
        name: "RetrievePrincipalAccess",
        parameters: &[
            SYSTEMUSER,
            Parameter {
                name: "Target",
                type_name: "mscrm.crmbaseentity",
            },
        ],
        return_type: "mscrm.RetrievePrincipalAccessResponse",
        usage: "systemusers({id})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)",
        handler: Handler::SystemUser(retrieve_principal_access),
    },
];

/// The function named `name` with the given binding.
pub(crate) fn find(name: &str, bound: bool) -> Option<&'static Function> {
    FUNCTIONS
        .iter()
        .find(|function| function.name == name && function.is_bound() == bound)
}

fn ok<T: Serialize>(call: &Call<'_>, body: &T) -> Answer {
    // Room for a small answer up front (WhoAmI's is ~250 bytes): growing from empty costs
    // several copies.
    let mut buffer = Vec::with_capacity(512);
    serde_json::to_writer(&mut buffer, body).map_err(|error| {
        ApiError::new(
            ErrorCode::Unexpected,
            format!("failed to serialize the response: {error}"),
        )
    })?;
    Ok(response::json(StatusCode::OK, buffer, call.exchange))
}

/// `GET /api/data/v9.2/`: one entry per table.
pub(crate) fn service_document(call: &Call<'_>) -> Answer {
    let value: Vec<_> = call
        .environment
        .tables
        .iter()
        .map(|table| {
            let set = &table.definition.entity_set_name;
            json!({"name": set, "kind": "EntitySet", "url": set})
        })
        .collect();
    ok(
        call,
        &json!({"@odata.context": format!("{}/$metadata", call.exchange.base), "value": value}),
    )
}

/// `WhoAmI`: the application user's `systemuserid`, business unit and organization. Needs no
/// table privilege; with zero roles it succeeds unless the switch says otherwise (UNCONFIRMED).
fn who_am_i(call: &Call<'_>) -> Answer {
    let switches = &call.state.config.switches;
    if !call.principal.has_roles() && !switches.whoami_without_roles {
        return Err(ApiError::configured(
            ErrorCode::PrivilegeDenied,
            switches.zero_roles_code.clone(),
            format!(
                "The user with id {} has not been assigned any roles. They need a role with the prvReadUser privilege.",
                call.principal.user.id
            ),
        ));
    }
    #[derive(Serialize)]
    struct WhoAmIResponse {
        #[serde(rename = "@odata.context")]
        context: String,
        #[serde(rename = "BusinessUnitId")]
        business_unit_id: Uuid,
        #[serde(rename = "UserId")]
        user_id: Uuid,
        #[serde(rename = "OrganizationId")]
        organization_id: Uuid,
    }
    ok(
        call,
        &WhoAmIResponse {
            context: [
                call.exchange.base.as_str(),
                "/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            ]
            .concat(),
            business_unit_id: call.principal.user.business_unit,
            user_id: call.principal.user.id,
            organization_id: call.environment.organization_id,
        },
    )
}

/// `RetrieveVersion()`.
fn retrieve_version(call: &Call<'_>) -> Answer {
    ok(
        call,
        &json!({
            "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse", call.exchange.base),
            "Version": call.environment.version,
        }),
    )
}

/// `RetrieveCurrentOrganization(AccessType=@p1)?@p1=Microsoft.Dynamics.CRM.EndpointAccessType'Default'`.
fn retrieve_current_organization(call: &Call<'_>, arguments: &str) -> Answer {
    let access_type = arguments
        .split(',')
        .find_map(|argument| argument.trim().strip_prefix("AccessType="))
        .map(|value| resolve_alias(value, call.query));
    let valid = access_type.as_deref().is_some_and(|value| {
        value.starts_with("Microsoft.Dynamics.CRM.EndpointAccessType'")
            && ["'Default'", "'Internet'", "'Intranet'"]
                .iter()
                .any(|suffix| value.ends_with(suffix))
    });
    if !valid {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "The parameter 'AccessType' of 'RetrieveCurrentOrganization' must be a Microsoft.Dynamics.CRM.EndpointAccessType value, e.g. AccessType=@p1 with @p1=Microsoft.Dynamics.CRM.EndpointAccessType'Default'.",
        ));
    }
    let environment = call.environment;
    let web = format!("https://{}/", environment.host);
    let api = format!("https://{}/", crate::api_host(&environment.host));
    ok(
        call,
        &json!({
            "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse", call.exchange.base),
            "Detail": {
                "OrganizationId": environment.organization_id,
                "FriendlyName": environment.friendly_name,
                "OrganizationVersion": environment.version,
                "EnvironmentId": environment.environment_id,
                "DatacenterId": Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("d365-harness:datacenter:{}", environment.geo).as_bytes()),
                "Geo": environment.geo,
                "TenantId": environment.tenant_id,
                "UrlName": environment.host.split('.').next().unwrap_or_default(),
                "UniqueName": environment.unique_name,
                "State": "Enabled",
                "Endpoints": {
                    "Count": 3,
                    "IsReadOnly": false,
                    "Keys": ["WebApplication", "OrganizationService", "OrganizationDataService"],
                    "Values": [
                        web,
                        format!("{api}XRMServices/2011/Organization.svc"),
                        format!("{api}XRMServices/2011/OrganizationData.svc"),
                    ],
                },
            },
        }),
    )
}

/// An `@p1` alias resolved from the query string (`?@p1=…`), or the value itself.
fn resolve_alias(value: &str, query: &str) -> String {
    if !value.starts_with('@') {
        return value.to_owned();
    }
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == value)
        .map(|(_, resolved)| resolved.into_owned())
        .unwrap_or_default()
}

/// `systemusers({id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges`: the privileges held
/// through the user's own roles, then those inherited from its teams' roles (at Basic depth).
/// Another user's privileges need `prvReadUser`.
fn retrieve_user_privileges(call: &Call<'_>, user_id: Uuid) -> Answer {
    let environment = call.environment;
    if user_id != call.principal.user.id {
        let systemuser = crate::rows::table_by_logical_name(environment, "systemuser");
        if let Some(table) = systemuser {
            call.principal.check(
                &table.definition,
                crate::security::Operation::Read,
                &call.state.config.switches,
            )?;
        }
    }
    let Some(user) = environment
        .application_users
        .iter()
        .find(|user| user.id == user_id)
    else {
        return Err(ApiError::new(
            ErrorCode::ObjectDoesNotExist,
            format!("Entity 'systemuser' With Id = {user_id} Does Not Exist"),
        ));
    };
    let target = Principal::new(user, environment);
    // Microsoft's reference for RetrieveUserPrivileges: privileges inherited through team
    // membership come back at Basic depth whatever the team role grants; direct ones at their
    // actual depth. Each role's privileges are listed, a privilege held twice comes twice
    // (UNCONFIRMED: whether Dataverse merges them), with the role's business unit.
    let held = target
        .direct_roles()
        .map(|role| (role, None))
        .chain(target.team_roles().map(|role| (role, Some(Depth::Basic))));
    let mut privileges = Vec::new();
    for (role, through_team) in held {
        for (name, depth) in &role.privileges {
            privileges.push(json!({
                "Depth": through_team.unwrap_or(*depth).as_str(),
                "PrivilegeId": crate::standard_tables::privilege_id(name),
                "BusinessUnitId": role.business_unit,
                "PrivilegeName": name,
            }));
        }
    }
    ok(
        call,
        &json!({
            "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse", call.exchange.base),
            "RolePrivileges": privileges,
        }),
    )
}

/// `systemusers({id})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)` with
/// `@p1={'@odata.id':'accounts(<id>)'}`: the access rights the user's roles give on the row.
fn retrieve_principal_access(call: &Call<'_>, user_id: Uuid) -> Answer {
    let environment = call.environment;
    if user_id != call.principal.user.id
        && let Some(systemuser) = table_by_logical_name(environment, "systemuser")
    {
        read_reach(call, &systemuser.definition)?;
    }
    let user = environment
        .application_users
        .iter()
        .find(|user| user.id == user_id)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ObjectDoesNotExist,
                format!("Entity 'systemuser' With Id = {user_id} Does Not Exist"),
            )
        })?;
    let target = odata::decode_query(call.query)
        .into_iter()
        .find(|(name, _)| name == "@p1")
        .map(|(_, value)| value)
        .unwrap_or_default();
    let reference = target
        .split("'@odata.id':'")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .map(|reference| reference.rsplit('/').next().unwrap_or(reference).to_owned());
    let parsed = reference.as_deref().and_then(|reference| {
        let (set, key) = reference.split_once('(')?;
        let id = Uuid::try_parse(key.strip_suffix(')')?).ok()?;
        Some((set.to_owned(), id))
    });
    let Some((set, row_id)) = parsed else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "RetrievePrincipalAccess needs Target=@p1 with @p1={'@odata.id':'<entityset>(<id>)'}.",
        ));
    };
    let table = table_by_set(call, &set)?;
    let spec = call.state.spec(environment);
    let table_rows = TableRows::new(environment, table, spec);
    let row = table_rows.find(&table.definition, row_id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ObjectDoesNotExist,
            format!(
                "Entity '{}' With Id = {row_id} Does Not Exist",
                table.definition.logical_name
            ),
        )
    })?;
    let principal = crate::security::Principal::new(user, environment);
    // The order these answers have always listed the flags in (snapshots hold it).
    let rights: Vec<&str> = [
        PrivilegeKind::Read,
        PrivilegeKind::Write,
        PrivilegeKind::Append,
        PrivilegeKind::AppendTo,
        PrivilegeKind::Create,
        PrivilegeKind::Delete,
        PrivilegeKind::Share,
        PrivilegeKind::Assign,
    ]
    .into_iter()
    .filter(|kind| {
        principal
            .depth(&kind.name_for(&table.definition))
            .is_some_and(|depth| principal.reach(depth).allows(&row))
    })
    .map(PrivilegeKind::access_right)
    .collect();
    let rights = if rights.is_empty() {
        "None".to_owned()
    } else {
        rights.join(", ")
    };
    let body = json!({
        "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrievePrincipalAccessResponse", call.exchange.base),
        "AccessRights": rights,
    });
    Ok(response::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
        call.exchange,
    ))
}
