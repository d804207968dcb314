//! The router: which paths are which resources, function calls by binding, the supported
//! list, and the accepted API versions.

use super::*;

fn unbound(name: &str, arguments: &str) -> Option<Resource> {
    Some(Resource::Function {
        function: functions::find(name, false).expect("declared"),
        arguments: arguments.into(),
        user: None,
    })
}

fn bound(name: &str, user: Uuid) -> Option<Resource> {
    Some(Resource::Function {
        function: functions::find(name, true).expect("declared"),
        arguments: String::new(),
        user: Some(user),
    })
}

#[track_caller]
fn check(rest: &str, expected: Option<Resource>) {
    assert_eq!(resource(rest), expected, "{rest}");
}

#[test]
fn resources() {
    let user: Uuid = "2138bd90-ec19-ea11-a811-000d3a334e11"
        .parse()
        .expect("guid");
    check("", Some(Resource::ServiceDocument));
    check("$metadata", Some(Resource::Metadata));
    check("WhoAmI", unbound("WhoAmI", ""));
    check("WhoAmI()", unbound("WhoAmI", ""));
    check("RetrieveVersion()", unbound("RetrieveVersion", ""));
    check(
        "RetrieveCurrentOrganization(AccessType=@p1)",
        unbound("RetrieveCurrentOrganization", "AccessType=@p1"),
    );
    check(
        "EntityDefinitions",
        Some(Resource::EntityDefinitions {
            key: None,
            attributes: false,
        }),
    );
    check(
        "EntityDefinitions(LogicalName='account')/Attributes",
        Some(Resource::EntityDefinitions {
            key: Some("LogicalName='account'".into()),
            attributes: true,
        }),
    );
    check(
        "accounts",
        Some(Resource::EntitySet {
            set: "accounts".into(),
        }),
    );
    check(
        "accounts/$count",
        Some(Resource::Count {
            set: "accounts".into(),
        }),
    );
    check(
        &format!("accounts({user})"),
        Some(Resource::Row {
            set: "accounts".into(),
            id: user,
        }),
    );
    check(
        &format!("systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"),
        bound("RetrieveUserPrivileges", user),
    );
    check(
        &format!("systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges"),
        bound("RetrieveUserPrivileges", user),
    );
    check(
        &format!("systemusers({user})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)"),
        bound("RetrievePrincipalAccess", user),
    );
    check("accounts(not-a-guid)", None);
    check("accounts/x/y", None);
}

#[test]
fn functions_route_only_with_their_binding_and_parentheses() {
    let user = Uuid::nil();
    // A function with parameters needs its parentheses; without, the name is a set name.
    check(
        "RetrieveCurrentOrganization",
        Some(Resource::EntitySet {
            set: "RetrieveCurrentOrganization".into(),
        }),
    );
    check("WhoAmI(x)", None);
    check(
        &format!("systemusers({user})/Microsoft.Dynamics.CRM.WhoAmI()"),
        None,
    );
    check("RetrieveUserPrivileges()", None);
}

#[test]
fn the_supported_list_is_built_from_the_declarations_as_it_was_written_by_hand() {
    assert_eq!(
        supported(),
        "GET /api/data/v9.0|v9.1|v9.2/ (service document), $metadata, WhoAmI, RetrieveVersion, RetrieveCurrentOrganization, EntityDefinitions[(LogicalName='…')][/Attributes], {entityset}[?$select,$filter,$orderby,$top,$count,$expand], {entityset}({id}), {entityset}/$count, systemusers({id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges, systemusers({id})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)"
    );
}

#[test]
fn api_paths() {
    assert_eq!(api_path("/api/data/v9.2/WhoAmI"), Some(("v9.2", "WhoAmI")));
    assert_eq!(api_path("//api/data/v9.0/"), Some(("v9.0", "")));
    assert_eq!(api_path("/api/data/v9.1"), Some(("v9.1", "")));
    assert_eq!(api_path("/api/data/v8.2/WhoAmI"), None);
    assert_eq!(api_path("/main.aspx"), None);
}
